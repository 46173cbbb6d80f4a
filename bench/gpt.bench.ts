// A small GPT's training step and generation, the same model in every library, measured in one
// run: tsgrad's CPU backend (matmuls on 2 threads, and held to 1), PyTorch (transformers'
// GPT2LMHeadModel and PEFT, on 1 and 2 threads) and jax-js (jit-compiled, WebAssembly).
// The model is the issue's: GPT-2 blocks, 2 layers of width 64 with 4 heads, context 64, a
// 96-symbol vocabulary, batch 32, AdamW; LoRA is rank 4, alpha 8 on c_attn (q, k and v).
// Rounds interleave the libraries, and ratios are taken within a round, so load hits all alike.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureMatmulThreads } from '../src/backends/cpu/matmul.js';
import { getBackendInfo, manualSeed, models, setBackend } from '../src/index.js';
import { GPT_CONFIG, GPT_SHAPE, gptProducts, gptProductsRunner, gptStep, gptTokens } from './cases/gpt.js';
import { type BenchRow, type BenchTask, measure, save } from './harness.js';
import { initJax, jaxGptStep } from './peers/gptJax.js';

const SHAPE = GPT_SHAPE;
const GEN_TOKENS = 56, PROMPT_LEN = 8, ROUNDS = 5;
/** tinybench's settings for every timed task, here and in the SIMD128 child. */
const STEP_TIMING = { time: 3000, iterations: 8 };
const here = dirname(fileURLToPath(import.meta.url));
const loadAtStart = loadavg()[0]!;
await setBackend('cpu');
const threads = configureMatmulThreads({}).threads;
manualSeed(0);

const generator = new models.GPT2LMHeadModel(GPT_CONFIG);
const prompt = [gptTokens(PROMPT_LEN, 0)];
const generate = async () => (await generator.generate(prompt, { maxNewTokens: GEN_TOKENS })).dispose();

const OURS = `tsgrad/cpu ${threads} threads`, OURS_1T = 'tsgrad/cpu 1 thread', JAX = 'jax-js/wasm (jit)';
const CASES = {
  full: 'GPT train step, full fine-tuning', lora: 'GPT train step, LoRA r4 on c_attn', generate: `generate ${GEN_TOKENS} tokens, greedy, batch 1`,
  products: `the full step's ${gptProducts().length} matrix products alone`,
};
const steps = { full: gptStep('full'), lora: gptStep('lora') };
const products = gptProductsRunner();

function oursTasks(impl: string): BenchTask[] {
  const use = () => void configureMatmulThreads({ threads: impl === OURS ? threads : 1 });
  return [
    { case: CASES.full, impl, setup: use, run: () => steps.full.run() },
    { case: CASES.lora, impl, setup: use, run: () => steps.lora.run() },
    { case: CASES.generate, impl, setup: use, run: generate },
    { case: CASES.products, impl, setup: use, run: () => products.run() },
  ];
}

await initJax();
const jax = { full: jaxGptStep(SHAPE, 'full'), lora: jaxGptStep(SHAPE, 'lora') };
const jaxTasks: BenchTask[] = [
  { case: CASES.full, impl: JAX, run: () => jax.full.step() },
  { case: CASES.lora, impl: JAX, run: () => jax.lora.step() },
];

/** The Python that has torch, transformers and peft: TSGRAD_BENCH_PYTHON, else the project's .venv-hf. */
const python = process.env['TSGRAD_BENCH_PYTHON'] ?? join(here, '..', '.venv-hf', 'bin', 'python');
if (!existsSync(python)) throw new Error(`no Python with torch, transformers and peft at ${python}: run scripts/hf-venv.sh or set TSGRAD_BENCH_PYTHON`);
let torchVersions = '';
function pytorchRound(): BenchRow[] {
  const args = JSON.stringify({ shape: SHAPE, steps: 15, genTokens: GEN_TOKENS, promptLen: PROMPT_LEN, threads: [1, threads], products: gptProducts() });
  const run = spawnSync(python, [join(here, 'peers', 'gpt_torch.py'), args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`the PyTorch peer failed:\n${run.stderr}`);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; transformers: string; cpu: string; rows: Record<string, Record<keyof typeof CASES, number>> };
  torchVersions = `torch ${out.torch} (its CPU kernels: ${out.cpu}), transformers ${out.transformers}`;
  return Object.entries(out.rows).flatMap(([n, r]) => (Object.keys(CASES) as (keyof typeof CASES)[]).map((k) => ({
    suite: 'gpt', case: CASES[k], impl: `pytorch ${n} thread${n === '1' ? '' : 's'}`, meanMs: r[k], medianMs: r[k], rmePercent: 0, samples: 15, roundMediansMs: [r[k]],
  })));
}

/** tsgrad's steps in a child process with TSGRAD_CPU_RELAXED=0: plain SIMD128, as on an engine without relaxed SIMD. */
function simd128Round(): BenchRow[] {
  const args = JSON.stringify({ threads: [1, threads], ...STEP_TIMING });
  const run = spawnSync(process.execPath, [...process.execArgv, join(here, 'peers', 'gptSimd128.ts'), args], { encoding: 'utf8', env: { ...process.env, TSGRAD_CPU_RELAXED: '0' } });
  if (run.status !== 0) throw new Error(`tsgrad on plain SIMD128 failed:\n${run.stderr}`);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, Record<'full' | 'lora', { ms: number; samples: number }>>;
  return Object.entries(out).flatMap(([n, r]) => (['full', 'lora'] as const).map((k) => ({
    suite: 'gpt', case: CASES[k], impl: `tsgrad/cpu ${n} thread${n === '1' ? '' : 's'}, SIMD128`, meanMs: r[k].ms, medianMs: r[k].ms, rmePercent: 0, samples: r[k].samples, roundMediansMs: [r[k].ms],
  })));
}

const perRound: BenchRow[][] = [];
for (let round = 0; round < ROUNDS; round++) {
  console.log(`\n## round ${round + 1}/${ROUNDS}`);
  const rows = [
    ...(await measure('gpt', oursTasks(OURS), STEP_TIMING)),
    ...(await measure('gpt', oursTasks(OURS_1T), STEP_TIMING)),
    ...(await measure('gpt', jaxTasks, STEP_TIMING)),
    ...simd128Round(),
    ...pytorchRound(),
  ];
  configureMatmulThreads({ threads });
  perRound.push(rows);
}
jax.full.dispose();
jax.lora.dispose();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const key = (r: BenchRow) => `${r.case}|${r.impl}`;
const rows: BenchRow[] = perRound[0]!.map((first) => {
  const same = perRound.map((rs) => rs.find((r) => key(r) === key(first))!);
  const medians = same.map((r) => r.medianMs!);
  return { ...first, meanMs: median(same.map((r) => r.meanMs)), medianMs: median(medians), roundMediansMs: medians, samples: same.reduce((a, r) => a + r.samples, 0) };
});

/** How many times slower `impl` is than `peer` in a case: the median over rounds of the per-round ratio. */
function slower(c: string, impl: string, peer: string): string {
  const a = rows.find((r) => r.case === c && r.impl === impl), b = rows.find((r) => r.case === c && r.impl === peer);
  if (!a || !b) return '';
  return `${median(a.roundMediansMs!.map((ms, i) => ms / b.roundMediansMs![i]!)).toFixed(2)}×`;
}

const table = [
  `| case | impl | median ms | tokens/s | vs pytorch 1 thread | vs pytorch ${threads} threads |`,
  '|---|---|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.case} | ${r.impl} | ${r.medianMs!.toFixed(1)} | ${r.case === CASES.generate ? (GEN_TOKENS / (r.medianMs! / 1000)).toFixed(0) : ''} | ` +
    `${r.impl.startsWith('pytorch') ? '' : slower(r.case, r.impl, 'pytorch 1 thread')} | ${r.impl.startsWith('pytorch') ? '' : slower(r.case, r.impl, `pytorch ${threads} threads`)} |`),
].join('\n');
const info = getBackendInfo('cpu');
const notes = [
  `# gpt: a small GPT's training step and generation, tsgrad/cpu (${info.path} path, ${String(info.simd)}) vs PyTorch and jax-js, float32`,
  `Node ${process.versions.node}, ${torchVersions}, @jax-js/jax 0.1.25, \`npm run bench -- gpt\`, ${cpus().length} cores, 1-minute load average ` +
    `${loadAtStart.toFixed(1)} at start and ${loadavg()[0]!.toFixed(1)} at end. ${ROUNDS} interleaved rounds; the ratios are medians over rounds of ` +
    '(time / PyTorch\'s time in the same round); above 1× means slower than PyTorch. The model: GPT-2 blocks (transformers\' GPT2LMHeadModel in ' +
    'tsgrad and PyTorch), 2 layers, width 64, 4 heads, context 64, 96 symbols, batch 32, AdamW (lr 1e-3, weight decay 0.01); LoRA r4, alpha 8 ' +
    'on c_attn (PEFT in PyTorch). Each step reads its loss back. "1 thread" holds tsgrad\'s threaded kernels (matmul, attention, elementwise ops ' +
    'of 64k elements or more) to one thread (its other kernels are single-threaded). "Matrix products alone" runs the full step\'s forward and ' +
    'backward products (x·W, dy·Wᵀ and xᵀ·dy of every Conv1D and of the tied output head, in the step\'s layouts; bench/cases/gpt.ts) one after ' +
    'another without gradients, in both libraries: tsgrad\'s WebAssembly kernel computes 4 float32 lanes per instruction (SIMD128), PyTorch\'s ' +
    'kernels 8 or 16 on a CPU with AVX2 or AVX-512, and that row is the part of the step\'s gap that comes from the width of the vectors. tsgrad\'s matmuls use relaxed SIMD\'s fused multiply-add where the engine has it, as browsers and Node 22 and ' +
    'later do by default; on Node 20, where V8 keeps it behind a flag, the backend turns the flag on when it starts, so jax-js, in the same process, ' +
    'has it too. "SIMD128" rows run the same steps, timed the same way, in a child process with TSGRAD_CPU_RELAXED=0, which keeps plain SIMD128: ' +
    'a multiply and an add for every multiply-add, as on an engine without relaxed SIMD (bench/peers/gptSimd128.ts). ' +
    'PyTorch\'s threads are torch.set_num_threads. Generation is greedy with the key/value cache from an 8-token prompt. ' +
    'jax-js runs one jit-compiled function per step (loss, gradient and AdamW) on its WebAssembly device, the only one it has in Node. In Node 20 ' +
    'its dotProductAttention fails (its einsum parser needs iterator helpers, Node 22+) and its jit cannot compile the scatter that is the gradient ' +
    'of `take`, so there attention is composed (q·kᵀ, a causal where, softmax, ·v) and the embedding and the loss pick are one-hot products ' +
    '(bench/peers/gptJax.ts). Generation is not measured for jax-js: it has no GPT generate, and a hand-written key/value cache was not written for this bench.',
  table,
];
console.log(`\n${table}`);
save('gpt', rows, notes);
