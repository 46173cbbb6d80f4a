// Float32 storages in the module's memory are filled by a WebAssembly vector loop (and read back
// with set() rather than slice()): every element gets the value, -0 and NaN included, at sizes
// around the loop's threshold and not a multiple of 4, and the storages beside it keep theirs.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';

const backend = new CpuBackend();

describe('cpu fill in the module memory', () => {
  it('runs on the wasm path with storages in the memory', () => {
    expect(backend.info.path).toBe('wasm');
    expect(backend.fill(300, 'float32', 1).buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  for (const size of [255, 256, 257, 1001, 4096]) {
    it(`fills ${size} elements with every value and leaves its neighbours alone`, () => {
      for (const value of [0, -0, 1.5, -3e38, NaN, Infinity]) {
        const before = backend.fill(size, 'float32', 7);
        const got = backend.fill(size, 'float32', value);
        const after = backend.fill(size, 'float32', 9);
        const read = backend.readSync({ storage: got, shape: [size], strides: [1], offset: 0, dtype: 'float32' });
        expect(read.buffer).not.toBeInstanceOf(SharedArrayBuffer);
        expect(Array.from(read).every((x) => Object.is(x, Math.fround(value)))).toBe(true);
        expect(Array.from(before).every((x) => x === 7)).toBe(true);
        expect(Array.from(after).every((x) => x === 9)).toBe(true);
        for (const s of [before, got, after]) backend.free(s);
      }
    });
  }
});
