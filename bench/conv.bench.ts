// conv2d, 3×3, 64 → 64 channels, padding 1, batch 32, float32, at 28×28 and 56×56: forward, and
// forward + backward (the gradients of input, weight and bias for a fixed upstream gradient), in
// one run: tsgrad's CPU backend (matmuls on 2 threads, and held to 1), tsgrad's webgpu backend,
// PyTorch (1 and 2 threads), and TensorFlow.js's wasm and webgpu backends, on the same inputs.
// Before timing, every library's results are checked against tsgrad's CPU ones, so the timed
// work is the same work. Rounds interleave the libraries; ratios are taken within a round.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureMatmulThreads } from '../src/backends/cpu/matmul.js';
import { webgpuInfo } from '../src/backends/webgpu/index.js';
import { type Tensor, getBackendInfo, initBackend, manualSeed, nn, randn, scope, setBackend } from '../src/index.js';
import { type BenchRow, type BenchTask, measure, save } from './harness.js';
import { UNET_BATCH, saveUNetInputs, unetParameters, unetTrainer } from './unetStep.js';
import { type ConvData, TFJS_WASM, TFJS_WEBGPU, initTfjs, tfjsConv, tfjsVersion, useTfjs } from './peers/convTfjs.js';

// BENCH_QUICK=1: one round at 28×28 only, a smoke run. BENCH_ROUNDS=n: n rounds (default 3).
// BENCH_GPU_SIZES=28,56: the sizes the webgpu rows run (default 28: on Mesa's llvmpipe one
// 56×56 forward+backward takes minutes; on a real GPU give both).
const quick = process.env['BENCH_QUICK'] === '1';
const ROUNDS = quick ? 1 : Number(process.env['BENCH_ROUNDS'] ?? 3), BATCH = 32, CH = 64, SIZES = quick ? [28] : [28, 56];
// BENCH_GPU_UNET=0 leaves the UNet step off the webgpu backend.
const GPU_UNET = process.env['BENCH_GPU_UNET'] !== '0';
const GPU_SIZES = (process.env['BENCH_GPU_SIZES'] ?? '28').split(',').map(Number).filter((s) => SIZES.includes(s));
// The loss after one Adam step moves each weight by about lr·sign(gradient), so it differs a little more.
const UNET_TOLERANCE = 1e-3;
const TOLERANCE = 1e-3; // largest difference over the tensor's largest magnitude (float32 sums of up to 100k terms)
const here = dirname(fileURLToPath(import.meta.url));
const loadAtStart = loadavg()[0]!;
const F = nn.functional;

await setBackend('cpu');
const threads = configureMatmulThreads({}).threads;
await initBackend('webgpu');
await initTfjs();
manualSeed(0);

const OURS = `tsgrad/cpu ${threads} threads`, OURS_1T = 'tsgrad/cpu 1 thread', OURS_GPU = 'tsgrad/webgpu';
const caseName = (size: number, pass: string) => `conv2d ${size}×${size} ${pass}`;
const flopsOf = (size: number) => 2 * BATCH * CH * CH * 9 * size * size;

/** One element of `t`: waits for all the work behind it without timing a large download. */
async function first(t: Tensor): Promise<number> {
  return (await t.reshape([-1]).slice([[0, 1]]).data())[0]!;
}

interface Inputs { x: Tensor; w: Tensor; b: Tensor; g: Tensor }

/** conv2d's output, or its gradients of x, w and b for upstream gradient g (then cleared from the leaves). */
function ours(i: Inputs, backward: boolean): Tensor[] {
  const y = F.conv2d(i.x, i.w, i.b, { padding: 1 });
  if (!backward) return [y];
  y.backward(i.g);
  const grads = [i.x.grad!, i.w.grad!, i.b.grad!];
  i.x.grad = i.w.grad = i.b.grad = null;
  return grads;
}

/** Runs `ours` in a scope, reads each result with `read`, then disposes the results (gradients outlive a scope). */
function runOurs<T>(i: Inputs, backward: boolean, read: (t: Tensor) => Promise<T>): Promise<T[]> {
  return scope(async () => {
    const outs = ours(i, backward);
    const values = await Promise.all(outs.map(read));
    for (const t of outs) t.dispose();
    return values;
  });
}

function leaves(t: Tensor[]): Tensor[] {
  for (const l of t.slice(0, 3)) l.requiresGrad = true;
  return t;
}

/** Relative error of `a` against the reference `ref`: the largest difference over ref's largest magnitude. */
function relativeError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return a.length === ref.length ? diff / scale : Infinity;
}

const dir = mkdtempSync(join(tmpdir(), 'tsgrad-conv-bench-'));
const errors: Record<string, Record<string, number>> = {};
const RESULTS = { forward: ['output'], 'forward+backward': ['input grad', 'weight grad', 'bias grad'] } as const;
function recordErrors(impl: string, key: string, pass: keyof typeof RESULTS, got: ArrayLike<number>[], ref: Float32Array[]): void {
  RESULTS[pass].forEach((what, i) => {
    const e = relativeError(got[i]!, ref[i]!);
    (errors[impl] ??= {})[`${key} ${what}`] = e;
    if (!(e <= TOLERANCE)) throw new Error(`${impl} disagrees with tsgrad/cpu on ${key} ${what}: relative error ${e}`);
  });
}

const tasks: Record<string, BenchTask[]> = { [OURS]: [], [OURS_1T]: [], [OURS_GPU]: [], [TFJS_WASM]: [], [TFJS_WEBGPU]: [] };
const torchCases: { key: string; batch: number; channels: number; size: number }[] = [];
for (const size of SIZES) {
  const key = `${size}x${size}`;
  const cpu = leaves([randn([BATCH, CH, size, size]), randn([CH, CH, 3, 3]).mul(Math.sqrt(2 / (9 * CH))), randn([CH]).mul(0.1), randn([BATCH, CH, size, size])]);
  const gpu = GPU_SIZES.includes(size) ? leaves(await Promise.all(cpu.map((t) => t.to('webgpu')))) : [];
  const [x, w, b, g] = cpu as [Tensor, Tensor, Tensor, Tensor];
  const data: ConvData = { shape: [BATCH, CH, size, size], x: x.dataSync() as Float32Array, w: w.dataSync() as Float32Array, b: b.dataSync() as Float32Array, g: g.dataSync() as Float32Array };
  const ref = { forward: ours({ x, w, b, g }, false), 'forward+backward': ours({ x, w, b, g }, true) };
  const refData = Object.fromEntries(Object.entries(ref).map(([k, ts]) => [k, ts.map((t) => t.dataSync() as Float32Array)])) as Record<keyof typeof RESULTS, Float32Array[]>;
  for (const [name, a] of Object.entries({ x: data.x, w: data.w, b: data.b, g: data.g, y: refData.forward[0]!, dx: refData['forward+backward'][0]!, dw: refData['forward+backward'][1]!, db: refData['forward+backward'][2]! })) {
    writeFileSync(join(dir, `${key}.${name}.f32`), a);
  }
  torchCases.push({ key, batch: BATCH, channels: CH, size });

  for (const pass of ['forward', 'forward+backward'] as const) {
    const backward = pass === 'forward+backward';
    const c = caseName(size, pass), flops = (backward ? 3 : 1) * flopsOf(size);
    const [gx, gw, gb, gg] = gpu as [Tensor, Tensor, Tensor, Tensor];
    const onGpu = GPU_SIZES.includes(size);
    if (onGpu) {
      console.log(`checking ${OURS_GPU} on ${c}`);
      recordErrors(OURS_GPU, key, pass, await runOurs({ x: gx, w: gw, b: gb, g: gg }, backward, (t) => t.data()), refData[pass]);
      tasks[OURS_GPU]!.push({ case: c, impl: OURS_GPU, flops, run: () => runOurs({ x: gx, w: gw, b: gb, g: gg }, backward, first) });
    }
    for (const impl of [OURS, OURS_1T]) {
      tasks[impl]!.push({
        case: c, impl, flops,
        setup: () => void configureMatmulThreads({ threads: impl === OURS ? threads : 1 }),
        run: () => runOurs({ x, w, b, g }, backward, first),
      });
    }
    // tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so it cannot take a weight gradient.
    for (const impl of [...(backward ? [] : [TFJS_WASM]), ...(onGpu ? [TFJS_WEBGPU] : [])]) {
      console.log(`checking ${impl} on ${c}`);
      await useTfjs(impl);
      const check = tfjsConv(data, backward);
      recordErrors(impl, key, pass, await check.results(), refData[pass]);
      check.dispose();
      let made: ReturnType<typeof tfjsConv> | null = null;
      tasks[impl]!.push({
        case: c, impl, flops,
        setup: async () => {
          await useTfjs(impl);
          made = tfjsConv(data, backward);
        },
        run: () => made!.run(),
        teardown: () => made!.dispose(),
      });
    }
  }
  for (const t of [...ref.forward, ...ref['forward+backward']]) t.dispose();
}

// The diffusion demo's UNet: one training step, checked first against PyTorch's from the same weights.
const UNET = `UNet train step (diffusion demo, ${unetParameters.toLocaleString('en-US')} parameters, batch ${UNET_BATCH}, Adam)`;
const unetArgs = await saveUNetInputs(dir);
console.log('checking the UNet step');
const unetLosses: Record<string, number[]> = {};
for (const backend of GPU_UNET ? ['cpu', 'webgpu'] as const : ['cpu'] as const) {
  const step = await unetTrainer(backend);
  const start = performance.now();
  unetLosses[`tsgrad/${backend}`] = [await step(), await step()];
  console.log(`  ${backend}: losses ${unetLosses[`tsgrad/${backend}`]!.join(', ')} in ${(performance.now() - start).toFixed(0)} ms`);
}
for (const impl of [OURS, OURS_1T, ...(GPU_UNET ? [OURS_GPU] : [])]) {
  let step: () => Promise<number> = async () => 0;
  tasks[impl]!.push({
    case: UNET, impl,
    setup: async () => {
      configureMatmulThreads({ threads: impl === OURS_1T ? 1 : threads });
      step = await unetTrainer(impl === OURS_GPU ? 'webgpu' : 'cpu');
    },
    run: () => step(),
  });
}

/** The Python that has torch: TSGRAD_BENCH_PYTHON, else the project's .venv-hf. */
const python = process.env['TSGRAD_BENCH_PYTHON'] ?? join(here, '..', '.venv-hf', 'bin', 'python');
if (!existsSync(python)) throw new Error(`no Python with torch at ${python}: run scripts/hf-venv.sh or set TSGRAD_BENCH_PYTHON`);
let torchVersion = '';
function torchPeer(opts: { check?: boolean; threads: number[]; steps: number }): { rows: Record<string, Record<string, number>>; errors: Record<string, Record<string, number>> } {
  const run = spawnSync(python, [join(here, 'peers', 'conv_torch.py'), JSON.stringify({ dir, cases: torchCases, ...opts })], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`the PyTorch peer failed:\n${run.stderr}`);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; rows: Record<string, Record<string, number>>; errors: Record<string, Record<string, number>> };
  torchVersion = out.torch;
  return out;
}
console.log('checking pytorch');
for (const [key, es] of Object.entries(torchPeer({ check: true, threads: [], steps: 0 }).errors)) {
  for (const [what, e] of Object.entries(es)) {
    (errors['pytorch'] ??= {})[`${key} ${what}`] = e;
    if (!(e <= TOLERANCE)) throw new Error(`PyTorch disagrees with tsgrad/cpu on ${key} ${what}: relative error ${e}`);
  }
}

function unetPeer(opts: { check?: boolean; threads: number[]; steps: number }): { rows: Record<string, number>; losses?: number[] } {
  const run = spawnSync(python, [join(here, 'peers', 'unet_torch.py'), JSON.stringify({ dir, ...unetArgs, ...opts })], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`the PyTorch UNet peer failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as { rows: Record<string, number>; losses?: number[] };
}
unetLosses['pytorch'] = unetPeer({ check: true, threads: [], steps: 0 }).losses!;
for (const [impl, losses] of Object.entries(unetLosses).filter(([impl]) => impl !== 'tsgrad/cpu')) {
  const e = Math.max(...losses.map((l, i) => Math.abs(l - unetLosses['tsgrad/cpu']![i]!) / unetLosses['tsgrad/cpu']![i]!));
  (errors[impl] ??= {})['UNet losses'] = e;
  if (!(e <= UNET_TOLERANCE)) throw new Error(`${impl}'s UNet losses ${losses.join(', ')} differ from tsgrad/cpu's ${unetLosses['tsgrad/cpu']!.join(', ')}`);
}

const torchSteps = quick ? 3 : 8;
function pytorchRound(): BenchRow[] {
  const out = torchPeer({ threads: [1, threads], steps: torchSteps });
  return Object.entries(out.rows).flatMap(([n, r]) => Object.entries(r).map(([k, ms]): BenchRow => {
    const [key, pass] = k.split(' ') as [string, string];
    const size = Number(key.split('x')[0]);
    const flops = (pass === 'forward' ? 1 : 3) * flopsOf(size);
    return {
      suite: 'conv', case: caseName(size, pass), impl: `pytorch ${n} thread${n === '1' ? '' : 's'}`, meanMs: ms, medianMs: ms,
      rmePercent: 0, samples: torchSteps, roundMediansMs: [ms], gflops: flops / (ms * 1e6),
    };
  })).concat(Object.entries(unetPeer({ threads: [1, threads], steps: torchSteps }).rows).map(([n, ms]) => ({
    suite: 'conv', case: UNET, impl: `pytorch ${n} thread${n === '1' ? '' : 's'}`, meanMs: ms, medianMs: ms, rmePercent: 0, samples: torchSteps, roundMediansMs: [ms],
  })));
}

const perRound: BenchRow[][] = [];
for (let round = 0; round < ROUNDS; round++) {
  console.log(`\n## round ${round + 1}/${ROUNDS}`);
  const rows: BenchRow[] = [];
  for (const [impl, group] of Object.entries(tasks)) {
    // A software GPU takes seconds per run: one warm-up and one timed run per round.
    const slow = impl === OURS_GPU || impl === TFJS_WEBGPU;
    rows.push(...(await measure('conv', group, slow ? { time: 0, iterations: 1, warmupIterations: 1 } : { time: quick ? 300 : 1000, iterations: quick ? 2 : 4 })));
  }
  configureMatmulThreads({ threads });
  rows.push(...pytorchRound());
  perRound.push(rows);
}
rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const key = (r: BenchRow) => `${r.case}|${r.impl}`;
const rows: BenchRow[] = perRound[0]!.map((firstRow) => {
  const same = perRound.map((rs) => rs.find((r) => key(r) === key(firstRow))!);
  const medians = same.map((r) => r.medianMs!);
  const med = median(medians);
  return { ...firstRow, meanMs: median(same.map((r) => r.meanMs)), medianMs: med, roundMediansMs: medians, samples: same.reduce((a, r) => a + r.samples, 0), gflops: firstRow.gflops ? (firstRow.gflops * firstRow.medianMs!) / med : undefined };
}).sort((a, b) => a.case.localeCompare(b.case));

/** How many times slower `impl` is than `peer` in a case: the median over rounds of the per-round ratio. */
function slower(c: string, impl: string, peer: string): string {
  const a = rows.find((r) => r.case === c && r.impl === impl), b = rows.find((r) => r.case === c && r.impl === peer);
  if (!a || !b || a === b) return '';
  return `${median(a.roundMediansMs!.map((ms, i) => ms / b.roundMediansMs![i]!)).toFixed(2)}×`;
}

const table = [
  `| case | impl | median ms | GFLOP/s | vs pytorch 1 thread | vs pytorch ${threads} threads | vs tfjs/webgpu |`,
  '|---|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.case} | ${r.impl} | ${r.medianMs!.toFixed(1)} | ${r.gflops?.toFixed(1) ?? ''} | ` +
    `${slower(r.case, r.impl, 'pytorch 1 thread')} | ${slower(r.case, r.impl, `pytorch ${threads} threads`)} | ${slower(r.case, r.impl, TFJS_WEBGPU)} |`),
].join('\n');
const worst = Object.entries(errors).map(([impl, es]) => `${impl} ${Math.max(...Object.values(es)).toExponential(1)}`).join(', ');
const info = getBackendInfo('cpu'), gpu = webgpuInfo();
const notes = [
  `# conv: conv2d 3×3, ${CH} → ${CH} channels, padding 1, batch ${BATCH}, float32: tsgrad/cpu (${info.path} path, ${String(info.simd)}) and tsgrad/webgpu vs PyTorch and tfjs`,
  `${new Date().toISOString().slice(0, 16)} UTC. Node ${process.versions.node}, torch ${torchVersion}, tfjs ${tfjsVersion}, \`npm run bench -- conv\`, ${cpus().length} cores, ` +
    `1-minute load average ${loadAtStart.toFixed(1)} at start and ${loadavg()[0]!.toFixed(1)} at end. WebGPU adapter: ${gpu.device || gpu.description} ` +
    `(Dawn ${gpu.backendType}${gpu.software ? ', software rasterizer' : ''}), shared by tsgrad/webgpu and tfjs/webgpu; ` +
    `${GPU_SIZES.length ? `their conv rows run at ${GPU_SIZES.map((n) => `${n}×${n}`).join(' and ')} only` : 'no conv rows run on them'} (BENCH_GPU_SIZES), ` +
    `${GPU_UNET ? 'and tsgrad/webgpu runs the UNet step' : 'nor the UNet step'}, with one warm-up and one timed run per round. ` +
    `${ROUNDS} interleaved round${ROUNDS > 1 ? 's' : ''}; the ratios are ` +
    'medians over rounds of (time / peer\'s time in the same round): above 1× means slower than the peer. "forward+backward" is the forward ' +
    'and the gradients of input, weight and bias for a fixed upstream gradient; GFLOP/s counts 2·N·O·C·9·H·W per convolution (three for forward+backward). ' +
    'Every timed run waits for its results (one element of each read back). tsgrad: im2col and one batched matmul (the WebAssembly GEMM on the CPU); ' +
    '"1 thread" holds its matmuls to one thread. PyTorch: F.conv2d, torch.set_num_threads. tfjs: tf.fused.conv2d (bias in the kernel) in its own NHWC ' +
    'layout; tfjs/wasm runs one thread in Node and has no forward+backward row because tfjs-backend-wasm has no Conv2DBackpropFilter kernel. ' +
    `The UNet step is the diffusion demo's model (examples/diffusion/unet.ts: GroupNorm + SiLU resnet blocks, 28 → 14 → 7 and back, self-attention ` +
    `at 7×7) on a batch of ${UNET_BATCH} noised images at random timesteps, epsilon-MSE, Adam (lr 1e-3), the loss read back each step; PyTorch runs ` +
    'the same architecture module for module with the same names (bench/peers/unet_torch.py), loaded with tsgrad\'s initial weights. ' +
    `Before timing, each library's output and gradients were compared with tsgrad/cpu's on the same inputs, and the UNet's loss before and after one ` +
    `step; largest relative error: ${worst}.`,
  table,
];
console.log(`\n${table}`);
save('conv', rows, notes);
process.exit(0);
