// The diffusion demo's training loop: Adam on random batches, each image noised at a random
// timestep, MSE between the predicted and the true noise; and what one step costs.
import { Generator, memoryReport, nn, optim, scope, yieldToEventLoop } from '../../src/index.js';
import { Progress } from '../shared/progress.js';
import { type Digits, randomBatch } from './data.js';
import type { NoiseSchedule } from './ddpm.js';
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
  log?: (line: string) => void;
}

/** What training did and cost. */
export interface Trained {
  losses: number[];
  msPerStep: number;
  /** Gradients plus Adam's two moments after the first step (memoryReport). */
  gradOptimizerBytes: number;
}

/** Trains the parameters of `model` that require grad to predict the noise added to images of `data`. */
export async function train(model: UNet2DModel, schedule: NoiseSchedule, data: Digits, opts: TrainOptions): Promise<Trained> {
  const opt = new optim.Adam(model.parameters().filter((p) => p.requiresGrad), { lr: opts.lr });
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
      return l.item();
    });
    losses.push(loss);
    bar.update(step, loss);
    await yieldToEventLoop();
  }
  model.eval();
  return { losses, msPerStep: (performance.now() - start) / opts.steps, gradOptimizerBytes };
}
