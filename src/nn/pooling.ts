import { check } from '../core/errors.js';
import type { Size2d } from '../core/ops/conv.js';
import type { AvgPool2dOptions, MaxPool2dOptions } from '../core/ops/pool.js';
import type { InterpolateOptions } from '../core/ops/interpolate.js';
import type { Tensor } from '../core/tensor.js';
import { assertKnownKeys, describeValue, isPlainObject } from '../core/validate.js';
import * as F from './functional.js';
import { Module } from './module.js';

/** Checks a pooling layer's kernel size and options object (the op checks the values on each call). */
function checkPool(op: string, kernelSize: unknown, opts: unknown, keys: string[]): void {
  check(typeof kernelSize === 'number' || Array.isArray(kernelSize), op, () => `kernelSize must be an integer or a pair [h, w], got ${describeValue(kernelSize)}`);
  check(isPlainObject(opts), op, () => `options must be an object such as { stride: 2 }, got ${describeValue(opts)}`);
  assertKnownKeys(op, opts, keys);
}

/** Mean over kernelSize windows, as PyTorch's `nn.AvgPool2d`. @example new nn.AvgPool2d(2).forward(x) // halves H and W */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Size2d, readonly opts: AvgPool2dOptions = {}) {
    super();
    checkPool('AvgPool2d', kernelSize, opts, ['stride', 'padding', 'countIncludePad', 'divisorOverride']);
  }

  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.opts);
  }
}

/** Maximum over kernelSize windows, as PyTorch's `nn.MaxPool2d`. @example new nn.MaxPool2d(2).forward(x) */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Size2d, readonly opts: MaxPool2dOptions = {}) {
    super();
    checkPool('MaxPool2d', kernelSize, opts, ['stride', 'padding', 'dilation']);
  }

  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.opts);
  }
}

/**
 * Resizes [N, C, H, W] inputs, as PyTorch's `nn.Upsample` (`F.interpolate`'s options).
 *
 * @example
 * new nn.Upsample({ scaleFactor: 2, mode: 'nearest' }).forward(x); // doubles H and W
 */
export class Upsample extends Module {
  constructor(readonly opts: InterpolateOptions) {
    super();
    check(isPlainObject(opts), 'Upsample', () => `options must be an object such as { scaleFactor: 2 }, got ${describeValue(opts)}`);
    assertKnownKeys('Upsample', opts, ['size', 'scaleFactor', 'mode', 'alignCorners']);
    check((opts.size === undefined) !== (opts.scaleFactor === undefined), 'Upsample', () => 'give exactly one of size and scaleFactor');
  }

  forward(x: Tensor): Tensor {
    return F.interpolate(x, this.opts);
  }
}
