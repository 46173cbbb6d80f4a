// The WebAssembly LayerNorm kernels against the JavaScript ones (float64 row sums, the
// reference core's fused-layerNorm test holds to the composed ops) on rows whose length is not a
// multiple of 4, with and without weight and bias, inputs inside the module's memory and outside,
// more rows than the backward's float32 column block, and a neighbouring row of infinities that
// must not leak into the others.
import { describe, expect, it } from 'vitest';
import { layerNormBackward, layerNormForward } from '../../src/backends/cpu/layerNorm.js';
import { Arena } from '../../src/backends/cpu/wasm/arena.js';
import { layerNormBackwardWasm, layerNormForwardWasm, layerNormModuleBytes } from '../../src/backends/cpu/wasm/layerNorm.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import { expectClose } from '../fused.js';

const arena = new Arena(startWasm()!);

/** A float32 array in the module's memory holding `values`. */
function inMemory(values: ArrayLike<number>): Float32Array {
  const a = arena.float32(values.length)!;
  a.set(values);
  return a;
}

/** Deterministic values around `center`, spread by `scale`. */
const wave = (n: number, seed: number, center = 0, scale = 1) => Float32Array.from({ length: n }, (_, i) => center + scale * Math.sin(i * 1.7 + seed) * Math.cos(i * 0.3));

function both(rows: number, d: number, affine: { w: boolean; b: boolean }, resident: boolean, x = wave(rows * d, 1, 2, 3)) {
  const w = affine.w ? wave(d, 2, 1) : null, b = affine.b ? wave(d, 3) : null;
  const g = wave(rows * d, 4);
  const put = (a: Float32Array | null) => (a && resident ? inMemory(a) : a);
  const [y, mean, rstd] = [inMemory(new Float32Array(rows * d)), inMemory(new Float32Array(rows)), inMemory(new Float32Array(rows))];
  expect(layerNormForwardWasm(arena, put(x)!, put(w), put(b), rows, d, 1e-5, y, mean, rstd)).toBe(true);
  const [yJs, meanJs, rstdJs] = [new Float32Array(rows * d), new Float32Array(rows), new Float32Array(rows)];
  layerNormForward(x, w, b, rows, d, 1e-5, yJs, meanJs, rstdJs);
  const [dx, dw, db] = [inMemory(new Float32Array(rows * d)), new Float32Array(d), new Float32Array(d)];
  expect(layerNormBackwardWasm(arena, put(g)!, put(x)!, put(meanJs)!, put(rstdJs)!, put(w), rows, d, dx, dw, db)).toBe(true);
  const [dxJs, dwJs, dbJs] = [new Float32Array(rows * d), new Float32Array(d), new Float32Array(d)];
  layerNormBackward(g, x, meanJs, rstdJs, w, rows, d, dxJs, dwJs, dbJs);
  return { wasm: { y, mean, rstd, dx, dw, db }, js: { y: yJs, mean: meanJs, rstd: rstdJs, dx: dxJs, dw: dwJs, db: dbJs } };
}

describe('WebAssembly LayerNorm kernels', () => {
  it('stay under the 4 KiB a browser compiles on its main thread', () => {
    for (const shared of [true, false]) expect(layerNormModuleBytes({ maxPages: 32768, shared }).length).toBeLessThan(4096);
  });

  it('equal the JavaScript kernels for row lengths 1 to 67, with and without weight and bias, in and out of the memory', () => {
    for (const d of [1, 3, 4, 6, 64, 67]) {
      for (const affine of [{ w: true, b: true }, { w: false, b: false }, { w: true, b: false }, { w: false, b: true }]) {
        for (const resident of [true, false]) {
          const { wasm, js } = both(5, d, affine, resident);
          const what = `d ${d}, weight ${affine.w}, bias ${affine.b}, in memory ${resident}`;
          expectClose(wasm.mean, js.mean, 1e-6, `${what}: mean`);
          expectClose(wasm.rstd, js.rstd, 1e-5, `${what}: rstd`);
          expectClose(wasm.y, js.y, 1e-5, `${what}: y`);
          expectClose(wasm.dx, js.dx, 1e-4, `${what}: dx`);
          expectClose(wasm.dw, js.dw, 1e-5, `${what}: dweight`);
          expectClose(wasm.db, js.db, 1e-5, `${what}: dbias`);
        }
      }
    }
  });

  it('sum dweight and dbias over many rows, in blocks and a partial last block, as JavaScript does in float64', () => {
    // 37 rows: two whole blocks of 16 and a last of 5; relative to the sum of the terms' sizes, as a column sum can cancel
    for (const d of [6, 64]) {
      const rows = 37;
      const { wasm, js } = both(rows, d, { w: true, b: true }, true, wave(rows * d, 7, 1, 2));
      const g = wave(rows * d, 4);
      for (let i = 0; i < d; i++) {
        let size = 0;
        for (let r = 0; r < rows; r++) size += Math.abs(g[r * d + i]!);
        expect(Math.abs(wasm.db[i]! - js.db[i]!)).toBeLessThan(1e-6 * size);
        expect(Math.abs(wasm.dw[i]! - js.dw[i]!)).toBeLessThan(1e-5 * size);
      }
      expectClose(wasm.dx, js.dx, 1e-4, `d ${d}: dx`);
    }
  });

  it('keep each row to itself: a row of infinities leaves its neighbours finite and equal to JavaScript', () => {
    const rows = 4, d = 6;
    const x = wave(rows * d, 5);
    x.fill(Infinity, d, 2 * d);
    const { wasm, js } = both(rows, d, { w: true, b: true }, true, x);
    for (const r of [0, 2, 3]) {
      expectClose(wasm.y.subarray(r * d, (r + 1) * d), js.y.subarray(r * d, (r + 1) * d), 1e-5, `row ${r}: y`);
      expectClose(wasm.dx.subarray(r * d, (r + 1) * d), js.dx.subarray(r * d, (r + 1) * d), 1e-4, `row ${r}: dx`);
    }
    expect(Array.from(wasm.y.subarray(d, 2 * d)).every(Number.isNaN)).toBe(true);
  });

  it('decline, having written nothing, when a result lies outside the memory', () => {
    const x = inMemory(wave(8, 6)), y = new Float32Array(8);
    expect(layerNormForwardWasm(arena, x, null, null, 2, 4, 1e-5, y, inMemory([0, 0]), inMemory([0, 0]))).toBe(false);
    expect(Array.from(y)).toEqual(new Array(8).fill(0));
    expect(layerNormBackwardWasm(arena, x, x, inMemory([0, 0]), inMemory([1, 1]), null, 2, 4, y, new Float32Array(4), new Float32Array(4))).toBe(false);
  });
});
