// The GPT demo's training loop and held-out loss: Adam on random windows, next-character
// cross-entropy, and what one step costs in time and memory.
import { Generator, type Tensor, memoryReport, nn, noGrad, optim, scope, yieldToEventLoop } from '../../src/index.js';
import { Progress } from '../shared/progress.js';
import { type Batch, randomBatch } from './data.js';

/** Mean next-character cross-entropy (nats per character) of logits [B, T, V] against targets [B, T]. */
export function lossOf(logits: Tensor, targets: Tensor): Tensor {
  return nn.functional.crossEntropy(logits.reshape([-1, logits.shape[2]!]), targets.reshape([-1]));
}

/** What a model's forward must do for the demo: int32 ids [B, T] to logits [B, T, V]. */
export interface LanguageModel extends nn.Module {
  forward(ids: Tensor): Tensor;
}

export interface TrainOptions {
  /** The progress bar's label. */
  label: string;
  steps: number;
  /** Peak learning rate: it rises over the first `warmup` steps, then falls linearly to a tenth. */
  lr: number;
  warmup: number;
  batch: number;
  context: number;
  /** Seeds the batches' generator. */
  seed: number;
  log?: (line: string) => void;
  /** Called after each step (1-based) with its loss; training waits for it (a page redraws its chart here). */
  onStep?: (step: number, loss: number) => void | Promise<void>;
}

export interface Trained {
  losses: number[];
  msPerStep: number;
  /** Gradients plus Adam's two moments after the first step (memoryReport). */
  gradOptimizerBytes: number;
  /** Tensors the first step's graph saved for backward (memoryReport), parameters not counted. */
  activationBytes: number;
}

/** Trains the parameters of `model` that require grad on random windows of `ids`. */
export async function train(model: LanguageModel, ids: Int32Array, opts: TrainOptions): Promise<Trained> {
  const opt = new optim.Adam(model.parameters().filter((p) => p.requiresGrad), { lr: opts.lr });
  const g = new Generator().manualSeed(opts.seed);
  const bar = new Progress(opts.label, opts.steps, { write: opts.log });
  const losses: number[] = [];
  let gradOptimizerBytes = 0, activationBytes = 0;
  model.train();
  const start = performance.now();
  for (let step = 1; step <= opts.steps; step++) {
    const warm = Math.min(1, step / Math.max(1, opts.warmup));
    opt.paramGroups[0]!.lr = opts.lr * warm * (1 - (0.9 * (step - 1)) / opts.steps);
    const loss = await scope(async () => {
      const { inputs, targets } = randomBatch(ids, opts.batch, opts.context, g);
      const l = lossOf(model.forward(inputs), targets);
      if (step === 1) activationBytes = memoryReport(model, null, { output: l }).activations.bytes;
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
    await opts.onStep?.(step, loss);
    await yieldToEventLoop();
  }
  model.eval();
  return { losses, msPerStep: (performance.now() - start) / opts.steps, gradOptimizerBytes, activationBytes };
}

/** Mean loss over `batches` (the same windows for every model), without a graph. */
export async function heldOutLoss(model: LanguageModel, batches: Batch[]): Promise<number> {
  model.eval();
  let total = 0, count = 0;
  for (const { inputs, targets } of batches) {
    const loss = noGrad(() => scope(() => lossOf(model.forward(inputs), targets)));
    total += targets.size * await loss.item();
    loss.dispose();
    count += targets.size;
    await yieldToEventLoop();
  }
  return total / count;
}

/** Every parameter's bytes, frozen and trainable, counted from the storages (so a 16-bit or NF4 base shows as such). */
export function weightBytes(model: nn.Module): number {
  const m = memoryReport(model);
  return m.frozenParams.bytes + m.trainableParams.bytes;
}
