// The webgpu backend's scatterAdd against sums made by hand: the row kernel (an index repeated
// across each row, as an embedding's gradient has; several output rows per invocation) with
// row counts that do not fill its last group, transposed and offset sources, strided indices,
// int32 sources and indices outside the rows (which add nothing); an index that varies along the
// row still takes the element kernel, and both agree.
import { describe, expect, it } from 'vitest';
import { backendByName } from '../../src/core/backend.js';
import type { View } from '../../src/core/backend.js';
import type { TypedArray } from '../../src/core/dtype.js';
import type { WebGPUBackend } from '../../src/backends/webgpu/index.js';
import type { GPUStorage } from '../../src/backends/webgpu/buffers.js';
import { backendBeforeAll } from '../backendAvailable.js';

const available = backendBeforeAll('webgpu', 'scatterAdd tests');
const gpu = () => backendByName('webgpu') as unknown as WebGPUBackend;

function view(data: TypedArray, shape: number[], strides: number[], offset = 0): View<GPUStorage> {
  return { storage: gpu().upload(data), shape, strides, offset, dtype: data instanceof Int32Array ? 'int32' : 'float32' };
}

/** A [rows, cols] result read back as numbers. */
const result = async (s: GPUStorage, rows: number, cols: number, dtype: 'float32' | 'int32' = 'float32') =>
  Array.from(await gpu().read({ storage: s, shape: [rows, cols], strides: [cols, 1], offset: 0, dtype }));

/** out[ids[r]][c] += src(r, c) over r in order, ids outside [0, rows) skipped. */
function byHand(ids: number[], src: (r: number, c: number) => number, rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols).fill(0);
  ids.forEach((j, r) => {
    if (j < 0 || j >= rows) return;
    for (let c = 0; c < cols; c++) out[j * cols + c] += src(r, c);
  });
  return out;
}

describe('webgpu scatterAdd', () => {
  const ids = [3, 0, 12, 3, 1, 12, 9, -1, 13, 8, 3, 7, 0];
  const n = ids.length;

  for (const [rows, cols] of [[13, 5], [8, 3], [20, 1]] as const) {
    it(`adds rows of a [${n}, ${cols}] source into a [${rows}, ${cols}] output by a row-broadcast index`, async (t) => {
      if (!available()) return t.skip();
      const src = Float32Array.from({ length: n * cols }, (_, i) => (i % 11) - 4);
      const want = byHand(ids, (r, c) => src[r * cols + c]!, rows, cols);
      const index = view(Int32Array.from(ids), [n, cols], [1, 0]);
      expect(await result(gpu().scatterAdd(view(src, [n, cols], [cols, 1]), 0, index, [rows, cols]), rows, cols)).toEqual(want);
      // The same index materialized (no stride 0) goes through the element kernel.
      const full = view(Int32Array.from(ids.flatMap((j) => new Array<number>(cols).fill(j))), [n, cols], [cols, 1]);
      expect(await result(gpu().scatterAdd(view(src, [n, cols], [cols, 1]), 0, full, [rows, cols]), rows, cols)).toEqual(want);
    });
  }

  it('reads a transposed, offset source and a strided, offset index', async (t) => {
    if (!available()) return t.skip();
    const [rows, cols] = [13, 6];
    // The source is [cols, n] in memory from element 4, read as [n, cols].
    const mem = Float32Array.from({ length: 4 + n * cols }, (_, i) => (i * 7) % 13);
    const src = (r: number, c: number) => mem[4 + c * n + r]!;
    // The index sits at every other element from element 1.
    const idx = Int32Array.from({ length: 1 + 2 * n }, (_, i) => (i % 2 === 1 ? ids[(i - 1) / 2]! : 99));
    const out = gpu().scatterAdd(view(mem, [n, cols], [1, n], 4), 0, view(idx, [n, cols], [2, 0], 1), [rows, cols]);
    expect(await result(out, rows, cols)).toEqual(byHand(ids, src, rows, cols));
  });

  it('adds int32 sources', async (t) => {
    if (!available()) return t.skip();
    const [rows, cols] = [11, 2];
    const src = Int32Array.from({ length: n * cols }, (_, i) => i * 3 - 7);
    const out = gpu().scatterAdd(view(src, [n, cols], [cols, 1]), 0, view(Int32Array.from(ids), [n, cols], [1, 0]), [rows, cols]);
    expect(await result(out, rows, cols, 'int32')).toEqual(byHand(ids, (r, c) => src[r * cols + c]!, rows, cols));
  });
});
