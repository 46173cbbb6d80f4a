// The WebGPU backend against tsgrad's CPU backend and TensorFlow.js's WebGPU backend, both GPU
// libraries on the same Dawn adapter in one process: matmul (GFLOP/s) and a LoRA training step.
// Every timed run ends with a scalar readback, so the GPU work is inside the measurement.
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { type Tensor, initBackend, manualSeed, nn, optim, randn, scope, setBackend } from '../src/index.js';
import { webgpuInfo } from '../src/backends/webgpu/index.js';
import { type BenchRow, type BenchTask, measure, save } from './harness.js';
import { registerTfjsWebgpu } from './peers/tfjsDawn.js';

// BENCH_QUICK=1: a short smoke run. BENCH_SIZES=1024,2048,4096 and BENCH_NAME=webgpu-h200: the
// run on a real GPU (the CPU backend is measured only up to n = 1024 there).
const quick = process.env['BENCH_QUICK'] === '1';
const name = process.env['BENCH_NAME'] ?? 'webgpu';
const F = nn.functional;

await initBackend('webgpu');
const info = webgpuInfo();

await registerTfjsWebgpu();
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its webgpu backend');
await tf.ready();

const rows: BenchRow[] = [];
const sizes = process.env['BENCH_SIZES']?.split(',').map(Number) ?? (quick ? [128, 512] : [128, 256, 512, 1024]);

/** Reads one element: waits for the whole queue without timing a large transfer. */
async function firstElement(t: Tensor): Promise<number> {
  const s = t.reshape([-1]).slice([[0, 1]]);
  const v = (await s.data())[0]!;
  s.dispose();
  return v;
}

for (const n of sizes) {
  manualSeed(n);
  const a = randn([n, n]), b = randn([n, n]);
  const ga = await a.to('webgpu'), gb = await b.to('webgpu');
  const ta = tf.randomNormal([n, n]), tb = tf.randomNormal([n, n]);
  const flops = 2 * n ** 3;
  const tasks: BenchTask[] = [
    { case: `matmul ${n}`, impl: 'tsgrad/webgpu', flops, run: () => scope(() => firstElement(ga.matmul(gb))) },
    {
      case: `matmul ${n}`, impl: 'tfjs/webgpu', flops,
      run: async () => {
        const c = tf.matMul(ta, tb);
        const s = tf.slice(c, [0, 0], [1, 1]);
        await s.data();
        tf.dispose([c, s]);
      },
    },
  ];
  if (n <= (quick ? 512 : 1024)) tasks.push({ case: `matmul ${n}`, impl: 'tsgrad/cpu', flops, run: () => scope(() => a.matmul(b).reshape([-1]).slice([[0, 1]]).dataSync()) });
  rows.push(...(await measure(name, tasks, { time: quick ? 300 : 1500, iterations: 5 })));
  for (const t of [a, b, ga, gb]) t.dispose();
  tf.dispose([ta, tb]);
}

// LoRA step: LoRALinear(768, 768, rank 4), batch 64, MSE, Adam.
const D = 768, BATCH = 64, RANK = 4, ALPHA = 8, LR = 1e-3;

async function tsgradLoRA(backend: 'webgpu' | 'cpu'): Promise<BenchTask> {
  manualSeed(0);
  await setBackend(backend); // layers create their parameters on the current backend
  const lora = new nn.LoRALinear(D, D, { rank: RANK, alpha: ALPHA });
  const opt = new optim.Adam(lora.parameters(), { lr: LR });
  const x = randn([BATCH, D]), target = randn([BATCH, D]);
  return {
    case: `LoRA step ${D}x${D} r${RANK} b${BATCH}`, impl: `tsgrad/${backend}`,
    run: () =>
      scope(async () => {
        const loss = F.mseLoss(lora.forward(x), target);
        loss.backward();
        opt.step();
        opt.zeroGrad();
        await loss.item();
      }),
  };
}

function tfjsLoRA(): BenchTask {
  const w0 = tf.randomUniform([D, D], -1 / Math.sqrt(D), 1 / Math.sqrt(D));
  const b0 = tf.zeros([D]);
  const a = tf.variable(tf.randomUniform([RANK, D], -1 / Math.sqrt(D), 1 / Math.sqrt(D)));
  const b = tf.variable(tf.zeros([D, RANK]));
  const x = tf.randomNormal([BATCH, D]), target = tf.randomNormal([BATCH, D]);
  const opt = tf.train.adam(LR);
  const scaling = ALPHA / RANK;
  return {
    case: `LoRA step ${D}x${D} r${RANK} b${BATCH}`, impl: 'tfjs/webgpu',
    run: async () => {
      const loss = opt.minimize(() => {
        const base = tf.add(tf.matMul(x, w0, false, true), b0);
        const update = tf.mul(tf.matMul(tf.matMul(x, a, false, true), b, false, true), scaling);
        return tf.losses.meanSquaredError(target, tf.add(base, update)) as tf.Scalar;
      }, true, [a, b])!;
      await loss.data();
      loss.dispose();
    },
  };
}

rows.push(...(await measure(name, [await tsgradLoRA('webgpu'), tfjsLoRA(), await tsgradLoRA('cpu')], { time: quick ? 500 : 3000, iterations: 10 })));

const speed = (c: string, impl: string) => rows.find((r) => r.case === c && r.impl === impl)?.meanMs;
const ratio = (c: string) => {
  const t = speed(c, 'tsgrad/webgpu'), f = speed(c, 'tfjs/webgpu');
  return t && f ? `${(f / t).toFixed(2)}×` : 'n/a';
};
const lora = `LoRA step ${D}x${D} r${RANK} b${BATCH}`;
const command = process.env['BENCH_SIZES'] ? `BENCH_SIZES=${process.env['BENCH_SIZES']} BENCH_NAME=${name} npm run bench -- webgpu` : 'EGL_PLATFORM=surfaceless npm run bench -- webgpu';
const notes = [
  `# ${name}: tsgrad/webgpu vs tfjs/webgpu (same Dawn adapter) vs tsgrad/cpu`,
  `Adapter: ${info.device || info.description} (${info.description}), Dawn backend ${info.backendType}, feature level ${info.featureLevel}${info.software ? ', software rasterizer' : ''}. Node ${process.versions.node}, tfjs ${tf.version.tfjs}, ${cpus().length} CPU cores.`,
  `Command: \`${command}\`. Every run ends with a one-element readback (tsgrad: \`await t.data()\` of a slice, tfjs: \`await slice.data()\`); LoRA: Adam, MSE, loss read each step.`,
  `tsgrad/webgpu speed relative to tfjs/webgpu (tfjs time / tsgrad time): ${sizes.map((n) => `matmul ${n} ${ratio(`matmul ${n}`)}`).join(', ')}, LoRA step ${ratio(lora)}.`,
];
save(name, rows, notes);
console.log(notes.join('\n'));
process.exit(0);
