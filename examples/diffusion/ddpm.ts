// DDPM (Ho et al. 2020): the linear noise schedule, the noised training batch with its
// epsilon target, and sampling. Sampling uses DDIM's deterministic update (Song et al. 2021,
// eta = 0) on an evenly spaced subset of the timesteps, so a sample costs tens of UNet passes
// instead of the schedule's thousand.
import { type Generator, type Tensor, fromTypedArray, noGrad, scope, yieldToEventLoop } from '../../src/index.js';
import { PIXELS } from './data.js';

/** What the sampler needs of a model: the predicted noise for images at timesteps. */
export interface NoisePredictor {
  forward(sample: Tensor, timesteps: readonly number[]): Tensor;
}

/** Ho et al.'s linear schedule of betas over `numTimesteps` steps, and its cumulative products. */
export class NoiseSchedule {
  readonly betas: Float64Array;
  /** ᾱ_t, the product of (1 − β) up to and including step t: the signal's share of x_t's variance. */
  readonly alphasCumprod: Float64Array;

  constructor(readonly numTimesteps = 1000, betaStart = 1e-4, betaEnd = 0.02) {
    this.betas = Float64Array.from({ length: numTimesteps }, (_, t) => betaStart + ((betaEnd - betaStart) * t) / (numTimesteps - 1));
    this.alphasCumprod = new Float64Array(numTimesteps);
    let product = 1;
    this.betas.forEach((b, t) => (this.alphasCumprod[t] = product *= 1 - b));
  }

  /** x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε for images [n·784] each at its own timestep (the forward process q(x_t | x_0)). */
  addNoise(images: Float32Array, noise: Float32Array, timesteps: readonly number[]): Float32Array {
    const out = new Float32Array(images.length);
    timesteps.forEach((t, n) => {
      const a = Math.sqrt(this.alphasCumprod[t]!), s = Math.sqrt(1 - this.alphasCumprod[t]!);
      for (let i = n * PIXELS; i < (n + 1) * PIXELS; i++) out[i] = a * images[i]! + s * noise[i]!;
    });
    return out;
  }

  /**
   * One training batch for epsilon prediction: the images noised at uniform random timesteps, the
   * timesteps, and the noise the model must predict (its loss is the MSE against it).
   */
  trainingBatch(images: Float32Array, g: Generator): { sample: Tensor; timesteps: number[]; target: Tensor } {
    const n = images.length / PIXELS;
    const noise = Float32Array.from({ length: images.length }, () => g.nextNormal());
    const timesteps = Array.from({ length: n }, () => Math.floor(g.nextUniform() * this.numTimesteps));
    return {
      sample: fromTypedArray(this.addNoise(images, noise, timesteps), [n, 1, 28, 28]),
      timesteps,
      target: fromTypedArray(noise, [n, 1, 28, 28]),
    };
  }
}

/** Options of `sample`. */
export interface SampleOptions {
  count: number;
  /** DDIM steps, evenly spaced over the schedule (default 25). */
  steps?: number;
  generator: Generator;
  /** Called after each step (a progress bar). */
  onStep?: (step: number, steps: number) => void;
}

/**
 * `count` images [count·784] in [-1, 1] drawn from pure noise by DDIM with eta = 0: at each
 * chosen timestep the model's noise gives x̂_0 (clipped to [-1, 1]), which is noised again to the
 * next chosen timestep with the same predicted noise.
 */
export async function sample(model: NoisePredictor, schedule: NoiseSchedule, opts: SampleOptions): Promise<Float32Array> {
  const steps = opts.steps ?? 25, n = opts.count;
  const times = Array.from({ length: steps }, (_, i) => Math.round(((steps - 1 - i) * (schedule.numTimesteps - 1)) / (steps - 1)));
  let x = Float32Array.from({ length: n * PIXELS }, () => opts.generator.nextNormal());
  for (let i = 0; i < steps; i++) {
    const t = times[i]!, ab = schedule.alphasCumprod[t]!;
    const abNext = i + 1 < steps ? schedule.alphasCumprod[times[i + 1]!]! : 1;
    const eps = await scope(async () => noGrad(() => model.forward(fromTypedArray(x, [n, 1, 28, 28]), new Array<number>(n).fill(t))).data());
    const next = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const x0 = Math.min(1, Math.max(-1, (x[j]! - Math.sqrt(1 - ab) * eps[j]!) / Math.sqrt(ab)));
      // The noise consistent with the clipped x̂_0, so the last step lands exactly on it.
      const e = (x[j]! - Math.sqrt(ab) * x0) / Math.sqrt(1 - ab);
      next[j] = Math.sqrt(abNext) * x0 + Math.sqrt(1 - abNext) * e;
    }
    x = next;
    opts.onStep?.(i + 1, steps);
    await yieldToEventLoop();
  }
  return x;
}
