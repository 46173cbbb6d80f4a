// The CPU's WebAssembly SIMD widening of float16 and bfloat16 patterns (src/backends/cpu/wasm/half.ts)
// against the JavaScript conversion (checked bit for bit against PyTorch in test/core/half.test.ts),
// over all 65,536 patterns of each, bit for bit (NaNs included), with a tail that is not a multiple of 4.
import { describe, expect, it } from 'vitest';
import { Arena } from '../../src/backends/cpu/wasm/arena.js';
import { widenInMemory } from '../../src/backends/cpu/wasm/half.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import { widenHalf } from '../../src/core/half.js';

const rt = startWasm()!;
const arena = new Arena(rt);

describe('WebAssembly widening of 16-bit floats', () => {
  for (const dtype of ['float16', 'bfloat16'] as const) {
    it(`${dtype}: every pattern, bit for bit`, () => {
      const bits = Uint16Array.from({ length: 65536 + 3 }, (_, i) => i & 0xffff);
      const out = arena.float32(bits.length)!;
      expect(out).not.toBeNull();
      let tail = 0;
      expect(widenInMemory(arena, bits, dtype, out, (b, o) => { tail = b.length; widenHalf(b, dtype, o); })).toBe(true);
      expect(tail).toBe(3);
      const got = new Uint32Array(out.buffer, out.byteOffset, bits.length), want = new Uint32Array(widenHalf(bits, dtype).buffer);
      const bad = got.findIndex((v, i) => v !== want[i]);
      expect(bad, `pattern 0x${bits[bad]?.toString(16)}: wasm 0x${got[bad]?.toString(16)}, js 0x${want[bad]?.toString(16)}`).toBe(-1);
      arena.release(out);
    });
  }

  it('declines a destination outside the module memory', () => {
    expect(widenInMemory(arena, new Uint16Array(8), 'float16', new Float32Array(8), () => {})).toBe(false);
  });
});
