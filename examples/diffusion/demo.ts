// The diffusion demo: a small DDPM pretrained on MNIST digits 0–7, adapted to 8 and 9 four ways
// (LoRA rank 4 on the attention and convolution layers, full fine-tuning, from scratch, none),
// judged by a digit classifier trained on the real digits; sample grids and the rank-4 adapter
// (PEFT's layout) are saved.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, getBackend, io, manualSeed, nn, noGrad, scope, setBackend } from '../../src/index.js';
import { type Labels, classify, trainClassifier } from './classifier.js';
import { digits } from './data.js';
import { NoiseSchedule, sample } from './ddpm.js';
import { sampleGrid } from './png.js';
import { CONFIDENT, type RunName, type RunResult, confidentShare8or9, share8or9, table } from './report.js';
import { type Trained, train } from './train.js';
import { UNET_CONFIG, type UNet2DModel, copyOf, makeUNet } from './unet.js';

export interface DemoOptions {
  seed: number;
  backend: string;
  /** A few steps of everything (CI's check that the demo runs and its files open), instead of the full story. */
  quick: boolean;
  out: string;
  /**
   * A pretrained base (the `base/model.safetensors` a run wrote) to adapt instead of pretraining
   * one: with the same seed and settings, the run goes on as the one that wrote it did.
   */
  base?: string;
  /** Overrides of the settings' step counts and learning rates (for trying other budgets). */
  overrides?: Partial<Settings>;
  /** Where progress and the table go (default: stdout, with a progress bar on terminals). */
  log?: (line: string) => void;
}

/** Step counts, batches, learning rates and sampling of one demo run. */
export interface Settings {
  classifierSteps: number;
  pretrainSteps: number;
  adaptSteps: number;
  batch: number;
  warmup: number;
  /** Samples drawn from each run. */
  samples: number;
  /** DDIM steps per sample. */
  samplingSteps: number;
  /**
   * Decays of the moving average of the weights that samples are drawn from (0: the raw weights):
   * its window, about 1/(1 − decay) steps, is a fraction of each run's length.
   */
  emaDecay: { pretrain: number; adapt: number };
  lr: { classifier: number; pretrain: number; lora: number; full: number; scratch: number };
}

export const FULL: Settings = {
  classifierSteps: 300, pretrainSteps: 1800, adaptSteps: 300, batch: 16, warmup: 50, samples: 64, samplingSteps: 20,
  emaDecay: { pretrain: 0.995, adapt: 0.99 },
  lr: { classifier: 2e-3, pretrain: 2e-3, lora: 3e-2, full: 1e-3, scratch: 2e-3 },
};

export const QUICK: Settings = { ...FULL, classifierSteps: 10, pretrainSteps: 3, adaptSteps: 2, batch: 4, warmup: 1, samples: 8, samplingSteps: 3 };

/** The layers LoRA adapts (PEFT's target_modules): every resnet's two convolutions and the attention's projections. */
export const LORA_TARGETS = ['conv1', 'conv2', 'to_q', 'to_k', 'to_v', 'to_out'];

/** The digits pretraining sees, and those the adaptations add. */
export const PRETRAIN_DIGITS = [0, 1, 2, 3, 4, 5, 6, 7];
export const NEW_DIGITS = [8, 9];

export interface DemoResults {
  seed: number;
  backend: string;
  quick: boolean;
  settings: Settings;
  config: typeof UNET_CONFIG;
  numTimesteps: number;
  sampler: string;
  loraTargets: string[];
  data: { pretrainImages: number; adaptImages: number; classifierTrainImages: number; classifierHeldOutImages: number };
  classifierHeldOutAccuracy: number;
  /** The file the pretrained base was read from (`--base`), or null where this run pretrained it. */
  baseLoadedFrom: string | null;
  runs: RunResult[];
  /** The largest |noise difference| between the trained rank-4 model and the base with the adapter read back. */
  adapterReloadMaxDiff: number;
  files: { table: string; grids: Record<string, string>; adapter: string; base: string };
  seconds: number;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function result(name: RunName, labels: Labels, model: UNet2DModel, t: Trained | null): RunResult {
  const histogram = new Array<number>(10).fill(0), confidentHistogram = new Array<number>(10).fill(0);
  let confidence = 0, hits = 0;
  labels.digits.forEach((d, i) => {
    const p = labels.confidence[i]!;
    histogram[d]!++;
    if (d >= 8) (confidence += p), hits++;
    if (p >= CONFIDENT) confidentHistogram[d]!++;
  });
  const confidentDigits = confidentHistogram.reduce((a, b) => a + b, 0), confident8or9 = confidentHistogram[8]! + confidentHistogram[9]!;
  const tail = t ? t.losses.slice(-Math.max(1, Math.floor(t.losses.length / 10))) : [];
  return {
    name, samples: labels.digits.length, confident8or9, confidentDigits, confidentHistogram, eights: histogram[8]!, nines: histogram[9]!, confidence: hits ? confidence / hits : NaN, histogram,
    trainable: t ? model.numParameters({ trainableOnly: true }) : 0, gradOptimizerBytes: t?.gradOptimizerBytes ?? 0, emaBytes: t?.emaBytes ?? 0,
    msPerStep: t?.msPerStep ?? 0, steps: t?.losses.length ?? 0, finalLoss: tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : NaN,
  };
}

/** Runs the whole demo; writes into `out` results.json, table.md, samples-<run>.png and adapter/ (PEFT) with base/. */
export async function runDemo(opts: DemoOptions): Promise<DemoResults> {
  const began = performance.now();
  const say = opts.log ?? ((line: string) => console.log(line));
  const s: Settings = { ...(opts.quick ? QUICK : FULL), ...opts.overrides };
  await setBackend(opts.backend);
  const pretrainData = digits(PRETRAIN_DIGITS, 'train'), adaptData = digits(NEW_DIGITS, 'train');
  const classifierTrain = digits([...PRETRAIN_DIGITS, ...NEW_DIGITS], 'train'), classifierHeldOut = digits([...PRETRAIN_DIGITS, ...NEW_DIGITS], 'heldOut');
  const schedule = new NoiseSchedule(1000);
  const sampler = `DDIM (eta 0), ${s.samplingSteps} of ${schedule.numTimesteps} steps, ${s.emaDecay.pretrain > 0 ? `from the weights' moving average (decay ${s.emaDecay.pretrain} pretraining, ${s.emaDecay.adapt} adapting)` : 'from the raw weights'}`;
  say(`MNIST: ${pretrainData.count} digits 0–7 to pretrain on, ${adaptData.count} 8s and 9s to adapt on, ` +
    `${classifierHeldOut.count} held out for the classifier; DDPM with ${schedule.numTimesteps} steps (linear betas), sampled by ${sampler}; ` +
    `LoRA r4 on ${LORA_TARGETS.join(', ')}; backend ${getBackend().name}, seed ${opts.seed}${opts.quick ? ', quick mode' : ''}`);

  manualSeed(opts.seed);
  const judge = await trainClassifier(classifierTrain, classifierHeldOut, { steps: s.classifierSteps, batch: opts.quick ? 16 : 64, lr: s.lr.classifier, seed: opts.seed, log: opts.log });
  say(`classifier: ${(100 * judge.heldOutAccuracy).toFixed(1)}% right on ${classifierHeldOut.count} held-out digits`);

  mkdirSync(opts.out, { recursive: true });
  const common = { warmup: s.warmup, batch: s.batch, log: opts.log };
  manualSeed(opts.seed);
  const base = makeUNet();
  say(`UNet: ${base.numParameters().toLocaleString('en-US')} parameters`);
  if (opts.base) {
    base.loadStateDict(io.loadSafetensors(opts.base).tensors);
    say(`pretrained base read from ${opts.base}`);
  } else {
    await train(base, schedule, pretrainData, { ...common, label: 'pretrain', steps: s.pretrainSteps, lr: s.lr.pretrain, emaDecay: s.emaDecay.pretrain, seed: opts.seed });
  }
  base.freeze();

  const runs: RunResult[] = [];
  const grids: Record<string, string> = {};
  const finish = async (name: RunName, model: UNet2DModel, t: Trained | null) => {
    const images = await sample(model, schedule, { count: s.samples, steps: s.samplingSteps, generator: new Generator().manualSeed(opts.seed + 1000) });
    const labels = await classify(judge.model, images);
    const r = result(name, labels, model, t);
    runs.push(r);
    grids[name] = join(opts.out, `samples-${name}.png`);
    writeFileSync(grids[name], sampleGrid(images, { columns: 8 }).png);
    say(`${name}: ${(100 * confidentShare8or9(r)).toFixed(0)}% of ${r.samples} samples labelled 8 or 9 with p ≥ ${CONFIDENT} ` +
      `(${(100 * share8or9(r)).toFixed(0)}% by argmax), ${(100 * r.confidentDigits / r.samples).toFixed(0)}% any digit with p ≥ ${CONFIDENT}; argmax digits ${r.histogram.join(' ')}`);
  };
  await finish('base', base, null);

  manualSeed(opts.seed + 4);
  const lora = copyOf(base);
  nn.applyLoRA(lora, { targets: LORA_TARGETS, rank: 4, alpha: 4 });
  await finish('lora-r4', lora, await train(lora, schedule, adaptData, { ...common, label: 'lora r4', steps: s.adaptSteps, emaDecay: s.emaDecay.adapt, lr: s.lr.lora, seed: opts.seed + 4 }));
  const full = copyOf(base).unfreeze();
  await finish('full', full, await train(full, schedule, adaptData, { ...common, label: 'full', steps: s.adaptSteps, emaDecay: s.emaDecay.adapt, lr: s.lr.full, seed: opts.seed + 100 }));
  manualSeed(opts.seed + 200);
  const scratch = makeUNet();
  await finish('scratch', scratch, await train(scratch, schedule, adaptData, { ...common, label: 'scratch', steps: s.adaptSteps, emaDecay: s.emaDecay.adapt, lr: s.lr.scratch, seed: opts.seed + 200 }));

  // The base weights and the rank-4 adapter as PEFT saves one; read back onto a fresh copy of the
  // base, the adapter must predict the same noise as the model that was trained.
  const baseFile = join(opts.out, 'base', 'model.safetensors'), adapterDir = join(opts.out, 'adapter');
  mkdirSync(join(opts.out, 'base'), { recursive: true });
  await io.saveSafetensors(baseFile, base.stateDict(), { format: 'pt' });
  await io.saveAdapterDir(lora, adapterDir, { baseModelNameOrPath: join(opts.out, 'base') });
  const reloaded = copyOf(base);
  nn.applyLoRA(reloaded, { targets: LORA_TARGETS, rank: 4, alpha: 4 });
  io.loadAdapterDir(reloaded, adapterDir);
  const probe = schedule.trainingBatch(adaptData.images.slice(0, 4 * 784), new Generator().manualSeed(opts.seed));
  const noise = (m: UNet2DModel) => scope(async () => noGrad(() => m.forward(probe.sample, probe.timesteps)).data());
  const adapterReloadMaxDiff = maxAbsDiff(await noise(lora), await noise(reloaded));
  say(`saved the base weights to ${baseFile} and the rank-4 adapter to ${adapterDir}; read back: max |noise diff| ${adapterReloadMaxDiff.toExponential(1)}`);
  if (adapterReloadMaxDiff > 1e-5) throw new Error(`the reloaded adapter's predictions differ from the trained model's by ${adapterReloadMaxDiff}`);

  const markdown = table(runs, s.emaDecay);
  const tableFile = join(opts.out, 'table.md');
  writeFileSync(tableFile, `${markdown}\n`);
  const results: DemoResults = {
    seed: opts.seed, backend: getBackend().name, quick: opts.quick, settings: s, config: UNET_CONFIG, numTimesteps: schedule.numTimesteps, sampler,
    loraTargets: LORA_TARGETS,
    data: { pretrainImages: pretrainData.count, adaptImages: adaptData.count, classifierTrainImages: classifierTrain.count, classifierHeldOutImages: classifierHeldOut.count },
    classifierHeldOutAccuracy: judge.heldOutAccuracy, baseLoadedFrom: opts.base ?? null, runs, adapterReloadMaxDiff,
    files: { table: tableFile, grids, adapter: adapterDir, base: baseFile }, seconds: (performance.now() - began) / 1000,
  };
  writeFileSync(join(opts.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  say(`\n${markdown}\n\nclassifier held-out accuracy ${(100 * judge.heldOutAccuracy).toFixed(1)}%; wrote ${tableFile}, ${Object.values(grids).join(', ')}, ` +
    `${adapterDir}/ and results.json in ${results.seconds.toFixed(0)} s`);
  return results;
}

