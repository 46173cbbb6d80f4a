// The CPU backend's row-by-row gather and scatterAdd (an index broadcast over contiguous rows,
// as embedding lookups make) against values picked and summed by hand, with the element walk
// still serving other layouts (a transposed table, an index that varies along the row), and the
// module's vector add serving rows of whole vectors in its memory.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import type { View } from '../../src/core/backend.js';
import type { TypedArray } from '../../src/core/dtype.js';

const cpu = new CpuBackend();
const view = (storage: TypedArray, shape: number[], strides: number[], offset = 0): View<TypedArray> =>
  ({ storage, shape, strides, offset, dtype: storage instanceof Float64Array ? 'float64' : storage instanceof Int32Array ? 'int32' : 'float32' });

describe('cpu gather and scatterAdd by rows', () => {
  const V = 7, D = 5, ids = [3, 0, 6, 3, 1, 6];
  for (const make of [(n: number) => new Float32Array(n), (n: number) => new Float64Array(n), (n: number) => new Int32Array(n)]) {
    const table = make(V * D).map((_, i) => i * 3 - 20);
    const index = view(Int32Array.from(ids), [ids.length, D], [1, 0]);

    it(`gathers whole rows of a ${table.constructor.name} table, and columns of its transpose`, () => {
      const rows = cpu.gather(view(table, [V, D], [D, 1]), 0, index);
      expect(Array.from(rows)).toEqual(ids.flatMap((j) => Array.from(table.subarray(j * D, j * D + D))));
      // The transposed table [D, V] gathered along axis 1 by an index [D, n] constant along axis 0: the element walk.
      const cols = cpu.gather(view(table, [D, V], [1, D]), 1, view(Int32Array.from(ids), [D, ids.length], [0, 1]));
      expect(Array.from(cols)).toEqual(Array.from({ length: D }, (_, k) => ids.map((j) => table[j * D + k]!)).flat());
    });

    it(`adds rows of a ${table.constructor.name} source into their targets`, () => {
      const src = make(ids.length * D).map((_, i) => i - 9);
      const out = cpu.scatterAdd(view(src, [ids.length, D], [D, 1]), 0, index, [V, D]);
      const want = new Array<number>(V * D).fill(0);
      ids.forEach((j, r) => { for (let k = 0; k < D; k++) want[j * D + k] += src[r * D + k]!; });
      expect(Array.from(out)).toEqual(want);
    });
  }

  it('adds rows of whole vectors in the module memory with its vector add, and leaves the other rows alone', () => {
    expect(cpu.info.path).toBe('wasm');
    // rows of 8 floats (two vectors), the source and the result both in the memory; a row index
    // repeated, so some targets take two rows and some none
    const W = 8, src = cpu.fill(ids.length * W, 'float32', 0) as Float32Array;
    expect(src.buffer).toBeInstanceOf(SharedArrayBuffer);
    src.set(Float32Array.from({ length: ids.length * W }, (_, i) => (i % 7) * 0.25 - 1));
    const got = cpu.scatterAdd(view(src, [ids.length, W], [W, 1]), 0, view(Int32Array.from(ids), [ids.length, W], [1, 0]), [V, W]);
    expect(got.buffer).toBeInstanceOf(SharedArrayBuffer);
    const want = new Array<number>(V * W).fill(0);
    ids.forEach((j, r) => { for (let k = 0; k < W; k++) want[j * W + k] += src[r * W + k]!; });
    expect(Array.from(got)).toEqual(want);
  });

  it('leaves an index that varies along the row to the element walk', () => {
    const table = Float32Array.from({ length: 12 }, (_, i) => i);
    const got = cpu.gather(view(table, [3, 4], [4, 1]), 0, view(Int32Array.from([2, 0, 1, 2]), [1, 4], [4, 1]));
    expect(Array.from(got)).toEqual([8, 1, 6, 11]);
  });
});
