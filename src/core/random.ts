import { check } from './errors.js';

/** How far mulberry32's state moves for each draw. */
export const STREAM_STEP = 0x6d2b79f5;

/**
 * A seeded stream of random numbers (mulberry32), PyTorch's `torch.Generator`: pass one as
 * `{ generator }` to a sampling function to draw from it instead of the global stream.
 *
 * @example
 * const g = new Generator().manualSeed(42);
 * multinomial(probs, 5, { replacement: true, generator: g }); // the same 5 draws every run
 */
export class Generator {
  #seed = 0x9e3779b9;
  #state = 0x9e3779b9;

  /** Restarts the stream from `seed` (an integer; taken modulo 2³²) and returns this generator. */
  manualSeed(seed: number): this {
    check(Number.isInteger(seed), 'manualSeed', () => `seed must be an integer, got ${seed}`);
    this.#seed = this.#state = seed >>> 0;
    return this;
  }

  /** The seed the stream last started from. */
  initialSeed(): number {
    return this.#seed;
  }

  /** The position in the stream, to restore later with `setState`. */
  getState(): number {
    return this.#state;
  }

  /** Rewinds (or advances) the stream to a position `getState` returned. */
  setState(state: number): this {
    check(Number.isInteger(state) && state >= 0 && state < 2 ** 32, 'setState', () => `state must come from getState(), got ${state}`);
    this.#state = state;
    return this;
  }

  /** Uniform in [0, 1). */
  nextUniform(): number {
    this.#state = (this.#state + STREAM_STEP) >>> 0;
    return mix(this.#state);
  }

  /** Standard normal (Box–Muller). */
  nextNormal(): number {
    let u = 0;
    while (u === 0) u = this.nextUniform();
    return boxMuller(u, this.nextUniform());
  }

  /**
   * Fills `out` with uniform draws in [0, 1): the values `nextUniform` gives one by one, from a
   * loop on a local copy of the state (a call and a private-field write per value cost more
   * than the draw).
   */
  fillUniform(out: { length: number; [i: number]: number }): void {
    let state = this.#state, i = 0;
    // A Float32Array through the fast fill a backend registered (`setFastFills`): whole vectors, the same bits.
    if (out instanceof Float32Array && fast) {
      for (let w; i < out.length && (w = fast.uniform(out, i, state)) > 0; i += w) state = (state + Math.imul(w, STREAM_STEP)) >>> 0;
    }
    for (; i < out.length; i++) {
      state = (state + STREAM_STEP) >>> 0;
      out[i] = mix(state);
    }
    this.#state = state;
  }

  /**
   * Fills `out` with standard normal draws: the values `nextNormal` gives one by one, from one
   * loop; a Float32Array through the fast fill a backend registered (`setFastFills`), which
   * gives the same bits.
   */
  fillNormal(out: { length: number; [i: number]: number }): void {
    const normal = out instanceof Float32Array ? fast?.normal : undefined;
    let state = this.#state;
    for (let i = 0; i < out.length; i++) {
      if (normal) {
        const { written, fixes } = normal(out as Float32Array, i, state);
        // The draws it left to this loop: draw j's u is at state + (2(j − i) + 1)·step, its v one step on.
        for (const j of fixes) {
          const at = (state + Math.imul(2 * (j - i) + 1, STREAM_STEP)) >>> 0;
          out[j] = boxMuller(mix(at), mix((at + STREAM_STEP) >>> 0));
        }
        state = (state + Math.imul(2 * written, STREAM_STEP)) >>> 0;
        i += written;
        if (i === out.length) break;
      }
      // One draw here: every draw without a fast fill, else the one it stopped at (a u of 0,
      // which draws again, or a tail shorter than its vectors).
      let u = 0;
      while (u === 0) {
        state = (state + STREAM_STEP) >>> 0;
        u = mix(state);
      }
      state = (state + STREAM_STEP) >>> 0;
      out[i] = boxMuller(u, mix(state));
    }
    this.#state = state;
  }
}

/**
 * A fast fill of float32 normal draws that a backend may offer (the CPU backend's WebAssembly
 * kernel): it writes draws from `out[from]` on, starting at generator state `state`, with the
 * bits `fillNormal`'s loop would give, and returns how many it wrote and the indices among them
 * it leaves to the loop. It stops where the loop would draw u again (a u of 0).
 */
export type NormalFill = (out: Float32Array, from: number, state: number) => { written: number; fixes: readonly number[] };

/** Fast float32 fills a backend may offer, with the bits of the generator's own loops. */
export interface FastFills {
  normal: NormalFill;
  /** Writes uniform draws from `out[from]` on, starting at generator state `state`; returns how many (0 when it declines). */
  uniform(out: Float32Array, from: number, state: number): number;
}
let fast: FastFills | null = null;

/** Registers (or, with null, removes) the fast float32 fills behind `rand` and `randn`. */
export function setFastFills(fills: FastFills | null): void {
  fast = fills;
}

/** A standard normal draw from two uniform ones (u in (0, 1)), in float64: sqrt(−2·ln u)·cos(2π·v). */
function boxMuller(u: number, v: number): number {
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** mulberry32's output for one state, in [0, 1). */
function mix(state: number): number {
  let t = Math.imul(state ^ (state >>> 15), state | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * The global stream behind rand/randn, initializers, dropout and every sampling function that
 * is given no generator (PyTorch's `torch.default_generator`).
 */
export const defaultGenerator = new Generator();

/**
 * Seeds every random draw tsgrad makes from the global stream (initializers, rand/randn,
 * dropout, multinomial, randint, randperm, bernoulli).
 *
 * @example
 * manualSeed(0); const a = randn([2, 2]); manualSeed(0); const b = randn([2, 2]); // a equals b
 */
export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed);
}

/** Uniform in [0, 1) from the global stream. */
export function nextUniform(): number {
  return defaultGenerator.nextUniform();
}

/** Standard normal from the global stream. */
export function nextNormal(): number {
  return defaultGenerator.nextNormal();
}
