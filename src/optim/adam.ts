import { check } from '../core/errors.js';
import { fusedAdam_ } from '../core/seams.js';
import type { Tensor } from '../core/tensor.js';
import { Optimizer, type ParamState, type ParamsInput, checkRange } from './optimizer.js';

/** Adam/AdamW hyperparameters, as PyTorch names them in camelCase. */
export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

/**
 * Adam with bias correction (Kingma & Ba), PyTorch's formula: m = β1·m + (1−β1)·g,
 * v = β2·v + (1−β2)·g², p −= (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps). Adam's weightDecay
 * adds wd·p to g (L2); AdamW instead shrinks p by (1 − lr·wd) before the step. Uses the
 * backend's fused kernel when it has one.
 *
 * @example
 * const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class Adam extends Optimizer<AdamOptions> {
  /** True for AdamW: weight decay is decoupled from the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }, opts);
  }

  protected validate(g: AdamOptions): void {
    const op = this.constructor.name;
    checkRange(op, 'lr', g.lr, 0);
    check(Array.isArray(g.betas) && g.betas.length === 2, op, () => `betas must be a pair [beta1, beta2], got ${JSON.stringify(g.betas) ?? String(g.betas)}`);
    checkRange(op, 'betas[0]', g.betas[0], 0, 1);
    checkRange(op, 'betas[1]', g.betas[1], 0, 1);
    checkRange(op, 'eps', g.eps, 0);
    checkRange(op, 'weightDecay', g.weightDecay, 0);
  }

  protected stateKeys(): { required: readonly string[]; optional: readonly string[] } {
    return { required: ['expAvg', 'expAvgSq'], optional: [] };
  }

  protected update(p: Tensor, grad: Tensor, g: AdamOptions, s: ParamState): void {
    const [b1, b2] = g.betas;
    // zerosLike: the state lives on p's own backend instance, which its name may not select.
    const m = this.stateTensor(s, 'expAvg', () => p.zerosLike());
    const v = this.stateTensor(s, 'expAvgSq', () => p.zerosLike());
    const bc1 = 1 - b1 ** s.step;
    const bc2 = 1 - b2 ** s.step;
    const l2 = this.decoupled ? 0 : g.weightDecay;
    const decoupledDecay = this.decoupled ? g.lr * g.weightDecay : 0;

    const step = { lr: g.lr, beta1: b1, beta2: b2, eps: g.eps, biasCorrection1: bc1, biasCorrection2: bc2, l2, decoupledDecay };
    if (fusedAdam_(p, grad, m, v, step)) return;
    if (decoupledDecay) p.copy_(p.mul(1 - decoupledDecay));
    const d = l2 ? grad.add(p.mul(l2)) : grad;
    m.copy_(m.mul(b1).add(d.mul(1 - b1)));
    v.copy_(v.mul(b2).add(d.mul(d).mul(1 - b2)));
    const denom = v.sqrt().div(Math.sqrt(bc2)).add(g.eps);
    p.copy_(p.sub(m.div(denom).mul(g.lr / bc1)));
  }
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter): p ← p·(1 − lr·wd), then the Adam
 * step. Default weightDecay 0.01, as in PyTorch.
 *
 * @example
 * const opt = new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
 */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 0.01, ...opts });
  }
}
