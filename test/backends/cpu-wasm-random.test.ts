// rand's and randn's float32 draws through the CPU backend's WebAssembly kernels
// (src/backends/cpu/wasm/random.ts) against the JavaScript loops, which compute every draw in
// float64 (randn's with Math.log and Math.cos): the float32 draws must be those float64 draws
// rounded, bit for bit, and the generator must end at the same state. Covered: lengths that leave a tail, blocks longer than one call, the
// draws the kernel leaves to JavaScript near a float32 rounding point (many of them with a wide
// margin), and a u of 0, where the loop draws again and the rest of the stream shifts.
import { afterAll, describe, expect, it } from 'vitest';
import { Arena } from '../../src/backends/cpu/wasm/arena.js';
import { DELTA, fastFills, normalFill, randomModuleBytes } from '../../src/backends/cpu/wasm/random.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import { type FastFills, type NormalFill, STREAM_STEP, defaultGenerator, setFastFills } from '../../src/core/random.js';
import { getBackendInfo, manualSeed, rand, randn, setBackend } from '../../src/index.js';

const arena = new Arena(startWasm()!);
afterAll(async () => {
  // Leave the backend's own fill in place for the files after this one.
  await setBackend('cpu', { wasm: true });
});

/** mulberry32's draw at a state, as core/random.ts computes it (the outside reference). */
function mix(state: number): number {
  let t = Math.imul(state ^ (state >>> 15), state | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** The float32 draws and the next state with `fill` registered, and the JavaScript loop's float64 draws and state. */
function both(seed: number, n: number, normal: NormalFill | null, draw = randn): { fast: Float32Array; slow: Float64Array; fastNext: number; slowNext: number } {
  setFastFills(normal && { ...fastFills(arena)!, normal });
  manualSeed(seed);
  const fast = draw([n]).dataSync() as Float32Array;
  const fastNext = defaultGenerator.getState();
  setFastFills(null);
  manualSeed(seed);
  const slow = draw([n], { dtype: 'float64' }).dataSync() as Float64Array;
  return { fast, slow, fastNext, slowNext: defaultGenerator.getState() };
}

function expectSameBits(fast: Float32Array, slow: Float64Array, what: string): void {
  const rounded = Float32Array.from(slow);
  const differ = rounded.findIndex((v, i) => !Object.is(v, fast[i]));
  expect(differ, `${what}: first draw that differs`).toBe(-1);
}

describe('rand and randn on the WebAssembly kernels', () => {
  it('is what the CPU backend registers, in a module under 4 KiB', async () => {
    await setBackend('cpu', { wasm: true });
    expect(getBackendInfo('cpu').path).toBe('wasm');
    expect(randomModuleBytes({ maxPages: 32768, shared: true }).length).toBeLessThan(4096);
    expect(fastFills(arena)).not.toBeNull();
  });

  it("gives rand the JavaScript loop's draws rounded to float32, bit for bit", () => {
    const fills = fastFills(arena)!;
    let kernelDraws = 0;
    const counted: FastFills = {
      ...fills,
      uniform(out, from, state) {
        const w = fills.uniform(out, from, state);
        kernelDraws += w;
        return w;
      },
    };
    for (const seed of [0, 3, 2 ** 32 - 1]) {
      for (const n of [1, 6, 4099, 150_001]) {
        setFastFills(counted);
        manualSeed(seed);
        const fast = rand([n]).dataSync() as Float32Array;
        const fastNext = defaultGenerator.getState();
        setFastFills(null);
        manualSeed(seed);
        expectSameBits(fast, rand([n], { dtype: 'float64' }).dataSync() as Float64Array, `rand: seed ${seed}, ${n} draws`);
        expect(fastNext).toBe(defaultGenerator.getState());
      }
    }
    // every whole vector of draws came from the kernel
    expect(kernelDraws).toBe(3 * (0 + 4 + 4096 + 150_000));
  });

  it("gives the JavaScript loop's draws rounded to float32, bit for bit, for every length and seed", () => {
    const fill = normalFill(arena)!;
    for (const seed of [0, 1, 42, 2 ** 31 + 5, 2 ** 32 - 1]) {
      for (const n of [1, 3, 4, 5, 17, 4099, 150_001]) {
        const { fast, slow, fastNext, slowNext } = both(seed, n, fill);
        expectSameBits(fast, slow, `seed ${seed}, ${n} draws`);
        expect(fastNext, `seed ${seed}, ${n} draws: the state after`).toBe(slowNext);
      }
    }
  });

  it('leaves the draws near a float32 rounding point to JavaScript, which keeps the bits', () => {
    let listed = 0;
    const wide = normalFill(arena, 2 ** -22)!;
    const counting: NormalFill = (out, from, state) => {
      const r = wide(out, from, state);
      listed += r.fixes.length;
      return r;
    };
    const { fast, slow, fastNext, slowNext } = both(7, 200_003, counting);
    expect(listed).toBeGreaterThan(1000);
    expectSameBits(fast, slow, 'a margin of 2⁻²²');
    expect(fastNext).toBe(slowNext);
    // At the real margin a draw is listed about once in 500,000.
    expect(DELTA).toBe(2 ** -44);
  });

  it('stops before a u of 0, where the loop draws again and the stream shifts', () => {
    // The one state whose draw is 0 (a search of all 2³² states finds only 0).
    const ZERO = 0;
    expect(mix(ZERO)).toBe(0);
    const fill = normalFill(arena)!;
    for (const draw of [0, 5, 6, 9]) {
      // Draw `draw`'s u comes from the state seed + (2·draw + 1)·step.
      const seed = (ZERO - Math.imul(2 * draw + 1, STREAM_STEP)) >>> 0;
      const { fast, slow, fastNext, slowNext } = both(seed, 64, fill);
      expectSameBits(fast, slow, `a u of 0 at draw ${draw}`);
      expect(fastNext).toBe(slowNext);
    }
  });
});
