import type { Tensor } from '../core/tensor.js';
import { Module } from './module.js';

/**
 * Merges dims `startDim..endDim` (PyTorch's defaults: 1 and -1, so the batch dim stays).
 *
 * @example
 * new nn.Flatten().forward(randn([8, 3, 4])); // [8, 12]
 */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }

  /** `x.flatten(startDim, endDim)`. */
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

/** Returns its input unchanged (a placeholder, as PyTorch's). @example new nn.Identity().forward(x) // x */
export class Identity extends Module {
  /** `x` itself. */
  forward(x: Tensor): Tensor {
    return x;
  }
}
