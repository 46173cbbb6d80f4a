// Test helpers for kernels on the CPU backend's WebAssembly memory: operands placed inside it,
// and a check that a kernel writes no further than the arena's slack past its result.
import { expect } from 'vitest';
import { type Arena, SLACK, sizeClass } from '../../../src/backends/cpu/wasm/arena.js';

/** Where a test operand lives: an ordinary array, or a storage inside the module's memory. */
export type Where = 'outside' | 'inside';

export function arenaProbes(arena: Arena) {
  /** The values as an ordinary array, or as a storage inside the module's memory. */
  function place(values: Float32Array, where: Where): Float32Array {
    if (where === 'outside') return values;
    const a = arena.float32(values.length)!;
    a.set(values);
    return a;
  }

  /**
   * Runs `kernel` with the block its n-element result will take marked, and checks that it wrote
   * nothing further than the arena's slack past the result's end (the rest of the block, and the
   * block after it, keep their marks).
   */
  function guarded<T>(n: number, kernel: () => T): T {
    const slot = arena.float32(n)!, guard = arena.float32(64)!;
    const block = new Float32Array(arena.rt.memory.buffer, arena.addressOf(slot), sizeClass(n * 4 + SLACK) / 4);
    block.fill(12345);
    guard.fill(12345);
    arena.release(slot);
    const out = kernel();
    const beyond = block.subarray((n * 4 + SLACK) / 4);
    expect(beyond.every((v) => v === 12345) && guard.every((v) => v === 12345), 'nothing past the slack is written').toBe(true);
    arena.release(guard);
    return out;
  }

  return { place, guarded };
}
