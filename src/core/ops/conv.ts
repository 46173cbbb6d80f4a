import { check, fmt } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { assertKnownKeys, assertSameBackend, assertTensor, describeValue, isPlainObject } from '../validate.js';
import { pad } from './pad.js';
import { type Window2d, col2im, im2col } from './unfold.js';

/** An int for both spatial dims, or `[h, w]`. */
export type Size2d = number | readonly [number, number];

/** Options of `conv2d`, with PyTorch's defaults. */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: Size2d;
  /** Zeros added on both sides (default 0), or 'same' (stride 1: output as large as the input) or 'valid' (none). */
  padding?: Size2d | 'same' | 'valid';
  /** Spacing between kernel taps (default 1). */
  dilation?: Size2d;
  /** Channels split into this many independent groups (default 1). */
  groups?: number;
}

/** Options of `convTranspose2d`, with PyTorch's defaults. */
export interface ConvTranspose2dOptions {
  stride?: Size2d;
  /** Removes `dilation·(k−1) − padding` on each side of the full output (default 0). */
  padding?: Size2d;
  /** Extra rows and columns on the bottom and right (default 0), smaller than stride or dilation. */
  outputPadding?: Size2d;
  groups?: number;
  dilation?: Size2d;
}

/** Reads an int-or-pair argument as `[h, w]`, each at least `min`. */
export function pair(op: string, name: string, v: unknown, min: number): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  check(Array.isArray(p) && p.length === 2 && p.every((d) => Number.isInteger(d) && d >= min), op, () =>
    `${name} must be an integer ≥ ${min} or a pair [h, w] of them, got ${Array.isArray(v) ? fmt(v) : describeValue(v)}`);
  return p as [number, number];
}

/** Runs `fn` on a batch of one when `input` is unbatched [C, H, W], as PyTorch allows. */
export function batched(op: string, input: Tensor, fn: (x: Tensor) => Tensor): Tensor {
  assertTensor(op, input, 'input');
  check(input.ndim === 3 || input.ndim === 4, op, () => `input must be [N, C, H, W] or unbatched [C, H, W], got ${fmt(input.shape)}`);
  check(input.dtype !== 'int32', op, () => `needs a float input, got int32; cast first with t.cast('float32')`);
  return input.ndim === 4 ? fn(input) : fn(input.unsqueeze(0)).squeeze(0);
}

/** Windows along one dim of (padded) size `size`; 0 or less when the kernel does not fit. */
export function windows(size: number, k: number, d: number, s: number): number {
  return Math.floor((size - d * (k - 1) - 1) / s) + 1;
}

/**
 * 2-D convolution (cross-correlation, as PyTorch) of `input` [N, C, H, W] with `weight`
 * [O, C/groups, kh, kw] and an optional `bias` [O] → [N, O, OH, OW]. The windows are gathered by
 * im2col (one strided copy), then one batched matmul per call multiplies them by the weight;
 * gradients come from those two ops.
 *
 * @example
 * conv2d(x, w, b, { stride: 2, padding: 1 }); // [8, 3, 32, 32] with w [16, 3, 3, 3] → [8, 16, 16, 16]
 */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  assertTensor(op, weight, 'weight');
  if (bias !== null && bias !== undefined) assertTensor(op, bias, 'bias');
  check(isPlainObject(opts as unknown), op, () => `options must be an object such as { stride: 1, padding: 0 }, got ${describeValue(opts)}`);
  assertKnownKeys(op, opts, ['stride', 'padding', 'dilation', 'groups']);
  const stride = pair(op, 'stride', opts.stride ?? 1, 1);
  const dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
  const groups = opts.groups ?? 1;
  check(Number.isInteger(groups) && groups >= 1, op, () => `groups must be a positive integer, got ${describeValue(groups)}`);
  check(weight.ndim === 4, op, () => `weight must be [out, in / groups, kh, kw], got ${fmt(weight.shape)}`);
  const [o, cg, kh, kw] = weight.shape as [number, number, number, number];
  const padding = opts.padding ?? 0;
  let pads: [number, number, number, number]; // left, right, top, bottom
  if (padding === 'valid') pads = [0, 0, 0, 0];
  else if (padding === 'same') {
    check(stride[0] === 1 && stride[1] === 1, op, () => `padding 'same' needs stride 1 (as in PyTorch), got stride ${fmt(stride)}`);
    // PyTorch puts the odd extra zero on the bottom and right.
    const th = dilation[0] * (kh - 1), tw = dilation[1] * (kw - 1);
    pads = [tw >> 1, tw - (tw >> 1), th >> 1, th - (th >> 1)];
  } else {
    check(typeof padding !== 'string', op, () => `padding must be an integer, a pair, 'same' or 'valid', got '${padding}'`);
    const [ph, pw] = pair(op, 'padding', padding, 0);
    pads = [pw, pw, ph, ph];
  }
  return batched(op, input, (x) => {
    assertSameBackend(op, x, weight, ...(bias ? [bias] : []));
    check(x.dtype === weight.dtype && (!bias || bias.dtype === x.dtype), op, () =>
      `input, weight and bias must share a dtype, got ${[x, weight, ...(bias ? [bias] : [])].map((t) => t.dtype).join(', ')}`);
    const [n, c, h, w] = x.shape as [number, number, number, number];
    check(c % groups === 0 && o % groups === 0, op, () => `input channels ${c} and output channels ${o} must both divide by groups ${groups}`);
    check(cg * groups === c, op, () =>
      `weight ${fmt(weight.shape)} expects ${cg * groups} input channels (${cg} per group × ${groups} groups), but input ${fmt(x.shape)} has ${c}`);
    check(!bias || (bias.ndim === 1 && bias.shape[0] === o), op, () => `bias must be [${o}] (one per output channel of weight ${fmt(weight.shape)}), got ${fmt(bias!.shape)}`);
    const oh = windows(h + pads[2] + pads[3], kh, dilation[0], stride[0]);
    const ow = windows(w + pads[0] + pads[1], kw, dilation[1], stride[1]);
    check(oh > 0 && ow > 0, op, () =>
      `input ${fmt(x.shape)} padded by ${fmt(pads)} (left, right, top, bottom) is smaller than the kernel ${kh}×${kw} with dilation ${fmt(dilation)}`);
    const padded = pads.some((p) => p > 0) ? pad(x, pads) : x;
    const window: Window2d = { kernel: [kh, kw], dilation, stride, out: [oh, ow] };
    // A 1×1 kernel at stride 1 sees each pixel once: the input is its own im2col.
    const pointwise = kh === 1 && kw === 1 && stride[0] === 1 && stride[1] === 1;
    const cols = (pointwise ? padded : im2col(padded, window)).reshape([n, groups, cg * kh * kw, oh * ow]);
    const out = weight.reshape([groups, o / groups, cg * kh * kw]).matmul(cols).reshape([n, o, oh, ow]);
    return bias ? out.add(bias.reshape([o, 1, 1])) : out;
  });
}

/**
 * The transpose of `conv2d` (its gradient with respect to its input; "deconvolution"):
 * `input` [N, Cin, H, W], `weight` [Cin, Cout/groups, kh, kw], optional `bias` [Cout] →
 * [N, Cout, (H−1)·stride − 2·padding + dilation·(kh−1) + outputPadding + 1, ...]. One batched
 * matmul makes every window's contribution, col2im (one add per kernel tap) sums the overlaps.
 *
 * @example
 * convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }); // doubles H and W
 */
export function convTranspose2d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  assertTensor(op, weight, 'weight');
  if (bias !== null && bias !== undefined) assertTensor(op, bias, 'bias');
  check(isPlainObject(opts as unknown), op, () => `options must be an object such as { stride: 2 }, got ${describeValue(opts)}`);
  assertKnownKeys(op, opts, ['stride', 'padding', 'outputPadding', 'groups', 'dilation']);
  const stride = pair(op, 'stride', opts.stride ?? 1, 1);
  const dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
  const padding = pair(op, 'padding', opts.padding ?? 0, 0);
  const outputPadding = pair(op, 'outputPadding', opts.outputPadding ?? 0, 0);
  const groups = opts.groups ?? 1;
  check(Number.isInteger(groups) && groups >= 1, op, () => `groups must be a positive integer, got ${describeValue(groups)}`);
  check(outputPadding.every((p, i) => p < stride[i]! || p < dilation[i]!), op, () =>
    `outputPadding ${fmt(outputPadding)} must be smaller than stride ${fmt(stride)} or dilation ${fmt(dilation)} in each dim`);
  check(weight.ndim === 4, op, () => `weight must be [in, out / groups, kh, kw], got ${fmt(weight.shape)}`);
  const [cin, og, kh, kw] = weight.shape as [number, number, number, number];
  return batched(op, input, (x) => {
    assertSameBackend(op, x, weight, ...(bias ? [bias] : []));
    check(x.dtype === weight.dtype && (!bias || bias.dtype === x.dtype), op, () =>
      `input, weight and bias must share a dtype, got ${[x, weight, ...(bias ? [bias] : [])].map((t) => t.dtype).join(', ')}`);
    const [n, c, h, w] = x.shape as [number, number, number, number];
    check(c === cin, op, () => `weight ${fmt(weight.shape)} expects ${cin} input channels, but input ${fmt(x.shape)} has ${c}`);
    check(cin % groups === 0, op, () => `input channels ${cin} must divide by groups ${groups}`);
    const o = og * groups, cg = cin / groups;
    check(!bias || (bias.ndim === 1 && bias.shape[0] === o), op, () => `bias must be [${o}] (output channels of weight ${fmt(weight.shape)} × ${groups} groups), got ${fmt(bias!.shape)}`);
    const fullH = (h - 1) * stride[0] + dilation[0] * (kh - 1) + 1 + outputPadding[0];
    const fullW = (w - 1) * stride[1] + dilation[1] * (kw - 1) + 1 + outputPadding[1];
    const oh = fullH - 2 * padding[0], ow = fullW - 2 * padding[1];
    check(oh > 0 && ow > 0, op, () => `input ${fmt(x.shape)} gives an empty output (${oh}×${ow}): padding ${fmt(padding)} is too large for kernel ${kh}×${kw}`);
    const wt = weight.reshape([groups, cg, og * kh * kw]).transpose(-1, -2);
    const cols = wt.matmul(x.reshape([n, groups, cg, h * w])).reshape([n, o, kh, kw, h, w]);
    const window: Window2d = { kernel: [kh, kw], dilation, stride, out: [h, w] };
    const full = col2im(cols, [fullH, fullW], window);
    const out = padding[0] || padding[1] ? full.slice([[0, n], [0, o], [padding[0], padding[0] + oh], [padding[1], padding[1] + ow]]) : full;
    return bias ? out.add(bias.reshape([o, 1, 1])) : out;
  });
}
