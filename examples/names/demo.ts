// The names demo: pretrain a character MLP on male names, adapt it to female names with LoRA at
// ranks 1, 4 and 8, with full fine-tuning and from scratch, and compare them on held-out names.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, getBackend, io, manualSeed, memoryReport, nn, optim, randint, scope, setBackend } from '../../src/index.js';
import { type Examples, examples, femaleSplit, maleNames } from './data.js';
import { CharMLP, LINEARS, breather, copyOf, meanLoss, sampleNames } from './model.js';
import { type Curve, lossPlot } from '../shared/plot.js';
import { Progress } from '../shared/progress.js';

export interface DemoOptions {
  seed: number;
  backend: string;
  /** Multiplies every run's step count (1: 3,000 pretraining and 1,200 adaptation steps). */
  stepsScale: number;
  out: string;
  /** Where progress and the table go (default: stdout, with a progress bar on terminals). */
  log?: (line: string) => void;
}

export type RunName = 'base' | 'lora-r1' | 'lora-r4' | 'lora-r8' | 'full' | 'scratch';

export interface RunResult {
  name: RunName;
  heldOutLoss: number;
  trainable: number;
  gradOptimizerBytes: number;
  msPerStep: number;
  steps: number;
  samples: string[];
}

export interface DemoResults {
  seed: number;
  backend: string;
  steps: { pretrain: number; adapt: number; batch: number };
  runs: RunResult[];
  checks: { adapterReloadMaxDiff: number; mergedHeldOutLoss: number; unmergedHeldOutLoss: number };
  seconds: number;
}

const PRETRAIN_STEPS = 3000, ADAPT_STEPS = 1200, BATCH = 64;

interface Trained {
  losses: number[];
  msPerStep: number;
  gradOptimizerBytes: number;
}

/** Adam on random batches of `data`, the learning rate falling linearly to a tenth. */
async function train(label: string, model: nn.Module, data: Examples, steps: number, lr: number, seed: number, log?: (l: string) => void): Promise<Trained> {
  const opt = new optim.Adam(model.parameters(), { lr });
  const g = new Generator().manualSeed(seed);
  const bar = new Progress(label, steps, { write: log });
  const losses: number[] = [];
  let gradOptimizerBytes = 0;
  const start = performance.now();
  for (let step = 1; step <= steps; step++) {
    opt.paramGroups[0]!.lr = lr * (1 - (0.9 * (step - 1)) / steps);
    const loss = await scope(async () => {
      const rows = randint(data.count, [BATCH], { generator: g });
      const l = nn.functional.crossEntropy(model.forward(data.contexts.indexSelect(0, rows)), data.targets.indexSelect(0, rows));
      l.backward();
      opt.step();
      if (step === 1) {
        const m = memoryReport(model, opt);
        gradOptimizerBytes = m.gradients.bytes + m.optimizerState.bytes;
      }
      opt.zeroGrad();
      return l.item();
    });
    losses.push(loss);
    bar.update(step, loss);
    if (step % 10 === 0) await breather();
  }
  return { losses, msPerStep: (performance.now() - start) / steps, gradOptimizerBytes };
}

function table(runs: RunResult[]): string {
  const head = ['run', 'held-out loss', 'trainable', 'grad+optim bytes', 'ms/step', 'samples'];
  const rows = runs.map((r) => [r.name, r.heldOutLoss.toFixed(3), r.trainable.toLocaleString('en-US'), r.gradOptimizerBytes.toLocaleString('en-US'),
    r.steps ? r.msPerStep.toFixed(1) : '-', r.samples.join(' ')]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** Runs the whole demo and writes DIR/results.json, DIR/loss.svg and DIR/adapter/. */
export async function runDemo(opts: DemoOptions): Promise<DemoResults> {
  const began = performance.now();
  const say = opts.log ?? ((line: string) => console.log(line));
  await setBackend(opts.backend);
  const pretrainSteps = Math.max(1, Math.round(PRETRAIN_STEPS * opts.stepsScale));
  const adaptSteps = Math.max(1, Math.round(ADAPT_STEPS * opts.stepsScale));
  const male = examples(maleNames());
  const { train: femaleTrain, heldOut } = femaleSplit();
  const female = examples(femaleTrain), test = examples(heldOut);
  say(`${male.count} male and ${female.count} female training characters, ${test.count} held out; backend ${getBackend().name}, seed ${opts.seed}`);

  manualSeed(opts.seed);
  const base = new CharMLP();
  const pre = await train('pretrain', base, male, pretrainSteps, 3e-3, opts.seed, opts.log);
  base.freeze();
  const curves: Curve[] = [];
  const runs: RunResult[] = [];
  const finish = async (name: RunName, model: nn.Module, t: Trained | null) => {
    const result: RunResult = {
      name, heldOutLoss: await meanLoss(model, test), trainable: t ? model.numParameters({ trainableOnly: true }) : 0,
      gradOptimizerBytes: t?.gradOptimizerBytes ?? 0, msPerStep: t?.msPerStep ?? 0, steps: t?.losses.length ?? 0,
      samples: await sampleNames(model, 5, new Generator().manualSeed(opts.seed)),
    };
    runs.push(result);
    curves.push({ name: name === 'base' ? 'pretrain (base)' : name, startStep: name === 'base' ? 0 : pretrainSteps, losses: (name === 'base' ? pre : t!).losses, heldOutLoss: result.heldOutLoss });
  };
  await finish('base', base, null);

  const adapted = new Map<number, CharMLP>();
  for (const rank of [1, 4, 8]) {
    manualSeed(opts.seed + rank);
    const model = copyOf(base);
    nn.applyLoRA(model, { targets: LINEARS, rank, alpha: rank });
    await finish(`lora-r${rank}` as RunName, model, await train(`lora r${rank}`, model, female, adaptSteps, 1e-2, opts.seed + rank, opts.log));
    adapted.set(rank, model);
  }
  const full = copyOf(base).unfreeze();
  await finish('full', full, await train('full', full, female, adaptSteps, 1e-3, opts.seed + 100, opts.log));
  manualSeed(opts.seed + 200);
  const scratch = new CharMLP();
  await finish('scratch', scratch, await train('scratch', scratch, female, adaptSteps, 3e-3, opts.seed + 200, opts.log));

  // The rank-4 adapter on disk in PEFT's layout; reloaded into a fresh base it computes the same.
  const r4 = adapted.get(4)!;
  mkdirSync(opts.out, { recursive: true });
  await io.saveAdapterDir(r4, join(opts.out, 'adapter'), { baseModelNameOrPath: 'tsgrad-names-base' });
  const reloaded = copyOf(base);
  io.loadAdapterDir(reloaded, join(opts.out, 'adapter'));
  const probe = test.contexts.slice([[0, 512]]);
  const [a, b] = await Promise.all([r4, reloaded].map((m) => scope(() => m.forward(probe).data())));
  const adapterReloadMaxDiff = Array.from(a!).reduce((mx, v, i) => Math.max(mx, Math.abs(v - b![i]!)), 0);
  const unmergedHeldOutLoss = runs.find((r) => r.name === 'lora-r4')!.heldOutLoss;
  for (const m of reloaded.modules()) if (m instanceof nn.LoRALinear) m.merge();
  const mergedHeldOutLoss = await meanLoss(reloaded, test);
  say(`rank-4 adapter saved to ${join(opts.out, 'adapter')}, reloaded: max |output diff| ${adapterReloadMaxDiff.toExponential(1)}; merged held-out loss ${mergedHeldOutLoss.toFixed(6)} vs unmerged ${unmergedHeldOutLoss.toFixed(6)}`);
  if (adapterReloadMaxDiff > 1e-6) throw new Error(`the reloaded adapter's outputs differ from the trained model's by ${adapterReloadMaxDiff}`);
  if (Math.abs(mergedHeldOutLoss - unmergedHeldOutLoss) > 1e-4) throw new Error(`merging changed the held-out loss from ${unmergedHeldOutLoss} to ${mergedHeldOutLoss}`);

  const results: DemoResults = {
    seed: opts.seed, backend: getBackend().name, steps: { pretrain: pretrainSteps, adapt: adaptSteps, batch: BATCH }, runs,
    checks: { adapterReloadMaxDiff, mergedHeldOutLoss, unmergedHeldOutLoss }, seconds: (performance.now() - began) / 1000,
  };
  writeFileSync(join(opts.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(opts.out, 'loss.svg'), lossPlot(curves, {
    title: `names demo: training loss (lines), held-out loss on female names (dots); seed ${opts.seed}, ${results.backend}`,
    xLabel: 'step (pretraining on male names, then adaptation on female names)', yRange: [1.5, 3.5],
  }));
  say(`\n${table(runs)}\n\nwrote ${join(opts.out, 'results.json')} and ${join(opts.out, 'loss.svg')} in ${results.seconds.toFixed(0)} s`);
  return results;
}
