// Cross-entropy's gradient in WebAssembly (src/backends/cpu/wasm/crossEntropy.ts) against the
// JavaScript loop (../crossEntropy.ts), bit for bit: rows whose length is not a multiple of 4,
// ignored rows, targets at either end of a row, g and targets inside the module's memory and
// outside; with label smoothing, or p outside the memory, it declines and writes nothing.
import { describe, expect, it } from 'vitest';
import { crossEntropyGradient } from '../../src/backends/cpu/crossEntropy.js';
import { Arena } from '../../src/backends/cpu/wasm/arena.js';
import { crossEntropyGradientWasm, crossEntropyModuleBytes } from '../../src/backends/cpu/wasm/crossEntropy.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';

const arena = new Arena(startWasm()!);

/** A float32 array in the module's memory holding `values`. */
function inMemory(values: ArrayLike<number>): Float32Array {
  const a = arena.float32(values.length)!;
  a.set(values);
  return a;
}

const softmaxLike = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.abs(Math.sin(i * 1.3 + seed)) / 7);

describe('WebAssembly cross-entropy gradient', () => {
  it('stays under the 4 KiB a browser compiles on its main thread', () => {
    expect(crossEntropyModuleBytes({ maxPages: 32768, shared: true }).length).toBeLessThan(4096);
  });

  it('equals the JavaScript loop bit for bit, ignored rows and ragged rows included', () => {
    for (const c of [1, 3, 4, 5, 96, 97]) {
      const rows = 37;
      const target = Int32Array.from({ length: rows }, (_, r) => (r % 5 === 3 ? -100 : r % 3 === 0 ? 0 : r % 3 === 1 ? c - 1 : (r * 7) % c));
      const gValues = Float32Array.from({ length: rows }, (_, r) => (r - 11) / 13);
      for (const resident of [true, false]) {
        const g = resident ? inMemory(gValues) : gValues;
        const p = inMemory(softmaxLike(rows * c, c));
        const js = Float32Array.from(p);
        expect(crossEntropyGradientWasm(arena, p, g, target, rows, c, -100, 0)).toBe(true);
        crossEntropyGradient(js, gValues, target, rows, c, -100, 0);
        expect(Buffer.from(p.buffer, p.byteOffset, p.byteLength).equals(Buffer.from(js.buffer)), `c ${c}, g in memory ${resident}`).toBe(true);
      }
    }
  });

  it('declines, having written nothing, with label smoothing or p outside the memory', () => {
    const p = inMemory([0.25, 0.75]), before = Float32Array.from(p);
    expect(crossEntropyGradientWasm(arena, p, new Float32Array([1]), new Int32Array([1]), 1, 2, -100, 0.1)).toBe(false);
    expect(Array.from(p)).toEqual(Array.from(before));
    expect(crossEntropyGradientWasm(arena, new Float32Array([0.25, 0.75]), new Float32Array([1]), new Int32Array([1]), 1, 2, -100, 0)).toBe(false);
  });
});
