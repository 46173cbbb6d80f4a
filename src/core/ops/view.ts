import { record } from '../autograd.js';
import { check, fmt } from '../errors.js';
import { broadcastShapes, contiguousStrides, isContiguous, normalizeAxis, shapesEqual, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { defineMethod } from './define.js';
import { assertTensor, broadcastTo, sameBackend, wrap } from './operands.js';

/** A contiguous copy of `x` (or `x` itself when already contiguous). */
export function contiguous(x: Tensor): Tensor {
  return isContiguous(x.shape, x.strides) ? x : clone(x);
}

/** A copy with its own contiguous storage. */
export function clone(x: Tensor): Tensor {
  const b = x._backend;
  const out = wrap(b, b.fill(x.size, x.dtype, 0), x.shape, x.dtype);
  b.copy(x._view('clone'), out._view('clone'));
  return record('clone', [x], out, [], (g) => [g]);
}

function inferShape(x: Tensor, shape: readonly number[]): number[] {
  const holes = shape.filter((d) => d === -1).length;
  check(holes <= 1 && shape.every((d) => d === -1 || (Number.isInteger(d) && d >= 0)), 'reshape', () =>
    `shape ${fmt(shape)} may hold non-negative integers and at most one -1`);
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const out = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  check(sizeOf(out) === x.size && Number.isInteger(out.reduce((a, b) => a + b, 0)), 'reshape', () =>
    `cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
  return out;
}

/**
 * The strides that view `shape`'s elements, in row-major order, in a tensor of `oldShape` and
 * `oldStrides`, or null when no strides can (PyTorch's `computeStride`): each run of old dims
 * that are contiguous with one another may be split or merged, so heads split off a strided
 * slice, or a transposed matrix reshaped in its untouched leading dims, stay views.
 */
function viewStrides(oldShape: readonly number[], oldStrides: readonly number[], shape: readonly number[]): number[] | null {
  if (sizeOf(oldShape) === 0 || oldShape.length === 0) return contiguousStrides(shape);
  const strides = new Array<number>(shape.length);
  let viewD = shape.length - 1, chunkStride = oldStrides[oldStrides.length - 1]!, oldNumel = 1, viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    oldNumel *= oldShape[d]!;
    // A chunk ends where the next dim out is not laid out right after this run.
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== oldNumel * chunkStride)) {
      while (viewD >= 0 && (viewNumel < oldNumel || shape[viewD] === 1)) {
        strides[viewD] = viewNumel * chunkStride;
        viewNumel *= shape[viewD]!;
        viewD--;
      }
      if (viewNumel !== oldNumel) return null;
      if (d > 0) {
        chunkStride = oldStrides[d - 1]!;
        oldNumel = viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? strides : null;
}

/** Whether `x`'s elements can be viewed in `shape` (as many elements) without a copy, so `reshape` returns a view. */
export function isViewable(x: Tensor, shape: readonly number[]): boolean {
  return isContiguous(x.shape, x.strides) || viewStrides(x.shape, x.strides, shape) !== null;
}

/** Same data, new shape; a view when the elements can be viewed in the new shape (always when `x` is contiguous), otherwise a copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape(x, shape);
  if (shapesEqual(target, x.shape)) return x;
  const strides = isContiguous(x.shape, x.strides) ? null : viewStrides(x.shape, x.strides, target);
  if (strides) return record('reshape', [x], x._viewAs(target, strides, x.offset), [], (g) => [g.reshape(x.shape)]);
  const src = contiguous(x);
  const out = src._viewAs(target, contiguousStrides(target), src.offset);
  return record('reshape', [src], out, [], (g) => [g.reshape(src.shape)]);
}

/** Reorders dims without copying. @example randn([2, 3, 4]).permute([2, 0, 1]) // [4,2,3] */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  check(dims.length === x.ndim, 'permute', () => `needs ${x.ndim} dims for shape ${fmt(x.shape)}, got ${fmt(dims)}`);
  const norm = dims.map((d) => normalizeAxis('permute', d, x.ndim));
  check(new Set(norm).size === norm.length, 'permute', () => `dims ${fmt(dims)} repeat a dim`);
  const out = x._viewAs(norm.map((d) => x.shape[d]!), norm.map((d) => x.strides[d]!), x.offset);
  const inverse = norm.map((_, i) => norm.indexOf(i));
  return record('permute', [x], out, [], (g) => [g.permute(inverse)]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const a = normalizeAxis('transpose', dim0, x.ndim), b = normalizeAxis('transpose', dim1, x.ndim);
  const dims = x.shape.map((_, i) => i);
  [dims[a], dims[b]] = [dims[b]!, dims[a]!];
  return permute(x, dims);
}

/** Broadcasts size-1 dims (and new leading dims) to `shape` without copying; -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  check(shape.length >= x.ndim, 'expand', () => `cannot expand ${fmt(x.shape)} to fewer dims ${fmt(shape)}`);
  const lead = shape.length - x.ndim;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead]! : d));
  check(target.every((d) => Number.isInteger(d) && d >= 0), 'expand', () =>
    `target ${fmt(shape)} must hold non-negative integers (-1 keeps an existing dim, not a new leading one)`);
  target.forEach((d, i) => {
    const s = i - lead;
    check(s < 0 || x.shape[s] === d || x.shape[s] === 1, 'expand', () =>
      `cannot expand ${fmt(x.shape)} to ${fmt(shape)}: dim ${i} is ${x.shape[s]}, not 1`);
  });
  const out = broadcastTo(x, target);
  if (out === x) return x;
  return record('expand', [x], out, [], (g) => [g]);
}

/** A `[start, end)` range of one dim, or `[start, end, step]` with a positive step. */
export type SliceRange = readonly [number, number] | readonly [number, number, number];

/** Resolved `[start, end, step]` per dim: in bounds, with `end ≥ start`. */
type Resolved = [number, number, number][];

function resolveRanges(x: Tensor, ranges: readonly SliceRange[]): Resolved {
  check(ranges.length <= x.ndim, 'slice', () => `got ${ranges.length} ranges for a tensor of shape ${fmt(x.shape)}`);
  return x.shape.map((d, i) => {
    const r = ranges[i];
    if (!r) return [0, d, 1];
    const step = r[2] ?? 1;
    check(step > 0, 'slice', () => `range ${fmt(r)} on dim ${i} has step ${step}; steps must be positive (as in PyTorch)`);
    const fix = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const start = fix(r[0]), end = Math.max(start, fix(r[1]));
    return [start, end, step];
  });
}

/** Elements a resolved range keeps. */
const lengthOf = ([s, e, step]: [number, number, number]) => Math.ceil((e - s) / step);

/**
 * A view of the `[start, end)` or `[start, end, step]` ranges (clamped like Python slices).
 *
 * @example
 * randn([4, 6]).slice([[1, 3], [0, -1]]); // [2, 5]
 * randn([6]).slice([[0, 6, 2]]);          // elements 0, 2, 4
 */
export function slice(x: Tensor, ranges: readonly SliceRange[]): Tensor {
  const rs = resolveRanges(x, ranges);
  const offset = rs.reduce((o, [s], i) => o + s * x.strides[i]!, x.offset);
  const out = x._viewAs(rs.map(lengthOf), x.strides.map((st, i) => st * rs[i]![2]), offset);
  return record('slice', [x], out, [], (g) => [padSlice(g, x.shape, rs)], (g, into) => {
    if (!into) return padSlice(g, x.shape, rs);
    const offset = rs.reduce((o, [s], i) => o + s * into.strides[i]!, into.offset);
    const window = into._viewAs(g.shape, into.strides.map((st, i) => st * rs[i]![2]), offset);
    window.add_(g);
    window.dispose();
    return into;
  });
}

/** The backward of slice: zeros of `shape` with `g` placed at `ranges`. Its own backward slices. */
export function padSlice(g: Tensor, shape: readonly number[], ranges: Resolved): Tensor {
  const b = g._backend;
  const out = wrap(b, b.fill(sizeOf(shape), g.dtype, 0), shape, g.dtype);
  const offset = ranges.reduce((o, [s], i) => o + s * out.strides[i]!, 0);
  const window = out._viewAs(g.shape, out.strides.map((st, i) => st * ranges[i]![2]), offset);
  b.copy(g._view('slice'), window._view('slice'));
  window.dispose();
  return record('padSlice', [g], out, [], (gg) => [gg.slice(ranges)]);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normalizeAxis('squeeze', axis, x.ndim);
  if (x.shape[a] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('unsqueeze', axis, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  const strides = [...x.strides];
  strides.splice(a, 0, a < x.ndim ? x.strides[a]! * x.shape[a]! : 1);
  const out = x._viewAs(shape, strides, x.offset);
  return record('unsqueeze', [x], out, [], (g) => [g.reshape(x.shape)]);
}

/** In-place overwrite outside the graph (optimizer steps, LoRA merge). */
export function copyInto(dst: Tensor, src: Tensor): void {
  check(!dst.gradFn, 'copy_', () => 'cannot overwrite a tensor produced by a recorded op; detach it first');
  assertTensor('copy_', src);
  const b = sameBackend('copy_', dst, src);
  const shape = broadcastShapes('copy_', src.shape, dst.shape);
  check(shapesEqual(shape, dst.shape), 'copy_', () => `cannot copy ${fmt(src.shape)} into ${fmt(dst.shape)}: it must broadcast to the destination's shape`);
  // A source that shares the destination's storage (x.copy_(x.transpose(0, 1))) is read whole
  // before anything is written.
  const overlaps = src._storageRef('copy_') === dst._storageRef('copy_');
  const converted = src.dtype === dst.dtype ? src : src.cast(dst.dtype);
  const s = overlaps && converted === src ? src.clone() : converted;
  b.copy(broadcastTo(s, dst.shape)._view('copy_'), dst._view('copy_'));
  if (s !== src) s.dispose();
  dst._markModified();
}

/** Dims given as one list or as separate numbers (`reshape([2, 3])`, `reshape(2, 3)`). */
function dimsArg(args: number[] | [readonly number[]]): readonly number[] {
  return args.length === 1 && Array.isArray(args[0]) ? args[0] : (args as number[]);
}

declare module '../tensor.js' {
  interface Tensor {
    /** New shape (one dim may be -1), as a list or as arguments: `reshape([2, 3])` or `reshape(2, 3)`. @example x.reshape(-1, 4) */
    reshape(...shape: number[] | [readonly number[]]): Tensor;
    /**
     * A view with a new shape, refused (as in PyTorch) when the data is not contiguous; `reshape`
     * copies instead.
     *
     * @example
     * randn([2, 6]).view(3, 4);
     */
    view(...shape: number[] | [readonly number[]]): Tensor;
    /** Reorders dims, as a list or as arguments: `permute([1, 0])` or `permute(1, 0)`. @example x.permute(1, 0) */
    permute(...dims: number[] | [readonly number[]]): Tensor;
    /** Swaps two dims (a view). @example x.transpose(0, 1) */
    transpose(dim0: number, dim1: number): Tensor;
    /** Broadcasts size-1 dims to `shape` without copying (-1 keeps a dim). @example x.expand([4, 3]) */
    expand(shape: readonly number[]): Tensor;
    /** Per-dim `[start, end)` or `[start, end, step]` ranges (negative indices count from the end); missing dims are kept whole. @example x.slice([[0, 2]]) */
    slice(ranges: readonly SliceRange[]): Tensor;
    /** Drops size-1 dims (only `axis` when given). @example x.squeeze(0) */
    squeeze(axis?: number): Tensor;
    /** Inserts a size-1 dim at `axis`. @example x.unsqueeze(0) */
    unsqueeze(axis: number): Tensor;
    /** This tensor if contiguous, else a contiguous copy. @example x.transpose(0, 1).contiguous() */
    contiguous(): Tensor;
    /** A copy with its own storage; differentiable. @example const y = x.clone() */
    clone(): Tensor;
    /**
     * Overwrites this tensor's elements with `src` (broadcast to this shape), in place, outside the
     * graph. For optimizer updates and weight merging; not allowed on tensors in a graph.
     *
     * @example
     * noGrad(() => w.copy_(w0));
     */
    copy_(src: Tensor): this;
  }
}

defineMethod('reshape', ['shape:dims'], function (...shape) { return reshape(this, dimsArg(shape)); });
defineMethod('view', ['shape:dims'], function (...shape) {
  check(this.isContiguous, 'view', () => `tensor of shape ${fmt(this.shape)} is not contiguous, so it has no view of another shape; use reshape() (which copies) or contiguous().view(...)`);
  return reshape(this, dimsArg(shape));
});
defineMethod('permute', ['dims:dims'], function (...dims) { return permute(this, dimsArg(dims)); });
defineMethod('transpose', ['dim0:int', 'dim1:int'], function (dim0, dim1) { return transpose(this, dim0, dim1); });
defineMethod('expand', ['shape:numbers'], function (shape) { return expand(this, shape); });
defineMethod('slice', ['ranges:ranges'], function (ranges) { return slice(this, ranges); });
defineMethod('squeeze', ['axis:int?'], function (axis) { return squeeze(this, axis); });
defineMethod('unsqueeze', ['axis:int'], function (axis) { return unsqueeze(this, axis); });
defineMethod('contiguous', [], function () { return contiguous(this); });
defineMethod('clone', [], function () { return clone(this); });
defineMethod('copy_', ['src:tensor'], function (src) {
  copyInto(this, src);
  return this;
});
