// The GPT demo: pretrain a small GPT-2 on Moby Dick, adapt it to State of the Union addresses
// with LoRA (on c_attn unless told otherwise) at ranks 1, 4 and 8, by full fine-tuning and from
// scratch, and compare them on held-out addresses; then rank 4 again over the base stored in
// float16 and in NF4 (QLoRA); save the model and the rank-4 adapter as transformers and PEFT do.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, getBackend, io, manualSeed, models, nn, noGrad, scope, setBackend } from '../../src/index.js';
import { type Curve, lossPlot } from '../shared/plot.js';
import { HELD_OUT_EVERY, SYMBOLS, evenBatches, mobyDick, stateOfTheUnion, vocabJson } from './data.js';
import { CONFIG, copyOf, newModel, sample } from './model.js';
import { type RunName, type RunResult, table } from './report.js';
import { type Trained, heldOutLoss, train, weightBytes } from './train.js';

export interface DemoOptions {
  seed: number;
  backend: string;
  /** A few steps of everything (CI's check that the demo runs and its files open), instead of the full story. */
  quick: boolean;
  /** The layers LoRA adapts, as PEFT's target_modules (default ['c_attn'], the attention's q, k and v). */
  loraTargets?: string[];
  out: string;
  /** Where progress and the table go (default: stdout, with a progress bar on terminals). */
  log?: (line: string) => void;
}

/** Step counts, batch and learning rates of one demo run. */
export interface Settings {
  pretrainSteps: number;
  adaptSteps: number;
  batch: number;
  warmup: number;
  /** Held-out windows of 64 characters the held-out loss averages over. */
  heldOutWindows: number;
  lr: { pretrain: number; lora: number; full: number; scratch: number };
}

export const FULL: Settings = {
  pretrainSteps: 1200, adaptSteps: 250, batch: 32, warmup: 50, heldOutWindows: 512,
  lr: { pretrain: 3e-3, lora: 3e-2, full: 1e-3, scratch: 3e-3 },
};

export const QUICK: Settings = { ...FULL, pretrainSteps: 30, adaptSteps: 8, batch: 8, warmup: 5, heldOutWindows: 32 };

/** Every sample starts from this prompt. */
export const PROMPT = 'The ';

const LORA_RANKS = [1, 4, 8] as const;

export interface DemoResults {
  seed: number;
  backend: string;
  quick: boolean;
  loraTargets: string[];
  settings: Settings;
  config: typeof CONFIG;
  data: { mobyDickCharacters: number; trainAddresses: number; trainCharacters: number; heldOutAddresses: number; heldOutCharacters: number };
  runs: RunResult[];
  /** The saved files read back: largest |logit| differences, and the merged adapter's held-out loss. */
  checks: { pretrainedReloadMaxDiff: number; adapterReloadMaxDiff: number; mergedHeldOutLoss: number; unmergedHeldOutLoss: number };
  prompt: string;
  seconds: number;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Runs the whole demo and writes DIR/results.json, DIR/loss.svg, DIR/base/ (with vocab.json) and DIR/adapter/. */
export async function runDemo(opts: DemoOptions): Promise<DemoResults> {
  const began = performance.now();
  const say = opts.log ?? ((line: string) => console.log(line));
  const s = opts.quick ? QUICK : FULL;
  const targets = opts.loraTargets ?? ['c_attn'];
  await setBackend(opts.backend);
  const context = CONFIG.nPositions;
  const moby = mobyDick();
  const sotu = stateOfTheUnion();
  const heldOut = evenBatches(sotu.heldOut, s.heldOutWindows, s.batch, context);
  say(`${moby.length.toLocaleString('en-US')} characters of Moby Dick; ${sotu.trainCount} State of the Union addresses to adapt on ` +
    `(${sotu.train.length.toLocaleString('en-US')} characters), ${sotu.heldOutCount} held out (every ${HELD_OUT_EVERY}th); ` +
    `${SYMBOLS.length} symbols; LoRA on ${targets.join(', ')}; backend ${getBackend().name}, seed ${opts.seed}${opts.quick ? ', quick mode' : ''}`);
  const common = { warmup: s.warmup, batch: s.batch, context, log: opts.log };

  manualSeed(opts.seed);
  const base = newModel();
  const pre = await train(base, moby, { ...common, label: 'pretrain', steps: s.pretrainSteps, lr: s.lr.pretrain, seed: opts.seed });
  base.freeze();
  const curves: Curve[] = [];
  const runs: RunResult[] = [];
  const finish = async (name: RunName, model: models.GPT2LMHeadModel, t: Trained | null) => {
    const result: RunResult = {
      name, heldOutLoss: await heldOutLoss(model, heldOut), trainable: t ? model.numParameters({ trainableOnly: true }) : 0,
      weightBytes: weightBytes(model),
      gradOptimizerBytes: t?.gradOptimizerBytes ?? 0, activationBytes: t?.activationBytes ?? 0, msPerStep: t?.msPerStep ?? 0,
      steps: t?.losses.length ?? 0, sample: await sample(model, PROMPT, new Generator().manualSeed(opts.seed)),
    };
    runs.push(result);
    curves.push({ name: name === 'base' ? 'pretrain (base)' : name, startStep: name === 'base' ? 0 : s.pretrainSteps, losses: (t ?? pre).losses, heldOutLoss: result.heldOutLoss });
  };
  await finish('base', base, null);

  const adapted = new Map<number, models.GPT2LMHeadModel>();
  for (const rank of LORA_RANKS) {
    manualSeed(opts.seed + rank);
    const model = copyOf(base);
    nn.applyLoRA(model, { targets, rank, alpha: rank });
    await finish(`lora-r${rank}`, model, await train(model, sotu.train, { ...common, label: `lora r${rank}`, steps: s.adaptSteps, lr: s.lr.lora, seed: opts.seed + rank }));
    adapted.set(rank, model);
  }
  // Rank 4 again, with the same seed and steps, over the frozen base stored in 16 bits, and over
  // its linear layers quantized to NF4 with double quantization as QLoRA does (the embeddings and
  // LayerNorms stay float32; at this width they are a tenth of the weights).
  const lowPrecision = [
    ['lora-r4-float16', async (m: models.GPT2LMHeadModel) => { await m.to({ dtype: 'float16' }); }],
    ['lora-r4-nf4', async (m: models.GPT2LMHeadModel) => { nn.quantize(m, { format: 'nf4', doubleQuant: true, targets: ['c_attn', 'c_proj', 'c_fc'] }); }],
  ] as const;
  for (const [name, store] of lowPrecision) {
    manualSeed(opts.seed + 4);
    const model = copyOf(base);
    await store(model);
    nn.applyLoRA(model, { targets, rank: 4, alpha: 4 });
    await finish(name, model, await train(model, sotu.train, { ...common, label: name.replace('lora-r4-', 'lora r4 '), steps: s.adaptSteps, lr: s.lr.lora, seed: opts.seed + 4 }));
  }
  const full = copyOf(base).unfreeze();
  await finish('full', full, await train(full, sotu.train, { ...common, label: 'full', steps: s.adaptSteps, lr: s.lr.full, seed: opts.seed + 100 }));
  manualSeed(opts.seed + 200);
  const scratch = newModel();
  await finish('scratch', scratch, await train(scratch, sotu.train, { ...common, label: 'scratch', steps: s.adaptSteps, lr: s.lr.scratch, seed: opts.seed + 200 }));

  // The pretrained model as transformers saves one, with the vocabulary beside it; the rank-4
  // adapter as PEFT saves one. Both are read back here and must compute what was trained.
  const baseDir = join(opts.out, 'base'), adapterDir = join(opts.out, 'adapter');
  mkdirSync(opts.out, { recursive: true });
  await base.savePretrained(baseDir);
  writeFileSync(join(baseDir, 'vocab.json'), `${JSON.stringify(vocabJson())}\n`);
  const r4 = adapted.get(4)!;
  await io.saveAdapterDir(r4, adapterDir, { baseModelNameOrPath: baseDir });
  const reloaded = await models.GPT2LMHeadModel.fromPretrained(baseDir);
  const probe = heldOut[0]!.inputs;
  const logits = (m: models.GPT2LMHeadModel) => noGrad(() => scope(() => m.forward(probe).data()));
  const pretrainedReloadMaxDiff = maxAbsDiff(await logits(base), await logits(reloaded));
  nn.applyLoRA(reloaded, { targets, rank: 4, alpha: 4 });
  io.loadAdapterDir(reloaded, adapterDir);
  const adapterReloadMaxDiff = maxAbsDiff(await logits(r4), await logits(reloaded));
  const unmergedHeldOutLoss = runs.find((r) => r.name === 'lora-r4')!.heldOutLoss;
  for (const m of reloaded.modules()) if (m instanceof nn.LoRALinear) m.merge();
  const mergedHeldOutLoss = await heldOutLoss(reloaded, heldOut);
  say(`saved the base model to ${baseDir} and the rank-4 adapter to ${adapterDir}; read back: max |logit diff| ${pretrainedReloadMaxDiff.toExponential(1)} ` +
    `(base) and ${adapterReloadMaxDiff.toExponential(1)} (adapter); merged held-out loss ${mergedHeldOutLoss.toFixed(6)} vs unmerged ${unmergedHeldOutLoss.toFixed(6)}`);
  if (pretrainedReloadMaxDiff > 1e-5) throw new Error(`the reloaded base model's logits differ from the trained model's by ${pretrainedReloadMaxDiff}`);
  if (adapterReloadMaxDiff > 1e-5) throw new Error(`the reloaded adapter's logits differ from the trained model's by ${adapterReloadMaxDiff}`);
  if (Math.abs(mergedHeldOutLoss - unmergedHeldOutLoss) > 1e-4) throw new Error(`merging changed the held-out loss from ${unmergedHeldOutLoss} to ${mergedHeldOutLoss}`);

  const results: DemoResults = {
    seed: opts.seed, backend: getBackend().name, quick: opts.quick, loraTargets: targets, settings: s, config: CONFIG,
    data: { mobyDickCharacters: moby.length, trainAddresses: sotu.trainCount, trainCharacters: sotu.train.length, heldOutAddresses: sotu.heldOutCount, heldOutCharacters: sotu.heldOut.length },
    runs, checks: { pretrainedReloadMaxDiff, adapterReloadMaxDiff, mergedHeldOutLoss, unmergedHeldOutLoss }, prompt: PROMPT,
    seconds: (performance.now() - began) / 1000,
  };
  writeFileSync(join(opts.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(opts.out, 'loss.svg'), lossPlot(curves, {
    title: `GPT demo: training loss (lines), held-out loss on State of the Union addresses (dots); seed ${opts.seed}, ${results.backend}`,
    xLabel: 'step (pretraining on Moby Dick, then adaptation on State of the Union addresses)', yRange: [1.5, 3.5],
  }));
  say(`\n${table(runs, PROMPT)}\n\nwrote ${join(opts.out, 'results.json')}, ${join(opts.out, 'loss.svg')}, ${baseDir}/ and ${adapterDir}/ in ${results.seconds.toFixed(0)} s`);
  return results;
}
