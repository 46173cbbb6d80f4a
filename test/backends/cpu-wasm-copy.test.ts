// The WebAssembly strided copy against an index-by-index copy: transposed heads, slices written
// at an offset into a wider row, row lengths that are not multiples of 4, and the cases it must
// leave to JavaScript (too many dims, overlapping views, storages outside the memory), which it
// must leave untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { View } from '../../src/core/backend.js';
import type { TypedArray } from '../../src/core/dtype.js';
import { Arena } from '../../src/backends/cpu/wasm/arena.js';
import { copyModuleBytes, copyWasm } from '../../src/backends/cpu/wasm/copy.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import { configureWasmElementwise } from '../../src/backends/cpu/wasm/kernels.js';

const arena = new Arena(startWasm()!);

/** A float32 storage in the module's memory holding `n` distinct values. */
function storage(n: number, start = 1): Float32Array {
  const a = arena.float32(n)!;
  for (let i = 0; i < n; i++) a[i] = start + i * 0.5;
  return a;
}

const view = (storage: Float32Array, shape: number[], strides: number[], offset = 0): View<TypedArray> => ({ storage, shape, strides, offset, dtype: 'float32' });

/** dst = src one element at a time, through both views' strides. */
function copyByIndex(src: View<TypedArray>, dst: View<TypedArray>): void {
  const n = src.shape.reduce((a, b) => a * b, 1);
  for (let flat = 0; flat < n; flat++) {
    let rest = flat, s = src.offset, d = dst.offset;
    for (let k = src.shape.length - 1; k >= 0; k--) {
      const i = rest % src.shape[k]!;
      rest = Math.floor(rest / src.shape[k]!);
      s += i * src.strides[k]!;
      d += i * dst.strides[k]!;
    }
    dst.storage[d] = src.storage[s]!;
  }
}

/** Contiguous strides of a shape. */
const contiguous = (shape: number[]) => shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));

/** Runs the WebAssembly copy and the reference on twin destinations; returns whether it ran, and both destinations. */
function both(src: View<TypedArray>, dstShape: number[], dstStrides: number[], dstOffset: number, dstSize: number) {
  const got = storage(dstSize, -100), want = Float32Array.from(got);
  const ran = copyWasm(arena, src, view(got, dstShape, dstStrides, dstOffset));
  copyByIndex(src, view(want, dstShape, dstStrides, dstOffset));
  return { ran, got: Array.from(got), want: Array.from(want) };
}

describe('WebAssembly strided copy', () => {
  // the small views here are below the size from which a copy is worth a call
  let before: ReturnType<typeof configureWasmElementwise>;
  beforeAll(() => void (before = configureWasmElementwise({ minInMemory: 1 })));
  afterAll(() => void configureWasmElementwise(before));

  it('stays under the 4 KiB a browser compiles on its main thread', () => {
    expect(copyModuleBytes({ maxPages: 32768, shared: true }).length).toBeLessThan(4096);
  });

  it('merges heads: [B, H, T, E] read as [B, T, H, E] into a contiguous result, for head dims 2 to 17', () => {
    for (const E of [2, 3, 4, 5, 16, 17]) {
      const [B, H, T] = [2, 3, 5];
      const src = view(storage(B * H * T * E), [B, T, H, E], [H * T * E, E, T * E, 1]);
      const r = both(src, [B, T, H, E], contiguous([B, T, H, E]), 0, B * T * H * E);
      expect(r.ran, `E ${E}`).toBe(true);
      expect(r.got, `E ${E}`).toEqual(r.want);
    }
  });

  it('writes a slice at an offset into wider rows and leaves the rest of them as they were', () => {
    const [B, T, C] = [2, 4, 6];
    const src = view(storage(B * T * C), [B, T, C], contiguous([B, T, C]));
    const r = both(src, [B, T, C], [T * 3 * C, 3 * C, 1], C, B * T * 3 * C);
    expect(r.ran).toBe(true);
    expect(r.got).toEqual(r.want);
  });

  it('copies an offset view with a broadcast (stride 0) outer dim', () => {
    const src = view(storage(40), [3, 2, 8], [0, 8, 1], 7);
    const r = both(src, [3, 2, 8], contiguous([3, 2, 8]), 0, 48);
    expect(r.ran).toBe(true);
    expect(r.got).toEqual(r.want);
  });

  it('leaves to JavaScript, untouched, what it does not take', () => {
    const untouched = (n: number) => Array.from(storage(n, -100));
    // five dims that do not coalesce: a permuted [2, 2, 2, 2, 4]
    const five = both(view(storage(64), [2, 2, 2, 2, 4], [16, 32, 4, 8, 1]), [2, 2, 2, 2, 4], contiguous([2, 2, 2, 2, 4]), 0, 64);
    expect(five.ran).toBe(false);
    expect(five.got).toEqual(untouched(64));
    // rows strided in the source (a transposed matrix)
    const strided = both(view(storage(16), [4, 4], [1, 4]), [4, 4], [4, 1], 0, 16);
    expect(strided.ran).toBe(false);
    expect(strided.got).toEqual(untouched(16));
    // overlapping views of one storage
    const shared = storage(32);
    expect(copyWasm(arena, view(shared, [16], [1], 0), view(shared, [16], [1], 8))).toBe(false);
    expect(Array.from(shared)).toEqual(Array.from(storage(32)));
    // a destination outside the memory
    const outside = new Float32Array(16);
    expect(copyWasm(arena, view(storage(16), [16], [1]), view(outside, [16], [1]))).toBe(false);
    expect(Array.from(outside)).toEqual(new Array(16).fill(0));
  });
});
