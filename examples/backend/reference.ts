// The reference backend: every primitive of the Backend interface as a plain loop over strided
// float64 (and int32) arrays, written to be read, not to be fast. float16 and bfloat16 storages
// hold bit patterns (Uint16Array), read as their values and rounded when written. The test suite uses it as the
// oracle the other backends are compared with (test/matrix.ts), and docs/backends.md walks
// through it. It is laid out as a backend in src/backends/<name>/ would be: it imports core and
// backends/shared/ only (checked by `npm run deps`).
import type { ArgReduceOp, BackendImplementation, BinaryOp, ReduceOp, UnaryOp, View } from '../../src/core/backend.js';
import { type DType, type StorageArray, isHalf, storageArrayFor } from '../../src/core/dtype.js';
import { bfloat16Bits, bfloat16Value, float16Bits, float16Value } from '../../src/core/half.js';
import { check, fmt } from '../../src/core/errors.js';
import { contiguousStrides, sizeOf } from '../../src/core/shape.js';
import { erf, gelu, geluGrad, geluTanh, geluTanhGrad } from '../../src/backends/shared/opTable.js';
import type { ReferenceInfo, ReferenceOptions } from './options.js';

/** A storage is a typed array of its dtype: Float64Array, Int32Array, or Uint16Array of 16-bit float patterns. */
type Storage = StorageArray;

/** The value a stored element of `dtype` holds. */
function valueOf(dtype: DType, stored: number): number {
  return dtype === 'float16' ? float16Value(stored) : dtype === 'bfloat16' ? bfloat16Value(stored) : stored;
}

/** What an element of `dtype` stores for `value` (16-bit floats: rounded to nearest-even bits). */
function storedOf(dtype: DType, value: number): number {
  return dtype === 'float16' ? float16Bits(value) : dtype === 'bfloat16' ? bfloat16Bits(value) : value;
}

/** The elementwise ops as functions of numbers; comparisons give 1 or 0. */
const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  erf,
  relu: (x) => (x > 0 || Number.isNaN(x) ? x : 0),
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  gelu,
  geluGrad,
  geluTanh,
  geluTanhGrad,
};

const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  // A NaN on either side propagates, as in PyTorch.
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b),
  eq: (a, b) => Number(a === b),
  ne: (a, b) => Number(a !== b),
  lt: (a, b) => Number(a < b),
  le: (a, b) => Number(a <= b),
  gt: (a, b) => Number(a > b),
  ge: (a, b) => Number(a >= b),
};
const COMPARISONS: readonly BinaryOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

/** A reduction as its start value and one step; once NaN, max and min stay NaN. */
const REDUCE: Record<ReduceOp, { init: number; step: (acc: number, v: number) => number }> = {
  sum: { init: 0, step: (acc, v) => acc + v },
  max: { init: -Infinity, step: (acc, v) => (Number.isNaN(acc) || Number.isNaN(v) ? NaN : Math.max(acc, v)) },
  min: { init: Infinity, step: (acc, v) => (Number.isNaN(acc) || Number.isNaN(v) ? NaN : Math.min(acc, v)) },
};

/** The index of element `i` (row-major) of `shape`. */
function unravel(i: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return index;
}

/** Where the element at `index` of a view lives in its storage. */
function offsetOf(x: View<Storage>, index: readonly number[]): number {
  let offset = x.offset;
  for (let d = 0; d < index.length; d++) offset += index[d]! * x.strides[d]!;
  return offset;
}

/** Where every element of a view lives in its storage, row-major. */
function offsets(x: View<Storage>): number[] {
  return Array.from({ length: sizeOf(x.shape) }, (_, i) => offsetOf(x, unravel(i, x.shape)));
}

/**
 * The float64 reference backend. Storages are typed arrays of their dtype; a view's element at
 * `index` is `storage[offset + Σ index[d]·strides[d]]`, the one formula every primitive uses.
 * It has no fused kernels, so core composes softmax, attention and Adam from the primitives.
 *
 * @example
 * registerBackend(referencePlugin);
 * await initBackend('reference');
 * tensor([1, 2, 3], { backend: 'reference', dtype: 'float64' }).exp();
 */
export class ReferenceBackend implements BackendImplementation<Storage> {
  readonly name = 'reference';
  readonly synchronous = true;
  readonly dtypes: readonly DType[] = ['float64', 'int32', 'float16', 'bfloat16'];
  readonly info: ReferenceInfo;

  constructor(options: ReferenceOptions = {}) {
    this.info = { checkViews: options.checkViews ?? true };
  }

  /** With `checkViews`, throws unless every element of each view lies inside its storage. */
  private checkViews(primitive: string, ...views: View<Storage>[]): void {
    if (!this.info.checkViews) return;
    for (const x of views) {
      if (sizeOf(x.shape) === 0) continue;
      // The lowest and highest offsets: each dim at 0 or at its last index, whichever is further.
      let low = x.offset, high = x.offset;
      x.shape.forEach((n, d) => {
        const reach = (n - 1) * x.strides[d]!;
        if (reach < 0) low += reach;
        else high += reach;
      });
      const outside = low < 0 ? low : high;
      check(Number.isInteger(low) && Number.isInteger(high) && low >= 0 && high < x.storage.length, `reference.${primitive}`, () =>
        `the view of shape ${fmt(x.shape)}, strides ${fmt(x.strides)} and offset ${x.offset} reads element ${outside} of a storage of ${x.storage.length}`);
    }
  }

  /** Every value of `x`, row-major. */
  private values(primitive: string, x: View<Storage>): number[] {
    this.checkViews(primitive, x);
    return offsets(x).map((o) => valueOf(x.dtype, x.storage[o]!));
  }

  /** A new storage of `dtype` holding `values` (int32 storage truncates as an Int32Array does, 16-bit floats round). */
  private output(dtype: DType, values: ArrayLike<number>): Storage {
    const out = storageArrayFor(dtype, values.length);
    for (let i = 0; i < values.length; i++) out[i] = storedOf(dtype, values[i]!);
    return out;
  }

  upload(data: StorageArray): Storage {
    // 16-bit float patterns are kept as they are; other data becomes float64 or int32.
    if (data instanceof Uint16Array) return data.slice();
    return this.output(data instanceof Int32Array ? 'int32' : 'float64', data);
  }

  fill(size: number, dtype: DType, value: number): Storage {
    return this.output(dtype, new Array<number>(size).fill(value));
  }

  readSync(x: View<Storage>): StorageArray {
    return this.output(x.dtype, this.values('read', x));
  }

  read(x: View<Storage>): Promise<StorageArray> {
    return Promise.resolve(this.readSync(x));
  }

  /** Nothing to release: a typed array goes to the garbage collector once nothing uses it. */
  free(): void {}

  bytes(storage: Storage): number {
    return storage.byteLength;
  }

  unary(op: UnaryOp, x: View<Storage>): Storage {
    return this.output(x.dtype, this.values(op, x).map(UNARY[op]));
  }

  cast(x: View<Storage>, dtype: DType): Storage {
    return this.output(dtype, this.values('cast', x).map((v) => (dtype === 'int32' ? Math.trunc(v) : v)));
  }

  binary(op: BinaryOp, a: View<Storage>, b: View<Storage>): Storage {
    const bs = this.values(op, b);
    return this.output(COMPARISONS.includes(op) ? 'int32' : a.dtype, this.values(op, a).map((v, i) => BINARY[op](v, bs[i]!)));
  }

  where(cond: View<Storage>, a: View<Storage>, b: View<Storage>): Storage {
    const as = this.values('where', a), bs = this.values('where', b);
    return this.output(a.dtype, this.values('where', cond).map((c, i) => (c !== 0 ? as[i]! : bs[i]!)));
  }

  reduce(op: ReduceOp, x: View<Storage>, axes: readonly number[]): Storage {
    const kept = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
    const outShape = kept.map((d) => x.shape[d]!);
    const outStrides = contiguousStrides(outShape);
    const acc = new Array<number>(sizeOf(outShape)).fill(REDUCE[op].init);
    this.values(op, x).forEach((v, i) => {
      const index = unravel(i, x.shape);
      const o = kept.reduce((sum, d, k) => sum + index[d]! * outStrides[k]!, 0);
      acc[o] = REDUCE[op].step(acc[o]!, v);
    });
    return this.output(x.dtype, acc);
  }

  argReduce(op: ArgReduceOp, x: View<Storage>, axis: number): Storage {
    this.checkViews(op, x);
    const n = x.shape[axis]!;
    const outShape = x.shape.filter((_, d) => d !== axis);
    const better = op === 'argmax' ? (v: number, best: number) => v > best : (v: number, best: number) => v < best;
    const result = Array.from({ length: sizeOf(outShape) }, (_, o) => {
      const index = unravel(o, outShape);
      const at = (i: number) => x.storage[offsetOf(x, [...index.slice(0, axis), i, ...index.slice(axis)])]!;
      // The first extreme wins; the first NaN wins outright, as in PyTorch.
      let best = 0;
      for (let i = 1; i < n && !Number.isNaN(at(best)); i++) if (Number.isNaN(at(i)) || better(at(i), at(best))) best = i;
      return best;
    });
    return this.output('int32', result);
  }

  matmul(a: View<Storage>, b: View<Storage>): Storage {
    this.checkViews('matmul', a, b);
    const r = a.shape.length;
    const k = a.shape[r - 1]!;
    const outShape = [...a.shape.slice(0, r - 1), b.shape[r - 1]!];
    const result = Array.from({ length: sizeOf(outShape) }, (_, o) => {
      const index = unravel(o, outShape);
      const batch = index.slice(0, r - 2), i = index[r - 2]!, j = index[r - 1]!;
      let sum = 0;
      for (let l = 0; l < k; l++) sum += a.storage[offsetOf(a, [...batch, i, l])]! * b.storage[offsetOf(b, [...batch, l, j])]!;
      return sum;
    });
    return this.output(a.dtype, result);
  }

  gather(x: View<Storage>, axis: number, index: View<Storage>): Storage {
    this.checkViews('gather', x);
    const picks = this.values('gather', index);
    const result = picks.map((j, i) => {
      const at = unravel(i, index.shape);
      at[axis] = j;
      return valueOf(x.dtype, x.storage[offsetOf(x, at)]!);
    });
    return this.output(x.dtype, result);
  }

  scatterAdd(src: View<Storage>, axis: number, index: View<Storage>, outShape: readonly number[]): Storage {
    const values = this.values('scatterAdd', src);
    const outStrides = contiguousStrides(outShape);
    const out = new Array<number>(sizeOf(outShape)).fill(0);
    this.values('scatterAdd', index).forEach((j, i) => {
      const at = unravel(i, index.shape);
      at[axis] = j;
      out[at.reduce((sum, v, d) => sum + v * outStrides[d]!, 0)] += values[i]!;
    });
    return this.output(src.dtype, out);
  }

  copy(src: View<Storage>, dst: View<Storage>): void {
    // Read everything first: src and dst may be views of one storage.
    const values = this.values('copy', src);
    this.checkViews('copy', dst);
    offsets(dst).forEach((o, i) => (dst.storage[o] = storedOf(dst.dtype, values[i]!)));
  }
}
