// tsgrad's CPU backend against TensorFlow.js's WebAssembly backend (XNNPACK, SIMD) and its pure-JS
// CPU backend, and jax-js (jit-compiled, WebAssembly) where it has the case, side by side in one run: matmuls, the matmul shapes of a training step, a Linear
// forward, LoRA and full fine-tuning steps, an MLP step and elementwise ops, all float32.
// tsgrad runs on its WebAssembly path with matmuls split between threads, on that path held to
// one thread, and (for elementwise work) on its plain-JavaScript path, which was the whole
// backend before the WebAssembly one.
// Every timed run reads its result back (dataSync) so lazy work is counted, and disposes what it
// created so neither library grows its heap between samples.
import { cpus, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { configureMatmulThreads } from '../src/backends/cpu/matmul.js';
import { type Tensor, getBackend, getBackendInfo, manualSeed, nn, noGrad, optim, randn, scope, setBackend, tensor } from '../src/index.js';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, type BenchTask, measure, save } from './harness.js';
import { type StepMode, oursLinearStep, tfLinearStep } from './cases/linear.js';
import { type JaxCase, initJax, jaxCoreCases } from './peers/coreJax.js';

const { linear, crossEntropy, mseLoss } = nn.functional;
const threads = configureMatmulThreads({}).threads;
const loadAtStart = loadavg()[0]!;
manualSeed(0);

/** tsgrad variants: the default (WebAssembly, threads), held to one thread, and the JavaScript path. */
const OURS = 'tsgrad/cpu';
const OURS_1T = 'tsgrad/cpu 1 thread';
const OURS_JS = 'tsgrad/cpu js path';
async function useOurs(impl: string): Promise<void> {
  await setBackend('cpu', { wasm: impl !== OURS_JS });
  configureMatmulThreads({ threads: impl === OURS ? threads : 1 });
}

/** tfjs variants; each creates its inputs after its backend is active, so no data moves between backends. */
const TFJS_WASM = 'tfjs/wasm';
const TFJS_CPU = 'tfjs/cpu';
const TFJS_BACKEND: Record<string, string> = { [TFJS_WASM]: 'wasm', [TFJS_CPU]: 'cpu' };

/** tfjs's WebAssembly backend in Node always runs one thread (see the notes). */
await tf.setBackend('wasm');
const tfjsWasmThreads = getThreadsCount();
const tfjsWasmSimd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');

/**
 * jax-js on its WebAssembly device, in this process (with relaxed SIMD where tsgrad has it: the
 * CPU backend turns on Node 20's flag), and in a child process on plain SIMD128.
 */
const JAX = 'jax-js/wasm';
const JAX_SIMD128 = 'jax-js/wasm simd128';
await initJax();
const jaxCases = jaxCoreCases();

/** The jax-js task of a case, if jax-js has it. */
function jaxTask(name: string, flops?: number): BenchTask[] {
  const make = jaxCases[name];
  if (!make) return [];
  let c: JaxCase | null = null;
  return [{ case: name, impl: JAX, flops, setup: () => void (c = make()), run: () => c!.run(), teardown: () => c!.dispose() }];
}

/**
 * One case for several tsgrad variants and tfjs backends. `ours()` and `theirs()` build inputs
 * and return the timed function (and what to dispose afterwards).
 */
function compare(
  name: string, opts: { flops?: number; ours: string[]; theirs: string[] },
  ours: () => () => unknown, theirs: () => { run: () => unknown; dispose: () => void },
): BenchTask[] {
  const tasks: BenchTask[] = [];
  for (const impl of opts.ours) {
    let run: () => unknown = () => undefined;
    tasks.push({
      case: name, impl, flops: opts.flops,
      setup: async () => {
        await useOurs(impl);
        run = ours();
      },
      run: () => run(),
      teardown: () => useOurs(OURS),
    });
  }
  for (const impl of opts.theirs) {
    let made: { run: () => unknown; dispose: () => void } | null = null;
    tasks.push({
      case: name, impl, flops: opts.flops,
      setup: async () => {
        await tf.setBackend(TFJS_BACKEND[impl]!);
        made = theirs();
      },
      run: () => made!.run(),
      teardown: () => made!.dispose(),
    });
  }
  return tasks;
}

const ALL_OURS = [OURS, OURS_1T];
const ALL_THEIRS = [TFJS_WASM, TFJS_CPU];

/** A tfjs random tensor times `scale`, without leaving the unscaled one behind. */
function tfRandn(shape: number[], scale = 1): tf.Tensor {
  return tf.tidy(() => tf.randomNormal(shape).mul(scale));
}

/** A tfjs variable that owns its initial value (which is disposed, so it is not counted twice). */
function tfParam(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init);
  init.dispose();
  return v;
}

/** Reads a tfjs result back and disposes it. */
function readTf(t: tf.Tensor): number {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}

/** Reads a tsgrad result back and disposes it. */
function readOurs(t: Tensor): number {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}

/**
 * m×k by k×n matmuls. tsgrad reads `aT`/`bT` operands as transposed views of stored k×m / n×k
 * matrices (a Linear weight is [out, in]); tfjs gets its operands stored as it multiplies them,
 * its fast path (its transposed path ran 8–15× slower in tfjs-backend-wasm 4.22 here).
 */
function matmulCase(name: string, m: number, k: number, n: number, opts: { bT?: boolean; aT?: boolean; theirs?: string[] } = {}): BenchTask[] {
  return compare(
    name, { flops: 2 * m * k * n, ours: ALL_OURS, theirs: opts.theirs ?? ALL_THEIRS },
    () => {
      const a = opts.aT ? randn([k, m]).transpose(0, 1) : randn([m, k]);
      const b = opts.bT ? randn([n, k]).transpose(0, 1) : randn([k, n]);
      return () => readOurs(a.matmul(b));
    },
    () => {
      const a = tf.randomNormal([m, k]), b = tf.randomNormal([k, n]);
      return { run: () => readTf(tf.matMul(a, b)), dispose: () => tf.dispose([a, b]) };
    },
  ).concat(jaxTask(name, 2 * m * k * n));
}

function matmulTasks(): BenchTask[] {
  return [
    ...matmulCase('matmul 128', 128, 128, 128),
    ...matmulCase('matmul 256', 256, 256, 256),
    ...matmulCase('matmul 512', 512, 512, 512),
    ...matmulCase('matmul 1024', 1024, 1024, 1024, { theirs: [TFJS_WASM] }),
  ];
}

/** The matmuls of a LoRA step on x [64,768], W0 768×768, rank 4. */
function trainingShapeTasks(): BenchTask[] {
  return [
    ...matmulCase('x·W0ᵀ [64,768]·[768,768]ᵀ', 64, 768, 768, { bT: true }),
    ...matmulCase('x·Aᵀ [64,768]·[4,768]ᵀ', 64, 768, 4, { bT: true }),
    ...matmulCase('gᵀ·x (weight grad) [768,64]ᵀ·[64,768]', 768, 64, 768, { aT: true }),
    ...matmulCase('(x·Aᵀ)ᵀ·g (LoRA B grad) [64,4]ᵀ·[64,768]', 4, 64, 768, { aT: true }),
  ];
}

const D = 768, BATCH = 64;

function linearForwardTasks(): BenchTask[] {
  return compare(
    'Linear forward [64,768]·[768,768]ᵀ + b', { ours: ALL_OURS, theirs: ALL_THEIRS },
    () => {
      const x = randn([BATCH, D]), w = randn([D, D]).mul(0.03), b = randn([D]);
      return () => noGrad(() => scope(() => linear(x, w, b).dataSync()[0]));
    },
    () => {
      // tfjs's dense layers store the kernel [in, out] and multiply without transposing.
      const x = tf.randomNormal([BATCH, D]), w = tf.randomNormal([D, D]), b = tf.randomNormal([D]);
      return { run: () => readTf(tf.tidy(() => tf.add(tf.matMul(x, w), b))), dispose: () => tf.dispose([x, w, b]) };
    },
  );
}

/** A training step: MSE on y = x·W0ᵀ + b0 (+ LoRA's scaled x·Aᵀ·Bᵀ), Adam on the trained tensors (bench/cases/linear.ts). */
function trainTasks(mode: StepMode): BenchTask[] {
  const name = `${mode} train step, x [64,768], W 768×768, Adam`;
  return compare(name, { ours: ALL_OURS, theirs: ALL_THEIRS }, () => oursLinearStep(mode).run, () => tfLinearStep(tf, mode)).concat(jaxTask(name));
}

/** 784 → 256 → 10 with ReLU, batch 64, softmax cross-entropy, one SGD step. */
function mlpTasks(): BenchTask[] {
  const [batch, inF, hidden, classes, lr] = [64, 784, 256, 10, 0.01];
  const labels = Array.from({ length: batch }, (_, i) => (i * 7) % classes);
  return compare(
    'MLP 784-256-10 step, batch 64, SGD', { ours: ALL_OURS, theirs: ALL_THEIRS },
    () => {
      const x = randn([batch, inF]), y = tensor(labels, { dtype: 'int32' });
      const params = [randn([hidden, inF]).mul(0.05), randn([hidden]).mul(0.01), randn([classes, hidden]).mul(0.05), randn([classes]).mul(0.01)];
      for (const p of params) p.requiresGrad = true;
      const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
      const opt = new optim.SGD(params, { lr });
      return () =>
        scope(() => {
          const loss = crossEntropy(linear(linear(x, w1, b1).relu(), w2, b2), y);
          loss.backward();
          opt.step();
          opt.zeroGrad();
          return loss.itemSync();
        });
    },
    () => {
      const tx = tf.randomNormal([batch, inF]), ty = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes));
      const vars = [tfParam(tfRandn([inF, hidden], 0.05)), tfParam(tfRandn([hidden], 0.01)), tfParam(tfRandn([hidden, classes], 0.05)), tfParam(tfRandn([classes], 0.01))];
      const [tw1, tb1, tw2, tb2] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
      const opt = tf.train.sgd(lr);
      return {
        run: () => readTf(opt.minimize(() => tf.losses.softmaxCrossEntropy(ty, tf.relu(tx.matMul(tw1).add(tb1)).matMul(tw2).add(tb2)) as tf.Scalar, true)!),
        dispose: () => {
          opt.dispose();
          tf.dispose([tx, ty, ...vars]);
        },
      };
    },
  ).concat(jaxTask('MLP 784-256-10 step, batch 64, SGD'));
}

/** Elementwise ops, a sum and a softmax on 8,192 elements (and 1M, and 1 element), on both tsgrad paths. */
function elementwiseTasks(): BenchTask[] {
  const ours = [OURS, OURS_JS];
  const pair = (name: string, n: number, f: (a: Tensor, b: Tensor) => Tensor, g: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, bShape?: number[]) =>
    compare(
      name, { ours, theirs: ALL_THEIRS },
      () => {
        const a = randn(bShape ? [n / bShape[0]!, bShape[0]!] : [n]), b = randn(bShape ?? [n]);
        return () => readOurs(f(a, b));
      },
      () => {
        const a = tf.randomNormal(bShape ? [n / bShape[0]!, bShape[0]!] : [n]), b = tf.randomNormal(bShape ?? [n]);
        return { run: () => readTf(g(a, b)), dispose: () => tf.dispose([a, b]) };
      },
    );
  return [
    ...pair('add, 8192', 8192, (a, b) => a.add(b), (a, b) => tf.add(a, b)),
    ...pair('mul, 8192', 8192, (a, b) => a.mul(b), (a, b) => tf.mul(a, b)),
    ...pair('exp, 8192', 8192, (a) => a.exp(), (a) => tf.exp(a)),
    ...pair('broadcast add [8,1024] + [1024]', 8192, (a, b) => a.add(b), (a, b) => tf.add(a, b), [1024]),
    ...pair('sum, 8192', 8192, (a) => a.sum(), (a) => tf.sum(a)),
    ...pair('softmax [64,128], last axis', 8192, (a) => a.softmax(-1), (a) => tf.softmax(a), [128]),
    ...pair('add, 1 element (+ dispose)', 1, (a, b) => a.add(b), (a, b) => tf.add(a, b)),
    ...compare(
      'add, 1 element inside a scope', { ours, theirs: ALL_THEIRS },
      () => {
        const a = randn([1]), b = randn([1]);
        return () => scope(() => a.add(b).dataSync()[0]);
      },
      () => {
        const a = tf.randomNormal([1]), b = tf.randomNormal([1]);
        return { run: () => tf.tidy(() => tf.add(a, b).dataSync()[0]), dispose: () => tf.dispose([a, b]) };
      },
    ),
    ...compare(
      'a*b+c, 1M', { ours, theirs: ALL_THEIRS },
      () => {
        const [a, b, c] = [randn([1 << 20]), randn([1 << 20]), randn([1 << 20])];
        return () => scope(() => a.mul(b).add(c).dataSync()[0]);
      },
      () => {
        const [a, b, c] = [tf.randomNormal([1 << 20]), tf.randomNormal([1 << 20]), tf.randomNormal([1 << 20])];
        return { run: () => readTf(tf.tidy(() => tf.add(tf.mul(a, b), c))), dispose: () => tf.dispose([a, b, c]) };
      },
    ),
  ];
}

const rounds = 5;
const rows: BenchRow[] = [];
// Each section builds its inputs right before it is measured (in each task's setup): once the
// MLP's tfjs variables existed, tfjs's matmul ran about 25% slower (a JIT effect inside tfjs),
// so sections must not share a warm-up history.
for (const section of [matmulTasks, trainingShapeTasks, linearForwardTasks, () => trainTasks('LoRA r4'), () => trainTasks('full fine-tuning'), mlpTasks, elementwiseTasks]) {
  const tasks = section();
  const before = { tfjs: tf.memory().numTensors, tsgrad: getBackend().memory().buffers };
  rows.push(...(await measure('core', tasks, { rounds })));
  await useOurs(OURS);
  const leaks = { tfjs: tf.memory().numTensors - before.tfjs, tsgrad: getBackend().memory().buffers - before.tsgrad };
  // The tsgrad inputs of a section are garbage once measured; only tfjs counts its tensors exactly.
  if (leaks.tfjs !== 0) throw new Error(`benchmark runs leaked tfjs tensors (${JSON.stringify(leaks)}); the comparison would be unfair`);
}

// jax-js beside tsgrad shares this process's engine, relaxed SIMD included; it runs once more,
// alone, in a child process without it (no tsgrad there to turn Node 20's flag on).
const plain = spawnSync(process.execPath, [...process.execArgv, join(dirname(fileURLToPath(import.meta.url)), 'peers', 'coreJax.ts')], { encoding: 'utf8' });
if (plain.status !== 0) throw new Error(`jax-js on plain SIMD128 failed:\n${plain.stderr}`);
const plainMs = JSON.parse(plain.stdout.trim().split('\n').pop()!) as Record<string, number>;
for (const [name, ms] of Object.entries(plainMs)) rows.push({ suite: 'core', case: name, impl: JAX_SIMD128, meanMs: ms, medianMs: ms, rmePercent: 0, samples: name === 'matmul 1024' ? 10 : 30 });

/** impl's speed over `other`'s in a case (>1: impl is faster), from the per-round medians. */
function speed(r: BenchRow, other: BenchRow | undefined): string {
  if (!other) return '';
  const perRound = r.roundMediansMs!.map((ms, i) => other.roundMediansMs![i]! / ms).sort((a, b) => a - b);
  return `${perRound[perRound.length >> 1]!.toFixed(2)}×`;
}

function ratioTable(rs: BenchRow[]): string {
  const lines = [
    '| case | tsgrad impl | median ms | speed vs tfjs/wasm | vs tfjs/cpu | vs jax-js/wasm | vs jax-js simd128 | vs tsgrad js path | GFLOP/s |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rs) {
    if (!r.impl.startsWith('tsgrad/')) continue;
    const find = (impl: string) => rs.find((o) => o.case === r.case && o.impl === impl);
    lines.push(
      `| ${r.case} | ${r.impl.replace('tsgrad/cpu', '') || 'wasm'} | ${r.medianMs!.toFixed(3)} | ${speed(r, find(TFJS_WASM))} | ${speed(r, find(TFJS_CPU))} | ` +
        `${speed(r, find(JAX))} | ${find(JAX_SIMD128) ? `${(find(JAX_SIMD128)!.medianMs! / r.medianMs!).toFixed(2)}×` : ''} | ` +
        `${r.impl === OURS_JS ? '' : speed(r, find(OURS_JS))} | ${r.gflops ? r.gflops.toFixed(2) : ''} |`,
    );
  }
  return lines.join('\n');
}

const info = getBackendInfo('cpu');
const notes = [
  `# core: tsgrad/cpu (${String(info['path'])} path, ${String(info['simd'])}, matmuls on ${threads} thread${threads > 1 ? 's' : ''}) vs tfjs/wasm (XNNPACK, ${tfjsWasmSimd ? 'SIMD' : 'no SIMD'}, ${tfjsWasmThreads} thread) and tfjs/cpu, float32`,
  `Node ${process.versions.node}, tfjs ${tf.version.tfjs}, \`npm run bench -- core\`, ${cpus().length} cores, 1-minute load average ${loadAtStart.toFixed(1)} at ` +
    `start and ${loadavg()[0]!.toFixed(1)} at end. ${rounds} interleaved rounds; every run includes dataSync() and disposal; GFLOP/s = 2mkn / mean time. ` +
    'Speeds are medians over rounds of (peer median / tsgrad median) within a round, so both see the same load. ' +
    'tfjs/wasm runs one thread in Node: its threads need Web Workers, tfjs turns them off when it detects Node, and forcing ' +
    "WASM_HAS_MULTITHREAD_SUPPORT makes its init fail (Node's worker_threads refuses the blob: worker URL). So the " +
    `like-for-like matmul rows are "1 thread"; the default rows use ${threads} threads against its one. ` +
    '"js path" is tsgrad\'s plain-JavaScript path (`setBackend(\'cpu\', { wasm: false })`): the whole CPU backend before the WebAssembly one, ' +
    'with its fused softmax kernel. On the wasm path, float32 tensors live in the WebAssembly memory, so kernels neither copy in nor out. ' +
    'jax-js (@jax-js/jax 0.1.25) runs on its WebAssembly device with each training step one jit-compiled function (loss, gradient, update; ' +
    `bench/peers/coreJax.ts): "vs jax-js/wasm" is measured in the rounds beside tsgrad, in the same engine (${String(getBackendInfo('cpu').simd)}: the ` +
    'CPU backend turns on Node 20\'s relaxed-SIMD flag, and jax-js takes fused multiply-add where it validates); "vs jax-js simd128" is a ' +
    'separate child process without relaxed SIMD after the rounds (its median over ours, not paired by round).',
  ratioTable(rows),
];
console.log(notes[2]);
save('core', rows, notes);
