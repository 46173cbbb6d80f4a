// The CPU backend's WebAssembly comparison and `where` kernels against its JavaScript path, bit
// for bit (NaN, ±0 and ±Infinity included), on contiguous, row-broadcast, scalar and offset
// operands inside and outside the module's memory, the causal mask's [T, T] against
// [B, H, T, T] among them; and a hand-back to JavaScript for what they do not cover.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { Arena } from '../../src/backends/cpu/wasm/arena.js';
import { WasmSelect } from '../../src/backends/cpu/wasm/select.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import type { View } from '../../src/core/backend.js';
import type { TypedArray } from '../../src/core/dtype.js';
import { type Where, arenaProbes } from './support/arenaProbes.js';

const rt = startWasm()!;
const arena = new Arena(rt);
const { place } = arenaProbes(arena);
const kernels = new WasmSelect(arena);
const js = new CpuBackend({ wasm: false });

function view(storage: TypedArray, shape: number[], strides: number[], offset = 0): View<TypedArray> {
  return { storage, shape, strides, offset, dtype: storage instanceof Int32Array ? 'int32' : 'float32' };
}
/** Values with repeats (so eq has hits), NaN, ±Infinity and ±0. */
const values = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => {
    const k = (i * 7919 + seed * 104729) % 60;
    return k === 0 ? NaN : k === 1 ? Infinity : k === 2 ? -Infinity : k === 3 ? -0 : k === 4 ? 0 : (k - 30) / 8;
  });
const bitsOf = (a: TypedArray) => Array.from(new Int32Array(a.buffer, a.byteOffset, a.length));

describe('wasm comparison and where kernels', () => {
  const operands = fc.tuple(
    fc.integer({ min: 1, max: 40 }), fc.integer({ min: 16, max: 300 }),
    fc.constantFrom('vv', 'row', 'scalar-b', 'scalar-a'), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 1000 }),
    fc.constantFrom<Where>('outside', 'inside'),
  ).map(([rows0, inner, form, offset, seed, where]) => {
    const rows = rows0 * inner < 2048 ? Math.ceil(2048 / inner) : rows0;
    const shape = [rows, inner], n = rows * inner;
    const a = view(place(values(n + offset, seed), where), shape, [inner, 1], offset);
    const b =
      form === 'vv' ? view(place(values(n + 3, seed + 1), where), shape, [inner, 1], 3)
        : form === 'row' ? view(place(values(inner + 1, seed + 2), where), shape, [0, 1], 1)
          : view(place(values(2, seed + 3), where), shape, [0, 0], 1);
    return { shape, seed, pair: (form === 'scalar-a' ? [b, a] : [a, b]) as [View<TypedArray>, View<TypedArray>] };
  });

  it('compare exactly as the JavaScript path', () => {
    fc.assert(
      fc.property(fc.constantFrom('eq', 'ne', 'lt', 'le', 'gt', 'ge') as fc.Arbitrary<'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'>, operands, (op, { pair: [x, y] }) => {
        const got = kernels.compare(op, x, y);
        expect(got).toBeInstanceOf(Int32Array);
        expect(Array.from(got!)).toEqual(Array.from(js.binary(op, x, y)));
        // A storage of the memory, which the arena takes back.
        expect(arena.release(got!)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('pick with where exactly as the JavaScript path, copying bits', () => {
    fc.assert(
      fc.property(operands, fc.boolean(), ({ shape, seed, pair: [x, y] }, rowMask) => {
        const [rows, inner] = shape as [number, number];
        const mask = Int32Array.from({ length: rowMask ? inner : rows * inner }, (_, i) => ((i * 31 + seed) % 3) - 1);
        const cond = view(mask, shape, rowMask ? [0, 1] : [inner, 1]);
        const got = kernels.where(cond, x, y);
        expect(got).toBeInstanceOf(Float32Array);
        expect(bitsOf(got!)).toEqual(bitsOf(js.where(cond, x, y)));
      }),
      { numRuns: 60 },
    );
  });

  it('fills the causal mask: a [T, T] int32 mask against [B, H, T, T] scores and a scalar', () => {
    const [B, H, T] = [2, 3, 24];
    const scores = view(place(values(B * H * T * T, 5), 'inside'), [B, H, T, T], [H * T * T, T * T, T, 1]);
    const mask = view(Int32Array.from({ length: T * T }, (_, i) => Number(i % T > Math.floor(i / T))), [B, H, T, T], [0, 0, T, 1]);
    const fill = view(Float32Array.of(-Infinity), [B, H, T, T], [0, 0, 0, 0]);
    const got = kernels.where(mask, fill, scores);
    expect(bitsOf(got!)).toEqual(bitsOf(js.where(mask, fill, scores)));
  });

  it('leaves to JavaScript what it does not cover', () => {
    const a = view(values(4096, 1), [64, 64], [1, 64]);
    const b = view(values(4096, 2), [64, 64], [64, 1]);
    // A transposed operand, int32 operands, and two scalars.
    expect(kernels.compare('lt', a, b)).toBeNull();
    expect(kernels.compare('lt', view(new Int32Array(4096), [4096], [1]), view(new Int32Array(4096), [4096], [1]))).toBeNull();
    expect(kernels.where(view(new Int32Array(4096), [4096], [1]), view(values(1, 1), [4096], [0]), view(values(1, 2), [4096], [0]))).toBeNull();
  });
});
