// tsgrad on gpu.js (WebGL through headless-gl; under Xvfb that is Mesa's llvmpipe, a CPU
// rasterizer) next to tsgrad's CPU and WebGPU backends, in one run. Every timed run reads a
// scalar back, so the GPU work is finished inside the measurement.
// Run: Xvfb :99 -screen 0 1024x768x24 & DISPLAY=:99 npm run bench -- gpujs
//
// headless-gl's GLX context and Dawn's EGL context cannot both be current in one process on
// Mesa, so the webgpu rows are measured by a child process of this run (same script, same tasks).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Tensor, getBackendInfo, initBackend, noGrad, randn, scope } from '../src/index.js';
import { type BenchRow, type BenchTask, measure, save } from './harness.js';

const childOut = process.env.TSGRAD_BENCH_WEBGPU_OUT;
const notes: string[] = [];
const backends = childOut ? ['webgpu'] : ['gpujs', 'cpu'];
for (const b of backends) await initBackend(b);
if (!childOut) {
  const info = getBackendInfo('gpujs');
  notes.push(`gpujs: ${info.kernelType} on ${info.renderer}${process.env.DISPLAY ? `, DISPLAY=${process.env.DISPLAY}` : ''}`);
}

/** Reads one element, so the producing kernels must have run. */
async function touch(t: Tensor): Promise<number> {
  return scope(async () => (await t.reshape([-1]).slice([[0, 1]]).data())[0]!);
}

const tasks: BenchTask[] = [];
for (const n of [128, 256, 512, 1024]) {
  for (const backend of backends) {
    let a: Tensor, b: Tensor;
    tasks.push({
      case: `matmul ${n}`, impl: `tsgrad/${backend}`, flops: 2 * n ** 3,
      setup: () => {
        a = randn([n, n], { backend });
        b = randn([n, n], { backend });
      },
      run: async () => {
        const c = a.matmul(b);
        await touch(c);
        c.dispose();
      },
      teardown: () => {
        a.dispose();
        b.dispose();
      },
    });
  }
}

// One LoRA step: frozen W0 [768,768], trainable A [4,768] and B [768,4], batch 64, MSE, SGD.
for (const backend of backends) {
  const [batch, d, r, scale, lr] = [64, 768, 4, 2, 0.01];
  let W0: Tensor, A: Tensor, B: Tensor, x: Tensor, target: Tensor;
  tasks.push({
    case: 'LoRA step 768 r4 b64', impl: `tsgrad/${backend}`,
    setup: () => {
      W0 = randn([d, d], { backend }).mul(0.03);
      A = randn([r, d], { backend }).mul(0.03).requiresGrad_();
      B = randn([d, r], { backend }).mul(0.03).requiresGrad_();
      x = randn([batch, d], { backend });
      target = randn([batch, d], { backend });
    },
    run: () =>
      scope(async () => {
        const y = x.matmul(W0.transpose(0, 1)).add(x.matmul(A.transpose(0, 1)).matmul(B.transpose(0, 1)).mul(scale));
        const loss = y.sub(target).pow(2).mean();
        loss.backward();
        noGrad(() => {
          for (const p of [A, B]) {
            p.copy_(p.sub(p.grad!.mul(lr)));
            p.grad!.dispose();
            p.grad = null;
          }
        });
        return loss.item();
      }),
    teardown: () => {
      for (const t of [W0, A, B, x, target]) t.dispose();
    },
  });
}

const rows = await measure('gpujs', tasks, { time: 1000, iterations: 5 });
if (childOut) {
  writeFileSync(childOut, JSON.stringify({ rows, info: getBackendInfo('webgpu') }));
} else {
  const out = join(mkdtempSync(join(tmpdir(), 'tsgrad-bench-')), 'webgpu.json');
  try {
    execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, TSGRAD_BENCH_WEBGPU_OUT: out },
      stdio: 'inherit',
    });
    const child = JSON.parse(readFileSync(out, 'utf8')) as { rows: BenchRow[]; info: Record<string, string> };
    const { backendType, featureLevel, description, device } = child.info;
    notes.push(`webgpu: Dawn ${backendType} (${featureLevel}) on ${description || device}, measured in a child process of this run`);
    rows.push(...child.rows);
  } catch (e) {
    notes.push(`webgpu: not measured (${(e as Error).message.split('\n')[0]})`);
  }
  const cpu = getBackendInfo('cpu');
  notes.push(`cpu backend: ${cpu['path'] === 'wasm' ? `WebAssembly (${String(cpu['simd'])})` : 'plain JavaScript'}, matmuls on ${String(cpu['threads'])} threads`);
  const order = (r: BenchRow) => tasks.findIndex((t) => t.case === r.case);
  save('gpujs', rows.sort((a, b) => order(a) - order(b)), notes);
}
