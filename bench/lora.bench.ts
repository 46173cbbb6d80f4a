// LoRA on the CPU backend: a training step of LoRALinear(768, 768, rank 4) against full
// fine-tuning of Linear(768, 768) (batch 64, MSE, Adam), and inference of a merged LoRALinear
// against a plain Linear and an unmerged LoRALinear. The rows report the ratios the README quotes.
// Then both steps against PyTorch + PEFT (bench/peers/lora_torch.py) on 1 and 2 threads, in
// interleaved rounds, with the step's one large product (the frozen base's x·W0ᵀ) timed alone in
// both libraries: the floor the LoRA step cannot go below.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureMatmulThreads } from '../src/backends/cpu/matmul.js';
import { manualSeed, nn, noGrad, optim, randn, scope, setBackend } from '../src/index.js';
import { type BenchRow, type BenchTask, measure, medianMs, pairedRatios, save } from './harness.js';

const F = nn.functional;
const D = 768, BATCH = 64, RANK = 4;
const loadAtStart = loadavg()[0]!;
await setBackend('cpu');
const threads = configureMatmulThreads({}).threads;
manualSeed(0);
const x = randn([BATCH, D]), target = randn([BATCH, D]);

function trainStep(model: nn.Module, opt: optim.Optimizer<object>): void {
  scope(() => {
    const loss = F.mseLoss(model.forward(x), target);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    loss.itemSync();
  });
}

function infer(model: nn.Module): void {
  noGrad(() => scope(() => model.forward(x).dataSync()));
}

const lora = new nn.LoRALinear(D, D, { rank: RANK, alpha: 8 });
const loraOpt = new optim.Adam(lora.parameters(), { lr: 1e-3 });
const full = new nn.Linear(D, D);
const fullOpt = new optim.Adam(full.parameters(), { lr: 1e-3 });
// Trained adapters, so merging folds a nonzero update.
for (let i = 0; i < 3; i++) trainStep(lora, loraOpt);
const merged = new nn.LoRALinear(D, D, { rank: RANK, alpha: 8 });
merged.loadStateDict(lora.stateDict());
merged.merge();
const plain = new nn.Linear(D, D);

const train: BenchTask[] = [
  { case: 'train step 768x768 b64', impl: 'tsgrad/cpu full fine-tuning', run: () => trainStep(full, fullOpt) },
  { case: 'train step 768x768 b64', impl: 'tsgrad/cpu LoRA r4', run: () => trainStep(lora, loraOpt) },
];
// Inference runs in rounds with the order rotated, so machine drift and the garbage a previous
// task leaves behind hit every variant alike.
const inferTasks = (round: number): BenchTask[] => {
  const variants: [string, nn.Module][] = [['plain Linear', plain], ['LoRA merged', merged], ['LoRA unmerged', lora]];
  const rotated = [...variants.slice(round % 3), ...variants.slice(0, round % 3)];
  return rotated.map(([name, m]) => ({ case: 'inference 768x768 b64', impl: `${name} #${round}`, run: () => infer(m) }));
};

const rows: BenchRow[] = await measure('lora', train, { time: 3000, iterations: 20 });
for (let round = 1; round <= 3; round++) rows.push(...(await measure('lora', inferTasks(round), { time: 1500, iterations: 20 })));

const [, trainRatio] = await pairedRatios([() => trainStep(full, fullOpt), () => trainStep(lora, loraOpt)], 60);
const [, mergedRatio, unmergedRatio] = await pairedRatios([() => infer(plain), () => infer(merged), () => infer(lora)], 300);
// Against PyTorch: each round times tsgrad on 1 thread and on its default threads, then PyTorch
// on 1 and 2 (a child process), and the ratios are taken within the round.
const here = dirname(fileURLToPath(import.meta.url));
const python = process.env['TSGRAD_BENCH_PYTHON'] ?? join(here, '..', '.venv-hf', 'bin', 'python');
if (!existsSync(python)) throw new Error(`no Python with torch and peft at ${python}: run scripts/hf-venv.sh or set TSGRAD_BENCH_PYTHON`);
const ROUNDS = 5, STEPS = 60;
type Mode = 'full' | 'lora' | 'matmul';
const MODES: Mode[] = ['full', 'lora', 'matmul'];
const w0 = randn([D, D]);
const baseProduct = () => noGrad(() => scope(() => void x.matmul(w0.transpose(0, 1))));
const timedOf: Record<Mode, () => void> = { full: () => trainStep(full, fullOpt), lora: () => trainStep(lora, loraOpt), matmul: baseProduct };
const LABEL: Record<Mode, string> = { full: 'full fine-tuning', lora: 'LoRA r4', matmul: 'x·W0ᵀ alone (no grad)' };
const counts = [...new Set([1, threads])];
let versions = '';
const ratios: Record<string, number[]> = {};
const oursMs: Record<string, number[]> = {}, torchMs: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  const ours: Record<string, number> = {};
  for (const n of counts) {
    configureMatmulThreads({ threads: n });
    for (const m of MODES) ours[`${m}|${n}`] = medianMs(timedOf[m], STEPS);
  }
  configureMatmulThreads({ threads });
  const run = spawnSync(python, [join(here, 'peers', 'lora_torch.py'), JSON.stringify({ d: D, batch: BATCH, steps: STEPS, threads: counts })], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the PyTorch peer failed:\n${run.stderr}`);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; peft: string; cpu: string; rows: Record<string, Record<Mode, number>> };
  versions = `torch ${out.torch} (its CPU kernels: ${out.cpu}), peft ${out.peft}`;
  for (const n of counts) {
    for (const m of MODES) {
      const k = `${m}|${n}`, theirs = out.rows[String(n)]![m];
      (ratios[k] ??= []).push(ours[k]! / theirs);
      (oursMs[k] ??= []).push(ours[k]!);
      (torchMs[k] ??= []).push(theirs);
    }
  }
  console.log(`round ${round + 1}/${ROUNDS}: ${counts.map((n) => MODES.map((m) => `${m} ${n}t ${ours[`${m}|${n}`]!.toFixed(2)} vs ${out.rows[String(n)]![m].toFixed(2)} ms`).join(', ')).join('; ')}`);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const vsTorch = [
  '',
  `Against PyTorch + PEFT (${versions}), the same step (Linear(768, 768), LoRA r4 alpha 8 by PEFT, batch 64, MSE, Adam, the loss read back), ${ROUNDS} interleaved rounds of ${STEPS} timed steps each; medians over rounds, and the ratio is the median of the per-round ratios (above 1× means tsgrad is slower). The last rows time the step's one large product alone, [64, 768]·[768, 768]ᵀ, in both libraries: tsgrad's WebAssembly kernel computes 4 float32 lanes per instruction (SIMD128), where PyTorch's kernels on a CPU with AVX2 or AVX-512 compute 8 or 16, so a LoRA step cannot be faster than this product, and PyTorch's whole step can be:`,
  '',
  '| work | threads (both) | tsgrad ms | PyTorch ms | tsgrad ÷ PyTorch |',
  '|---|---:|---:|---:|---:|',
  ...MODES.flatMap((m) => counts.map((n) => {
    const k = `${m}|${n}`;
    return `| ${LABEL[m]} | ${n} | ${med(oursMs[k]!).toFixed(2)} | ${med(torchMs[k]!).toFixed(2)} | ${med(ratios[k]!).toFixed(2)}× |`;
  })),
  '',
];

const notes = [
  `LoRA r4 / full fine-tuning train-step time: ${trainRatio!.toFixed(2)} (PyTorch reference for this setup: 0.38)`,
  `merged LoRA / plain Linear inference time: ${mergedRatio!.toFixed(2)} (target 1.00 ± 0.03)`,
  `unmerged LoRA / plain Linear inference time: ${unmergedRatio!.toFixed(2)}`,
  'CPU backend, float32, batch 64, MSE loss, Adam; inference under noGrad. Ratios are medians of back-to-back',
  'paired runs (60 train rounds, 300 inference rounds); the table holds tinybench means of each case.',
  // One note, so the table's rows stay together (save() puts a blank line between notes).
  vsTorch.join('\n'),
  `1-minute load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, on ${cpus().length} cores: other work on the machine widens the spread of the means.`,
];
for (const n of notes) console.log(n);
save('lora', rows, notes);
