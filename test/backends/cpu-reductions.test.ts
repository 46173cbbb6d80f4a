// The CPU backend's WebAssembly reductions and softmax against its JavaScript path: rows (the last
// dims reduced), columns (the leading dims reduced) and whole tensors, row strides and offsets,
// operands in and outside the module's memory, NaN and ±Infinity, lengths that are not a whole
// number of vectors; the next block of memory untouched; and a clean hand-back to JavaScript for
// the layouts they do not cover.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { softmaxJs } from '../../src/backends/cpu/fused.js';
import { Arena } from '../../src/backends/cpu/wasm/arena.js';
import { configureWasmElementwise } from '../../src/backends/cpu/wasm/kernels.js';
import { WasmReductions } from '../../src/backends/cpu/wasm/reductions.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import type { View } from '../../src/core/backend.js';
import type { TypedArray } from '../../src/core/dtype.js';
import { randn, setBackend } from '../../src/index.js';
import { type Where, arenaProbes } from './support/arenaProbes.js';

configureWasmElementwise({ minElements: 1, minInMemory: 1 });
const arena = new Arena(startWasm()!);
const { place, guarded } = arenaProbes(arena);
const kernels = new WasmReductions(arena);
const js = new CpuBackend({ wasm: false });

function view(storage: Float32Array, shape: number[], strides: number[], offset = 0): View<TypedArray> {
  return { storage, shape, strides, offset, dtype: 'float32' };
}
/** Mostly normal values; `special` of them NaN or ±Infinity. */
const values = (n: number, seed: number, special: boolean) =>
  Float32Array.from({ length: n }, (_, i) => {
    const k = (i * 7919 + seed * 104729) % 1009;
    if (special && k < 3) return [NaN, Infinity, -Infinity][k]!;
    return (k - 504) / 37;
  });

const ops = fc.constantFrom('sum', 'max', 'min') as fc.Arbitrary<'sum' | 'max' | 'min'>;
const where = fc.constantFrom<Where>('outside', 'inside');

/** [rows, len] with a row stride of len + pad, at an offset: rows reduced, or columns. */
const layout = fc.record({
  rows: fc.integer({ min: 1, max: 30 }), len: fc.integer({ min: 1, max: 70 }), pad: fc.integer({ min: 0, max: 5 }),
  offset: fc.integer({ min: 0, max: 5 }), seed: fc.integer({ min: 0, max: 1000 }), special: fc.boolean(),
});

function operand(l: { rows: number; len: number; pad: number; offset: number; seed: number; special: boolean }, at: Where): View<TypedArray> {
  const stride = l.len + l.pad;
  return view(place(values(l.offset + l.rows * stride, l.seed, l.special), at), [l.rows, l.len], [stride, 1], l.offset);
}

/** Sums agree to float32 rounding of the float64 sum (different orders of float64 additions). */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!Number.isFinite(w)) expect(g, `${what}[${i}]`).toBe(w);
    else if (Math.abs(g - w) > 1.2e-7 * Math.abs(w) + 1e-30) expect.fail(`${what}[${i}]: got ${g}, want ${w}`);
  }
}

describe('wasm reductions', () => {
  it('reduce rows like the JavaScript path: max and min exactly (NaN sticks), sums to float32 rounding', () => {
    fc.assert(
      fc.property(ops, layout, where, (op, l, at) => {
        const x = operand(l, at);
        const got = guarded(l.rows, () => kernels.reduce(op, x, [1]));
        // Reducing a dim of 1 reduces nothing: a copy, left to JavaScript.
        if (l.len === 1) {
          expect(got).toBeNull();
          return;
        }
        expect(got).not.toBeNull();
        const want = js.reduce(op, x, [1]);
        if (op === 'sum') expectClose(got!, want, 'sum');
        else expect(Array.from(got!)).toEqual(Array.from(want));
      }),
      { numRuns: 150 },
    );
  });

  it('reduce columns exactly as the JavaScript path does (each column summed in float64, in row order)', () => {
    fc.assert(
      fc.property(ops, layout, where, (op, l, at) => {
        const x = operand(l, at);
        const got = guarded(l.len, () => kernels.reduce(op, x, [0]));
        // Reducing a dim of 1 is a copy, and one strided column is no row: both left to JavaScript.
        if (l.rows === 1 || (l.len === 1 && l.pad > 0)) {
          expect(got).toBeNull();
          return;
        }
        expect(got).not.toBeNull();
        expect(Array.from(got!)).toEqual(Array.from(js.reduce(op, x, [0])));
      }),
      { numRuns: 150 },
    );
  });

  it('reduce whole tensors and merged dims: [a, b, c] over (1, 2), (0, 1) and all', () => {
    const x = view(values(6 * 7 * 9, 3, true), [6, 7, 9], [63, 9, 1]);
    for (const op of ['sum', 'max', 'min'] as const) {
      for (const axes of [[1, 2], [0, 1], [0, 1, 2]]) {
        const got = kernels.reduce(op, x, axes);
        expect(got, `${op} over ${axes}`).not.toBeNull();
        expectClose(got!, js.reduce(op, x, axes), `${op} over ${axes}`);
      }
    }
    const y = view(values(100_003, 4, false), [100_003], [1]);
    expectClose(kernels.reduce('sum', y, [0])!, js.reduce('sum', y, [0]), 'sum of 100,003');
  });

  it('leave a middle axis, padded rows reduced to one value, no axis, a transposed view, a flipped view and float64 to JavaScript', () => {
    const x = view(values(6 * 7 * 9, 3, false), [6, 7, 9], [63, 9, 1]);
    expect(kernels.reduce('sum', x, [1])).toBeNull();
    const padded = view(values(5 * 9, 3, false), [5, 7], [9, 1]);
    expect(kernels.reduce('sum', padded, [0, 1])).toBeNull();
    expect(kernels.reduce('max', padded, [])).toBeNull();
    expect(kernels.reduce('sum', view(values(64, 1, false), [8, 8], [1, 8]), [1])).toBeNull();
    expect(kernels.reduce('max', view(values(8, 1, false), [8], [-1], 7), [0])).toBeNull();
    const f64: View<TypedArray> = { storage: new Float64Array(64), shape: [64], strides: [1], offset: 0, dtype: 'float64' };
    expect(kernels.reduce('sum', f64, [0])).toBeNull();
  });
});

describe('wasm softmax', () => {
  it('is within a few ulp of the JavaScript kernel, for softmax and log-softmax, -Infinity and NaN rows included', () => {
    fc.assert(
      fc.property(fc.boolean(), layout, where, (log, l, at) => {
        const x = operand(l, at);
        const got = guarded(l.rows * l.len, () => kernels.softmax(x, 1, log));
        expect(got).not.toBeNull();
        const want = new Float32Array(l.rows * l.len);
        softmaxJs(x, 1, log, want);
        for (let i = 0; i < want.length; i++) {
          const g = got![i]!, w = want[i]!;
          if (!Number.isFinite(w)) expect(g, `[${i}]`).toBe(w);
          else if (Math.abs(g - w) > 6e-7 * Math.max(1, Math.abs(w))) expect.fail(`${log ? 'logSoftmax' : 'softmax'}[${i}]: got ${g}, want ${w}`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('leaves an axis that is not the last, and float64, to JavaScript', () => {
    const x = view(values(6 * 7, 3, false), [6, 7], [7, 1]);
    expect(kernels.softmax(x, 0, false)).toBeNull();
    expect(kernels.softmax(view(values(6 * 7, 3, false), [7, 6], [1, 7]), 1, false)).toBeNull();
    const f64: View<TypedArray> = { storage: new Float64Array(64), shape: [64], strides: [1], offset: 0, dtype: 'float64' };
    expect(kernels.softmax(f64, 0, true)).toBeNull();
  });

  it('is what the backend runs for a float32 softmax along the last axis, and JavaScript gives the composed results bit for bit otherwise', async () => {
    const spy = vi.spyOn(WasmReductions.prototype, 'softmax');
    const x = randn([5, 9]);
    const got = x.softmax(-1).dataSync();
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.results[0]!.value).not.toBeNull();
    const composed = x.sub(x.max(-1, true)).exp();
    expectClose(got, composed.div(composed.sum(-1, true)).dataSync(), 'softmax');
    // The JavaScript kernel rounds where the composed ops (on the JavaScript path) round: equal
    // bit for bit, along any axis.
    await setBackend('cpu', { wasm: false });
    const t = randn([4, 6, 5]);
    for (const axis of [0, 1, 2]) {
      for (const log of [false, true]) {
        const out = new Float32Array(t.size);
        softmaxJs(t._view('test') as View<TypedArray>, axis, log, out);
        const shifted = t.sub(t.max(axis, true));
        const want = log ? shifted.sub(shifted.exp().sum(axis, true).log()) : shifted.exp().div(shifted.exp().sum(axis, true));
        expect(Array.from(out), `axis ${axis}, log ${log}`).toEqual(Array.from(want.dataSync()));
      }
    }
    await setBackend('cpu', { wasm: true });
    vi.restoreAllMocks();
  });
});
