import { check, fmt } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { assertKnownKeys, describeValue, isPlainObject } from '../validate.js';
import { type Size2d, batched, pair, windows } from './conv.js';
import { wrap } from './operands.js';
import { pad } from './pad.js';
import { type Window2d, im2col } from './unfold.js';

/** Options of `avgPool2d`, with PyTorch's defaults. */
export interface AvgPool2dOptions {
  /** Step between windows (default: the kernel size). */
  stride?: Size2d;
  /** Zeros added on both sides (default 0), at most half the kernel. */
  padding?: Size2d;
  /** Count the padding zeros in the mean's divisor (default true). */
  countIncludePad?: boolean;
  /** Divide every window's sum by this instead. */
  divisorOverride?: number;
}

/** Options of `maxPool2d`, with PyTorch's defaults. */
export interface MaxPool2dOptions {
  /** Step between windows (default: the kernel size). */
  stride?: Size2d;
  /** −∞ added on both sides (default 0), at most half the kernel. */
  padding?: Size2d;
  /** Spacing between kernel taps (default 1). */
  dilation?: Size2d;
}

/** The checked window of a pooling call on input `x`, and its padding [ph, pw]. */
function poolWindow(op: string, x: Tensor, kernelSize: Size2d, opts: { stride?: Size2d; padding?: Size2d; dilation?: Size2d }): { window: Window2d; padding: [number, number] } {
  const kernel = pair(op, 'kernelSize', kernelSize, 1);
  const stride = pair(op, 'stride', opts.stride ?? kernel, 1);
  const padding = pair(op, 'padding', opts.padding ?? 0, 0);
  const dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
  check(padding.every((p, i) => p <= Math.floor(kernel[i]! / 2)), op, () => `padding ${fmt(padding)} must be at most half the kernel size ${fmt(kernel)}`);
  const [h, w] = x.shape.slice(2) as [number, number];
  const out: [number, number] = [windows(h + 2 * padding[0], kernel[0], dilation[0], stride[0]), windows(w + 2 * padding[1], kernel[1], dilation[1], stride[1])];
  check(out[0] > 0 && out[1] > 0, op, () => `input ${fmt(x.shape)} padded by ${fmt(padding)} is smaller than the kernel ${fmt(kernel)} with dilation ${fmt(dilation)}`);
  return { window: { kernel, dilation, stride, out }, padding };
}

/**
 * Mean over each kernelSize window of `input` [N, C, H, W] (or [C, H, W]), as PyTorch's
 * `avg_pool2d`: im2col, then a mean over the window's taps.
 *
 * @example
 * avgPool2d(x, 2); // [N, C, H, W] → [N, C, H/2, W/2]
 */
export function avgPool2d(input: Tensor, kernelSize: Size2d, opts: AvgPool2dOptions = {}): Tensor {
  const op = 'avgPool2d';
  check(isPlainObject(opts as unknown), op, () => `options must be an object such as { stride: 2 }, got ${describeValue(opts)}`);
  assertKnownKeys(op, opts, ['stride', 'padding', 'countIncludePad', 'divisorOverride']);
  const { countIncludePad = true, divisorOverride } = opts;
  check(typeof countIncludePad === 'boolean', op, () => `countIncludePad must be a boolean, got ${describeValue(countIncludePad)}`);
  check(divisorOverride === undefined || (Number.isInteger(divisorOverride) && divisorOverride !== 0), op, () =>
    `divisorOverride must be a non-zero integer, got ${describeValue(divisorOverride)}`);
  return batched(op, input, (x) => {
    const { window, padding } = poolWindow(op, x, kernelSize, opts);
    const [n, c] = x.shape as [number, number];
    const [kh, kw] = window.kernel, [oh, ow] = window.out;
    const pads = [padding[1], padding[1], padding[0], padding[0]];
    const padded = padding[0] || padding[1] ? pad(x, pads) : x;
    const sums = im2col(padded, window).reshape([n, c, kh * kw, oh, ow]).sum(2);
    if (divisorOverride !== undefined) return sums.div(divisorOverride);
    if (countIncludePad || !(padding[0] || padding[1])) return sums.div(kh * kw);
    // The divisor of each window: how many of its taps fall inside the input.
    const b = x._backend;
    const inside = pad(wrap(b, b.fill(x.shape[2]! * x.shape[3]!, x.dtype, 1), [1, 1, x.shape[2]!, x.shape[3]!], x.dtype), pads);
    const counts = im2col(inside, window).reshape([1, 1, kh * kw, oh, ow]).sum(2);
    return sums.div(counts);
  });
}

/**
 * Maximum over each kernelSize window of `input` [N, C, H, W] (or [C, H, W]), as PyTorch's
 * `max_pool2d`: the gradient goes to the first maximum of each window only.
 *
 * @example
 * maxPool2d(x, 3, { stride: 2, padding: 1 });
 */
export function maxPool2d(input: Tensor, kernelSize: Size2d, opts: MaxPool2dOptions = {}): Tensor {
  const op = 'maxPool2d';
  check(isPlainObject(opts as unknown), op, () => `options must be an object such as { stride: 2 }, got ${describeValue(opts)}`);
  assertKnownKeys(op, opts, ['stride', 'padding', 'dilation']);
  return batched(op, input, (x) => {
    const { window, padding } = poolWindow(op, x, kernelSize, opts);
    const [n, c] = x.shape as [number, number];
    const [kh, kw] = window.kernel, [oh, ow] = window.out;
    const padded = padding[0] || padding[1] ? pad(x, [padding[1], padding[1], padding[0], padding[0]], -Infinity) : x;
    const taps = im2col(padded, window).reshape([n, c, kh * kw, oh, ow]);
    // gather routes the gradient to the arg max alone (max would share it among ties).
    return taps.gather(2, taps.argmax(2, true)).squeeze(2);
  });
}
