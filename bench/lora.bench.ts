// LoRA on the CPU backend: a training step of LoRALinear(768, 768, rank 4) against full
// fine-tuning of Linear(768, 768) (batch 64, MSE, Adam), and inference of a merged LoRALinear
// against a plain Linear and an unmerged LoRALinear. The rows report the ratios the README quotes.
import { cpus, loadavg } from 'node:os';
import { manualSeed, nn, noGrad, optim, randn, scope } from '../src/index.js';
import { type BenchRow, type BenchTask, measure, pairedRatios, save } from './harness.js';

const F = nn.functional;
const D = 768, BATCH = 64, RANK = 4;
const loadAtStart = loadavg()[0]!;
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
const notes = [
  `LoRA r4 / full fine-tuning train-step time: ${trainRatio!.toFixed(2)} (PyTorch reference for this setup: 0.38)`,
  `merged LoRA / plain Linear inference time: ${mergedRatio!.toFixed(2)} (target 1.00 ± 0.03)`,
  `unmerged LoRA / plain Linear inference time: ${unmergedRatio!.toFixed(2)}`,
  'CPU backend, float32, batch 64, MSE loss, Adam; inference under noGrad. Ratios are medians of back-to-back',
  'paired runs (60 train rounds, 300 inference rounds); the table holds tinybench means of each case.',
  `1-minute load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, on ${cpus().length} cores: other work on the machine widens the spread of the means.`,
];
for (const n of notes) console.log(n);
save('lora', rows, notes);
