import type { View } from '../../core/backend.js';
import { type DType, type StorageArray, type TypedArray, isHalf } from '../../core/dtype.js';
import { type HalfDType, narrowToHalf, widenHalf } from '../../core/half.js';
import { isContiguous, sizeOf } from '../../core/shape.js';

// The CPU's kernels for the 16-bit float storage dtypes. A float16/bfloat16 storage is a
// Uint16Array of bit patterns; the values are widened to float32 (exactly) where a kernel reads
// them, and float32 results are rounded to nearest-even where one is written.

/** Values of the half weight widened at once by `halfMatmulCpu`: 64K floats (256 KiB). */
const TILE_VALUES = 65536;

type MatmulFn = (a: View<TypedArray>, b: View<TypedArray>) => TypedArray;

/**
 * `values` (a view's row-major elements; bit patterns when `from` is 16-bit) converted to `to`,
 * one of the two being 16-bit: widened exactly, narrowed to nearest-even, or truncated to int32.
 */
export function castHalf(values: TypedArray, from: DType, to: DType, allocate32: (n: number) => Float32Array): StorageArray {
  const wide = isHalf(from) ? widenHalf(values as unknown as Uint16Array, from, to === 'float32' ? allocate32(values.length) : new Float32Array(values.length)) : values;
  if (isHalf(to)) return narrowToHalf(wide, to);
  if (to === 'float64') return Float64Array.from(wide);
  if (to === 'int32') return Int32Array.from(wide, Math.trunc);
  return wide;
}

/** Columns [c0, c0 + count) of the 16-bit [k, n] matrix at `offset` with strides s0, s1, widened in its own memory order. */
function widenColumns(bits: Uint16Array, dtype: HalfDType, offset: number, k: number, count: number, s0: number, s1: number, columnMajor: boolean): Float32Array {
  // A linear layer's transposed weight: the columns are whole rows of W, one contiguous block.
  if (columnMajor && s0 === 1 && s1 === k) return widenHalf(bits.subarray(offset, offset + k * count), dtype);
  const picked = new Uint16Array(k * count);
  let o = 0;
  if (columnMajor) {
    for (let c = 0; c < count; c++) for (let r = 0; r < k; r++) picked[o++] = bits[offset + c * s1 + r * s0]!;
  } else {
    for (let r = 0; r < k; r++) for (let c = 0; c < count; c++) picked[o++] = bits[offset + r * s0 + c * s1]!;
  }
  return widenHalf(picked, dtype);
}

/**
 * float32 `a` [...batch, m, k] (contiguous) times a 16-bit `b` [...batch, k, n] that is one matrix
 * broadcast over the batch (a weight): b is widened a tile of columns at a time and each tile
 * multiplied by the backend's float32 matmul, so the float32 weight never exists whole. A new
 * float32 storage, or null for any other layout (core then widens b whole for the product).
 */
export function halfMatmulCpu(a: View<TypedArray>, b: View<TypedArray>, matmul: MatmulFn, allocate: (n: number) => Float32Array, release: (t: TypedArray) => void): Float32Array | null {
  const r = b.shape.length;
  if (a.dtype !== 'float32' || !isHalf(b.dtype) || !isContiguous(a.shape, a.strides) || b.strides.slice(0, r - 2).some((s) => s !== 0)) return null;
  const [k, n] = b.shape.slice(-2) as [number, number];
  const [s0, s1] = b.strides.slice(-2) as [number, number];
  if (k === 0) return null;
  const m = sizeOf(a.shape) / k;
  const out = allocate(m * n);
  const x: View<TypedArray> = { storage: a.storage, shape: [m, k], strides: [k, 1], offset: a.offset, dtype: 'float32' };
  const columnMajor = s0 < s1;
  const perTile = Math.max(1, Math.floor(TILE_VALUES / k));
  for (let c0 = 0; c0 < n && m > 0; c0 += perTile) {
    const count = Math.min(perTile, n - c0);
    const tile = widenColumns(b.storage as unknown as Uint16Array, b.dtype as HalfDType, b.offset + c0 * s1, k, count, s0, s1, columnMajor);
    const part = matmul(x, { storage: tile, shape: [k, count], strides: columnMajor ? [1, k] : [count, 1], offset: 0, dtype: 'float32' });
    for (let i = 0; i < m; i++) out.set(part.subarray(i * count, (i + 1) * count), i * n + c0);
    release(part);
  }
  return out;
}
