import { ones, zeros } from '../core/creation.js';
import type { DType } from '../core/dtype.js';
import { check } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { assertKnownKeys, describeValue, isPlainObject } from '../core/validate.js';
import * as F from './functional.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';

/** Options of `nn.GroupNorm`, with PyTorch's defaults. */
export interface GroupNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a per-channel weight (ones) and bias (zeros) (default true). */
  affine?: boolean;
  dtype?: DType;
}

/**
 * Group normalization as PyTorch's `nn.GroupNorm(num_groups, num_channels)`: weight and bias
 * [numChannels].
 *
 * @example
 * new nn.GroupNorm(8, 32).forward(randn([4, 32, 16, 16]));
 */
export class GroupNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly eps: number;

  constructor(readonly numGroups: number, readonly numChannels: number, opts: GroupNormOptions = {}) {
    super();
    const op = 'GroupNorm';
    check(Number.isInteger(numChannels) && numChannels > 0, op, () => `numChannels must be a positive integer, got ${describeValue(numChannels)}`);
    check(Number.isInteger(numGroups) && numGroups > 0 && numChannels % numGroups === 0, op, () =>
      `numGroups must be a positive integer dividing numChannels ${numChannels}, got ${describeValue(numGroups)}`);
    check(isPlainObject(opts), op, () => `options must be an object such as { eps: 1e-5 }, got ${describeValue(opts)}`);
    assertKnownKeys(op, opts, ['eps', 'affine', 'dtype']);
    const { eps = 1e-5, affine = true, dtype = 'float32' } = opts;
    check(typeof eps === 'number' && Number.isFinite(eps) && eps >= 0, op, () => `eps must be a finite number ≥ 0, got ${describeValue(eps)}`);
    check(typeof affine === 'boolean', op, () => `affine must be a boolean, got ${describeValue(affine)}`);
    check(dtype === 'float32' || dtype === 'float64', op, () => `dtype must be 'float32' or 'float64', got ${describeValue(dtype)}`);
    this.eps = eps;
    this.weight = affine ? Parameter.from(ones([numChannels], { dtype })) : null;
    this.bias = affine ? Parameter.from(zeros([numChannels], { dtype })) : null;
  }

  /** `x` [N, numChannels, ...] normalized per group, scaled and shifted per channel. */
  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}
