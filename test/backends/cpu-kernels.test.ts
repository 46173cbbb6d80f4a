// The CPU backend's WebAssembly elementwise and Adam kernels against its JavaScript path: the
// same results for contiguous, broadcast and offset operands (bit for bit where IEEE rounding
// makes them equal), whether the operands are ordinary arrays (copied in) or storages inside the
// module's memory (used in place), with the next block of the memory untouched; and a clean
// hand-back to JavaScript for what they do not cover.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { adamJs } from '../../src/backends/cpu/fused.js';
import { Arena } from '../../src/backends/cpu/wasm/arena.js';
import { WasmElementwise } from '../../src/backends/cpu/wasm/kernels.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import type { View } from '../../src/core/backend.js';
import type { TypedArray } from '../../src/core/dtype.js';
import { type Where, arenaProbes } from './support/arenaProbes.js';

const rt = startWasm()!;
const arena = new Arena(rt);
const { place, guarded } = arenaProbes(arena);
const kernels = new WasmElementwise(arena);
const js = new CpuBackend({ wasm: false });

function view(storage: Float32Array, shape: number[], strides: number[], offset = 0): View<TypedArray> {
  return { storage, shape, strides, offset, dtype: 'float32' };
}
const values = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => {
    const k = (i * 7919 + seed * 104729) % 1000;
    return k === 0 ? NaN : k === 1 ? Infinity : k === 2 ? -0 : (k - 500) / 37;
  });

describe('wasm binary kernels', () => {
  // add, sub, mul, div of float32 are correctly rounded in float32 and in float64 then rounded,
  // so the two paths must agree exactly, NaN and signed zeros included.
  it('equal the JavaScript path on contiguous, row-broadcast, scalar and offset operands', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('add', 'sub', 'mul', 'div') as fc.Arbitrary<'add' | 'sub' | 'mul' | 'div'>,
        fc.integer({ min: 1, max: 70 }), fc.integer({ min: 16, max: 300 }),
        fc.constantFrom('vv', 'row', 'scalar-b', 'scalar-a'), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom<Where>('outside', 'inside'),
        (op, rows, inner, form, offset, seed, where) => {
          if (rows * inner < 2048) rows = Math.ceil(2048 / inner);
          const shape = [rows, inner], n = rows * inner;
          const a = view(place(values(n + offset, seed), where), shape, [inner, 1], offset);
          const b =
            form === 'vv' ? view(place(values(n + 3, seed + 1), where), shape, [inner, 1], 3)
              : form === 'row' ? view(place(values(inner + 1, seed + 2), where), shape, [0, 1], 1)
                : view(place(values(2, seed + 3), where), shape, [0, 0], 1);
          const [x, y] = form === 'scalar-a' ? [b, a] : [a, b];
          const got = guarded(n, () => kernels.binary(op, x, y));
          expect(arena.addressOf(got!)).toBeGreaterThan(0);
          expect(got).not.toBeNull();
          expect(Array.from(got!)).toEqual(Array.from(js.binary(op, x, y)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('leave small, transposed and non-float32 operands to JavaScript', () => {
    const small = view(values(100, 1), [10, 10], [10, 1]);
    expect(kernels.binary('add', small, small)).toBeNull();
    const big = view(values(64 * 64, 1), [64, 64], [1, 64]);
    expect(kernels.binary('add', big, view(values(64 * 64, 2), [64, 64], [64, 1]))).toBeNull();
    const f64: View<TypedArray> = { storage: new Float64Array(4096), shape: [4096], strides: [1], offset: 0, dtype: 'float64' };
    expect(kernels.binary('mul', f64, f64)).toBeNull();
  });

  it('are what the backend runs for large float32 binaries, with the JavaScript results', () => {
    const wasmPath = new CpuBackend();
    const a = view(values(5000, 4), [5000], [1]), b = view(values(5000, 5), [5000], [1]);
    expect(Array.from(wasmPath.binary('div', a, b))).toEqual(Array.from(js.binary('div', a, b)));
  });
});

describe('wasm unary kernels', () => {
  const xs = new Float32Array(50_003);
  for (let i = 0; i < xs.length; i++) xs[i] = (i / xs.length - 0.5) * 240; // past float32 exp's overflow and underflow
  xs.set([NaN, Infinity, -Infinity, 0, -0, 88.72, -87.33, -103.9, 1e-8, -1e-8, 0.5, 1, 2, 100]);
  const x = view(xs, [xs.length], [1]);

  const inside = view(place(xs, 'inside'), [xs.length], [1]);

  it('neg, abs, sqrt and relu equal the JavaScript path bit for bit (NaN, ±0 and ±Infinity included)', () => {
    for (const op of ['neg', 'abs', 'sqrt', 'relu'] as const) {
      const got = kernels.unary(op, x);
      expect(got, op).not.toBeNull();
      expect(Array.from(got!), op).toEqual(Array.from(js.unary(op, x)));
    }
  });

  it('give the same results on a storage inside the memory, at any offset and length, writing only their block', () => {
    fc.assert(
      fc.property(fc.constantFrom('neg', 'relu', 'exp', 'sigmoid') as fc.Arbitrary<'neg' | 'relu' | 'exp' | 'sigmoid'>, fc.integer({ min: 2048, max: 2100 }), fc.integer({ min: 0, max: 7 }), (op, n, offset) => {
        const got = guarded(n, () => kernels.unary(op, view(inside.storage as Float32Array, [n], [1], offset)));
        expect(Array.from(got!)).toEqual(Array.from(kernels.unary(op, view(xs, [n], [1], offset))!));
      }),
      { numRuns: 40 },
    );
  });

  it('exp and sigmoid are within 2 ulp of the JavaScript path (float32 range limits included)', () => {
    for (const op of ['exp', 'sigmoid'] as const) {
      const got = kernels.unary(op, x)!, want = js.unary(op, x);
      for (let i = 0; i < xs.length; i++) {
        const g = got[i]!, w = want[i]!;
        if (Number.isNaN(w) || !Number.isFinite(w)) {
          expect(g, `${op}(${xs[i]})`).toBe(w);
          continue;
        }
        // Sigmoid's float32 intermediate e^-x overflows a little before float64's, so its
        // subnormal tail below x = -88.7 may flush to 0.
        if (Math.abs(g - w) > 2.4e-7 * Math.abs(w) + 1e-38) expect.fail(`${op}(${xs[i]}): got ${g}, want ${w}`);
      }
    }
  });

  it('leave strided and small inputs to JavaScript; small ones in the memory need no copy and stay', () => {
    expect(kernels.unary('exp', view(xs, [25_000], [2]))).toBeNull();
    expect(kernels.unary('exp', view(xs, [100], [1]))).toBeNull();
    expect(kernels.unary('exp', view(inside.storage as Float32Array, [100], [1]))).not.toBeNull();
    expect(kernels.unary('exp', view(inside.storage as Float32Array, [32], [1]))).toBeNull();
  });
});

describe('wasm Adam kernel', () => {
  it('matches the JavaScript Adam step in float64 within float32 rounding, for Adam and AdamW, in and outside the memory', () => {
    for (const [l2, decoupledDecay, where] of [[0, 0, 'outside'], [0.01, 0, 'outside'], [0, 0.001, 'outside'], [0.01, 0.001, 'inside']] as const) {
      const size = 1003;
      const init = (seed: number) => Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37 + seed));
      const p32 = place(init(1), where), m32 = place(init(2).map(Math.abs).map((x) => x * 0.1), where), v32 = place(init(3).map((x) => x * x * 0.01), where);
      const g32 = place(new Float32Array(size + 2), where);
      g32.set(init(4), 2);
      const p64 = Float64Array.from(p32), m64 = Float64Array.from(m32), v64 = Float64Array.from(v32);
      const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, biasCorrection1: 1 - 0.9 ** 3, biasCorrection2: 1 - 0.999 ** 3, l2, decoupledDecay };
      const grad = view(g32, [size], [1], 2);
      expect(kernels.adam({ param: p32, grad, m: m32, v: v32, size, ...hyper })).toBe(true);
      adamJs({ param: p64, grad, m: m64, v: v64, size, ...hyper }, Float64Array.from(g32.subarray(2)));
      for (const [got, want] of [[p32, p64], [m32, m64], [v32, v64]] as const) {
        for (let i = 0; i < size; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(want[i]!) + 1e-7);
      }
    }
  });

  it('leaves float64 and strided gradients to JavaScript', () => {
    const args = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, biasCorrection1: 0.1, biasCorrection2: 0.001, l2: 0, decoupledDecay: 0 };
    const f = () => new Float32Array(4);
    expect(kernels.adam({ ...args, param: f(), m: f(), v: f(), size: 4, grad: view(new Float32Array(8), [4], [2]) })).toBe(false);
    const d = () => new Float64Array(4);
    expect(kernels.adam({ ...args, param: d(), m: d(), v: d(), size: 4, grad: { storage: d(), shape: [4], strides: [1], offset: 0, dtype: 'float64' } })).toBe(false);
  });
});
