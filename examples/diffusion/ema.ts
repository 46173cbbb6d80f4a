// An exponential moving average of a model's trainable weights (Ho et al. 2020 sample from one;
// diffusers' EMAModel), which smooths away the last steps' noise: diffusion models draw visibly
// cleaner samples from the average than from the raw weights. It is sampling-time state: it takes
// no part in the backward or the optimizer, so it is not counted with the gradients and Adam's moments.
import { type Tensor, keep, noGrad, scope } from '../../src/index.js';

/**
 * Shadow copies of `parameters`, moved towards them after each optimizer step by
 * s ← s − (1 − d)·(s − p), with d = min(decay, (1 + n)/(10 + n)) after n updates (diffusers'
 * warm-up without `use_ema_warmup`), so the first steps' random weights fade quickly.
 *
 * @example
 * const ema = new EMAModel(model.parameters().filter((p) => p.requiresGrad), 0.995);
 * // after each opt.step(): ema.step();  after training: ema.copyTo();
 */
export class EMAModel {
  readonly shadow: Tensor[];
  /** Updates so far. */
  steps = 0;

  constructor(readonly parameters: Tensor[], readonly decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`EMAModel: decay must be in [0, 1), got ${decay}`);
    this.shadow = noGrad(() => parameters.map((p) => keep(p.clone())));
  }

  /** The decay the next update uses. */
  currentDecay(): number {
    return Math.min(this.decay, (1 + this.steps) / (10 + this.steps));
  }

  /** Moves the shadow weights towards the parameters' current values. */
  step(): void {
    const d = this.currentDecay();
    scope(() => noGrad(() => this.shadow.forEach((s, i) => s.add_(this.parameters[i]!.sub(s).mul(1 - d)))));
    this.steps++;
  }

  /** Writes the averaged weights into the parameters (for sampling and saving). */
  copyTo(): void {
    noGrad(() => this.parameters.forEach((p, i) => p.copy_(this.shadow[i]!)));
  }

  /** Frees the shadow weights. */
  dispose(): void {
    for (const s of this.shadow) s.dispose();
  }

  /** Bytes the shadow weights hold. */
  bytes(): number {
    return this.shadow.reduce((n, s) => n + 4 * s.size, 0);
  }
}
