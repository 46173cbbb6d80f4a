// The diffusion demo's training loop: Adam on random batches, each image noised at a random
// timestep, MSE between the predicted and the true noise, with a moving average of the weights
// for sampling; and what one step costs.
import { Generator, memoryReport, nn, optim, scope, yieldToEventLoop } from '../../src/index.js';
import { Progress } from '../shared/progress.js';
import { type Digits, randomBatch } from './data.js';
import type { NoiseSchedule } from './ddpm.js';
import { EMAModel } from './ema.js';
import type { UNet2DModel } from './unet.js';

/** Options of `train`. */
export interface TrainOptions {
  /** The progress bar's label. */
  label: string;
  steps: number;
  /** Peak learning rate: it rises over the first `warmup` steps, then falls linearly to a tenth. */
  lr: number;
  warmup: number;
  batch: number;
  /** Seeds the batches' generator. */
  seed: number;
  /** The decay of the moving average of the trained weights that replaces them at the end (EMAModel); 0 keeps the raw weights. */
  emaDecay: number;
  log?: (line: string) => void;
}

/** What training did and cost. */
export interface Trained {
  losses: number[];
  msPerStep: number;
  /** Gradients plus Adam's two moments after the first step (memoryReport). */
  gradOptimizerBytes: number;
  /** The moving average's copy of the trained weights (sampling-time state, not in gradOptimizerBytes). */
  emaBytes: number;
}

/**
 * Trains the parameters of `model` that require grad to predict the noise added to images of
 * `data`, then replaces them by their moving average (when `emaDecay` > 0).
 */
export async function train(model: UNet2DModel, schedule: NoiseSchedule, data: Digits, opts: TrainOptions): Promise<Trained> {
  const trainable = model.parameters().filter((p) => p.requiresGrad);
  const opt = new optim.Adam(trainable, { lr: opts.lr });
  const ema = opts.emaDecay > 0 ? new EMAModel(trainable, opts.emaDecay) : null;
  const g = new Generator().manualSeed(opts.seed);
  const bar = new Progress(opts.label, opts.steps, { write: opts.log });
  const losses: number[] = [];
  let gradOptimizerBytes = 0;
  model.train();
  const start = performance.now();
  for (let step = 1; step <= opts.steps; step++) {
    const warm = Math.min(1, step / Math.max(1, opts.warmup));
    opt.paramGroups[0]!.lr = opts.lr * warm * (1 - (0.9 * (step - 1)) / opts.steps);
    const loss = await scope(async () => {
      const { images } = randomBatch(data, opts.batch, () => g.nextUniform());
      const { sample, timesteps, target } = schedule.trainingBatch(images, g);
      const l = nn.functional.mseLoss(model.forward(sample, timesteps), target);
      l.backward();
      opt.step();
      if (step === 1) {
        const m = memoryReport(model, opt);
        gradOptimizerBytes = m.gradients.bytes + m.optimizerState.bytes;
      }
      opt.zeroGrad();
      ema?.step();
      return l.item();
    });
    losses.push(loss);
    bar.update(step, loss);
    await yieldToEventLoop();
  }
  const msPerStep = (performance.now() - start) / opts.steps;
  const emaBytes = ema?.bytes() ?? 0;
  ema?.copyTo();
  ema?.dispose();
  model.eval();
  return { losses, msPerStep, gradOptimizerBytes, emaBytes };
}
