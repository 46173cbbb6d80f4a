import { check } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { Optimizer, type ParamState, type ParamsInput, checkRange } from './optimizer.js';

/** SGD hyperparameters, as PyTorch names them in camelCase. */
export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * Stochastic gradient descent with PyTorch's update: d = g + wd·p; with momentum
 * buf = μ·buf + (1−dampening)·d (buf = d on the first step) and d = buf, or d + μ·buf with
 * Nesterov; then p −= lr·d.
 *
 * @example
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, opts: Partial<SGDOptions> = {}) {
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }, opts);
  }

  protected validate(g: SGDOptions): void {
    checkRange('SGD', 'lr', g.lr, 0);
    checkRange('SGD', 'momentum', g.momentum, 0);
    checkRange('SGD', 'dampening', g.dampening, 0);
    checkRange('SGD', 'weightDecay', g.weightDecay, 0);
    check(typeof g.nesterov === 'boolean', 'SGD', () => `nesterov must be a boolean, got ${String(g.nesterov)}`);
    check(!g.nesterov || (g.momentum > 0 && g.dampening === 0), 'SGD', () => 'nesterov needs momentum > 0 and dampening 0');
  }

  /** PyTorch's momentum_buffer may be None (momentum turned on after some steps); then the next step starts it from the update. */
  protected stateKeys(): { required: readonly string[]; optional: readonly string[] } {
    return { required: [], optional: ['momentumBuffer'] };
  }

  protected update(p: Tensor, grad: Tensor, g: SGDOptions, s: ParamState): void {
    let d = g.weightDecay ? grad.add(p.mul(g.weightDecay)) : grad;
    if (g.momentum) {
      const fresh = !s.tensors.momentumBuffer;
      const buf = this.stateTensor(s, 'momentumBuffer', () => d.clone());
      if (!fresh) buf.copy_(buf.mul(g.momentum).add(d.mul(1 - g.dampening)));
      d = g.nesterov ? d.add(buf.mul(g.momentum)) : buf;
    }
    p.copy_(p.sub(d.mul(g.lr)));
  }
}
