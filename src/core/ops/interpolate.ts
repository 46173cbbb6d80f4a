import { check, fmt } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { assertKnownKeys, assertTensor, describeValue, isPlainObject } from '../validate.js';
import { wrap } from './operands.js';

/** Options of `interpolate`: the output `size` or a `scaleFactor`, and the mode. */
export interface InterpolateOptions {
  /** Output [H, W] (or one int for both). */
  size?: number | readonly [number, number];
  /** Output = floor(input × scaleFactor) per dim (one number for both, or [h, w]). */
  scaleFactor?: number | readonly [number, number];
  /** 'nearest' (default) or 'bilinear'. */
  mode?: 'nearest' | 'bilinear';
  /** Bilinear only: corner pixels' centres line up (default false, as PyTorch). */
  alignCorners?: boolean;
}

/** The source coordinate of each of `out` outputs along a dim of `size` inputs, as PyTorch computes it. */
function sourceIndex(mode: 'nearest' | 'bilinear', size: number, out: number, factor: number | undefined, alignCorners: boolean): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  // PyTorch's area_pixel_compute_scale: 1/scaleFactor when one was given, else in/out.
  const scale = factor !== undefined ? 1 / factor : size / out;
  const lo = new Int32Array(out), hi = new Int32Array(out), frac = new Float64Array(out);
  for (let i = 0; i < out; i++) {
    if (mode === 'nearest') {
      lo[i] = Math.min(Math.floor(Math.fround(i * Math.fround(scale))), size - 1);
      continue;
    }
    const src = alignCorners ? (out > 1 ? ((size - 1) / (out - 1)) * i : 0) : Math.max(scale * (i + 0.5) - 0.5, 0);
    lo[i] = Math.min(Math.floor(src), size - 1);
    hi[i] = Math.min(lo[i]! + 1, size - 1);
    frac[i] = src - lo[i]!;
  }
  return { lo, hi, frac };
}

/**
 * Resizes the spatial dims of `input` [N, C, H, W] (PyTorch's `F.interpolate`): 'nearest' picks
 * the source pixel PyTorch picks; 'bilinear' blends the four neighbours. Both are gathers along
 * H then W, so the gradient sums back into the sources.
 *
 * @example
 * interpolate(x, { scaleFactor: 2 });                                   // nearest, doubles H and W
 * interpolate(x, { size: [7, 7], mode: 'bilinear', alignCorners: true });
 */
export function interpolate(input: Tensor, opts: InterpolateOptions): Tensor {
  const op = 'interpolate';
  assertTensor(op, input, 'input');
  check(isPlainObject(opts as unknown), op, () => `options must be an object such as { scaleFactor: 2 } or { size: [8, 8] }, got ${describeValue(opts)}`);
  assertKnownKeys(op, opts, ['size', 'scaleFactor', 'mode', 'alignCorners']);
  check(input.ndim === 4, op, () => `input must be [N, C, H, W] (this mode works on 2 spatial dims), got ${fmt(input.shape)}`);
  check(input.dtype !== 'int32', op, () => `needs a float input, got int32; cast first with t.cast('float32')`);
  const { mode = 'nearest', alignCorners } = opts;
  check(mode === 'nearest' || mode === 'bilinear', op, () => `mode must be 'nearest' or 'bilinear', got ${describeValue(mode)}`);
  check(alignCorners === undefined || (mode === 'bilinear' && typeof alignCorners === 'boolean'), op, () =>
    mode === 'bilinear' ? `alignCorners must be a boolean, got ${describeValue(alignCorners)}` : `alignCorners applies to 'bilinear' only (as in PyTorch), not '${mode}'`);
  check((opts.size === undefined) !== (opts.scaleFactor === undefined), op, () => 'give exactly one of size and scaleFactor');
  const both = <T>(v: T | readonly [T, T]): readonly [T, T] => (Array.isArray(v) ? (v as readonly [T, T]) : [v as T, v as T]);
  const [h, w] = input.shape.slice(2) as [number, number];
  let out: readonly [number, number];
  let factors: readonly [number | undefined, number | undefined] = [undefined, undefined];
  if (opts.size !== undefined) {
    out = both(opts.size);
    check(out.length === 2 && out.every((d) => Number.isInteger(d) && d > 0), op, () => `size must be a positive integer or a pair of them, got ${Array.isArray(opts.size) ? fmt(opts.size) : describeValue(opts.size)}`);
  } else {
    factors = both(opts.scaleFactor!);
    check(factors.length === 2 && factors.every((f) => typeof f === 'number' && Number.isFinite(f) && f > 0), op, () =>
      `scaleFactor must be a positive number or a pair of them, got ${Array.isArray(opts.scaleFactor) ? fmt(opts.scaleFactor) : describeValue(opts.scaleFactor)}`);
    out = [Math.floor(h * factors[0]!), Math.floor(w * factors[1]!)];
    check(out[0] > 0 && out[1] > 0, op, () => `scaleFactor ${fmt(factors as readonly number[])} makes input ${fmt(input.shape)} empty (${out[0]}×${out[1]})`);
  }
  const b = input._backend;
  const ints = (a: Int32Array) => wrap(b, b.upload(a), [a.length], 'int32');
  let x = input;
  for (const axis of [2, 3] as const) {
    const { lo, hi, frac } = sourceIndex(mode, input.shape[axis]!, out[axis - 2]!, factors[axis - 2], alignCorners ?? false);
    const loIdx = ints(lo);
    const picked = x.indexSelect(axis, loIdx);
    if (mode === 'nearest') {
      x = picked;
      continue;
    }
    const hiIdx = ints(hi);
    const weights = wrap(b, b.upload(x.dtype === 'float64' ? frac : Float32Array.from(frac)), axis === 2 ? [frac.length, 1] : [frac.length], x.dtype);
    // lo + frac·(hi − lo): PyTorch's (1 − λ)·lo + λ·hi up to rounding.
    x = picked.add(x.indexSelect(axis, hiIdx).sub(picked).mul(weights));
  }
  return x;
}
