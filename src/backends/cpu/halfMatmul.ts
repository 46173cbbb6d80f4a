import type { View } from '../../core/backend.js';
import { type DType, type StorageArray, type TypedArray, isHalf } from '../../core/dtype.js';
import { type HalfDType, narrowToHalf, widenHalf } from '../../core/half.js';
import { isContiguous, sizeOf } from '../../core/shape.js';
import type { Arena } from './wasm/arena.js';
import { widenInMemory } from './wasm/half.js';

// The CPU's kernels for the 16-bit float storage dtypes. A float16/bfloat16 storage is a
// Uint16Array of bit patterns; the values are widened to float32 (exactly) where a kernel reads
// them, and float32 results are rounded to nearest-even where one is written.

/**
 * Values of the half weight widened at once by `halfMatmulCpu`: 1M floats (4 MiB), enough columns
 * or rows that each tile's GEMM call is large, and a small fraction of a large weight.
 */
const TILE_VALUES = 1 << 20;

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

/**
 * float32 `a` [...batch, m, k] (contiguous) times a 16-bit `b` [...batch, k, n] that is one
 * contiguous matrix broadcast over the batch (a weight, maybe transposed): b is widened a tile at
 * a time into the backend's float32 storage and each tile multiplied by its float32 matmul, so the
 * float32 weight never exists whole. Transposed (a linear layer's Wᵀ), a tile is a block of
 * columns, whole rows of W; row-major (a Conv1D's weight, or the input gradient's W), a block of
 * rows whose products are summed. A new float32 storage, or null for any other layout (core then
 * widens b for the product).
 */
export function halfMatmulCpu(
  a: View<TypedArray>, b: View<TypedArray>, arena: Arena | null, matmul: MatmulFn, allocate: (n: number) => Float32Array, release: (t: TypedArray) => void,
): Float32Array | null {
  const r = b.shape.length;
  if (a.dtype !== 'float32' || !isHalf(b.dtype) || !isContiguous(a.shape, a.strides) || b.strides.slice(0, r - 2).some((s) => s !== 0)) return null;
  const [k, n] = b.shape.slice(-2) as [number, number];
  const [s0, s1] = b.strides.slice(-2) as [number, number];
  const transposed = s0 === 1 && s1 === k, rowMajor = s1 === 1 && s0 === n;
  if (k === 0 || n === 0 || (!transposed && !rowMajor)) return null;
  const m = sizeOf(a.shape) / k;
  const out = allocate(m * n);
  if (m === 0) return out;
  const bits = b.storage as unknown as Uint16Array, dtype = b.dtype as HalfDType;
  const inJs = (from: Uint16Array, to: Float32Array) => widenHalf(from, dtype, to);
  /** `length` values of b from `first`, widened into a float32 tile (in WebAssembly SIMD where it runs; the GEMM then reads it in place). */
  const widen = (first: number, length: number) => {
    const tile = allocate(length), from = bits.subarray(b.offset + first, b.offset + first + length);
    if (!arena || !widenInMemory(arena, from, dtype, tile, inJs)) inJs(from, tile);
    return tile;
  };
  const x: View<TypedArray> = { storage: a.storage, shape: [m, k], strides: [k, 1], offset: a.offset, dtype: 'float32' };
  if (transposed) {
    const per = Math.max(1, Math.floor(TILE_VALUES / k));
    for (let c0 = 0; c0 < n; c0 += per) {
      const count = Math.min(per, n - c0);
      const tile = widen(c0 * k, count * k);
      const part = matmul(x, { storage: tile, shape: [k, count], strides: [1, k], offset: 0, dtype: 'float32' });
      for (let i = 0; i < m; i++) out.set(part.subarray(i * count, (i + 1) * count), i * n + c0);
      release(part);
      release(tile);
    }
    return out;
  }
  const per = Math.max(1, Math.floor(TILE_VALUES / n));
  for (let r0 = 0; r0 < k; r0 += per) {
    const count = Math.min(per, k - r0);
    const tile = widen(r0 * n, count * n);
    const part = matmul({ ...x, shape: [m, count], offset: a.offset + r0 }, { storage: tile, shape: [count, n], strides: [n, 1], offset: 0, dtype: 'float32' });
    if (r0 === 0) out.set(part);
    else for (let i = 0; i < out.length; i++) out[i]! += part[i]!;
    release(part);
    release(tile);
  }
  return out;
}
