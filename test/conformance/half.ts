// The float16/bfloat16 part of the conformance suite, for every matrix entry: on a backend that
// stores the 16-bit dtypes, the ops that take them (casts, views, gathers, matmul with a float
// operand and its gradient) against reference loops, exactly where the result is a 16-bit value
// and to the entry's tolerance for the product, and within each dtype's rounding bound of the
// unrounded input; every other op must refuse them. A backend that does not store them must
// refuse to create one, naming the dtype.
import { describe, expect, it } from 'vitest';
import {
  type DType, type HalfDType, type Tensor, TsgradError, bfloat16Bits, bfloat16Value, float16Bits, float16Value, grad, initBackend, nn, tensor,
} from '../../src/index.js';
import { storageOf } from '../../src/core/seams.js';
import { closeTo, lossWeights } from './prepare.js';
import type { MatrixEntry, Tolerance } from '../matrix.js';

const HALVES: readonly HalfDType[] = ['float16', 'bfloat16'];

/** Round to nearest-even loses at most half an ulp: 2⁻¹¹ relative for float16, 2⁻⁸ for bfloat16 (plus float16's subnormal step). */
const ROUNDING: Record<HalfDType, Tolerance> = { float16: { atol: 2 ** -25, rtol: 2 ** -11 }, bfloat16: { atol: 0, rtol: 2 ** -8 } };
const EXACT: Tolerance = { atol: 0, rtol: 0 };

/** `v` rounded to `dtype`, by the scalar conversions (checked bit for bit against PyTorch in test/core/half.test.ts). */
const rounded = (v: number, dtype: HalfDType) => (dtype === 'float16' ? float16Value(float16Bits(v)) : bfloat16Value(bfloat16Bits(v)));

/** Deterministic values in about ±3 with a few large and tiny ones (a fixed LCG: the suite must not depend on seeds). */
function values(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, (_, i) => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const u = s / 2 ** 31 - 0.5;
    return i % 11 === 3 ? u * 1e4 : i % 13 === 5 ? u * 1e-6 : u * 6;
  });
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance, what: string): void {
  const err = closeTo(got, want, tol);
  if (err) throw new Error(`${what}: ${err}`);
}

function expectRefused(f: () => unknown, dtype: DType, what: string): void {
  let error: unknown = null;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error, what).toBeInstanceOf(TsgradError);
  expect((error as Error).message, what).toContain(dtype);
}

/** Defines the 16-bit cases for `entry` (inside its conformance describe; `available` says whether its backend started). */
export function defineHalfConformance(entry: MatrixEntry, available: () => boolean): void {
  const { backend, dtype: float } = entry;
  const make = (v: number[], shape: number[], dtype: DType = float) => tensor(v, { shape, dtype, backend });

  // A backend that does not store a 16-bit dtype must refuse it: that is what its cases check there.
  const stores = async (h: DType) => {
    if ((await initBackend(backend)).dtypes.includes(h)) return true;
    expectRefused(() => make([1, 2], [2], h), h, `${backend} creating ${h}`);
    expectRefused(() => make([1, 2], [2]).cast(h), h, `${backend} casting to ${h}`);
    return false;
  };

  describe('float16 and bfloat16', () => {
    it('are stored, or refused by name', async (ctx) => {
      if (!available()) return ctx.skip();
      const stores = (await initBackend(backend)).dtypes.some((d) => d === 'float16');
      if (!stores) {
        for (const h of HALVES) expectRefused(() => make([1, 2], [2], h), h, `${backend} creating ${h}`);
        return;
      }
      // 2 bytes a value, counted as the backend counts its floats (webgpu's pooled buffers come in
      // size classes, whole at this size); gpu.js widens to float32 textures.
      const n = 1 << 14;
      const f = make(values(n, 3), [n]), h = f.cast('float16');
      const bytes = (t: Tensor) => storageOf(t, 'conformance').bytes;
      expect(bytes(f)).toBe(n * (float === 'float64' ? 8 : 4));
      expect(bytes(h)).toBe(backend.startsWith('gpujs') ? bytes(f) : 2 * n);
    });

    for (const h of HALVES) {
      it(`${h}: casts, views and gathers give the rounded values exactly`, async (ctx) => {
        if (!available()) return ctx.skip();
        if (!(await stores(h))) return;
        // The reference backend (float64 and the 16-bit dtypes) has no float32 to widen to.
        const hasFloat32 = (await initBackend(backend)).dtypes.includes('float32');
        const v = values(24, 7);
        const want = v.map((x) => rounded(x, h));
        const x = make(v, [2, 3, 4]);
        const w = x.cast(h);
        expect(w.dtype).toBe(h);
        expectClose(await w.data(), want, EXACT, `${h} cast`);
        expectClose(await w.data(), v, ROUNDING[h], `${h} cast within half an ulp`);
        if (hasFloat32) expectClose(await w.float().data(), want, EXACT, `${h} float()`);
        expectClose(await w.cast(float).data(), want, EXACT, `${h} back to ${float}`);
        const ref = make(want, [2, 3, 4]);
        const views: [string, (t: Tensor) => Tensor][] = [
          ['transpose', (t) => t.transpose(0, 2).contiguous()],
          ['permute', (t) => t.permute([1, 2, 0])],
          ['reshape', (t) => t.reshape([6, 4])],
          ['slice', (t) => t.slice([[0, 2], [1, 3], [1, 4]]).contiguous()],
          ['clone', (t) => t.clone()],
        ];
        for (const [name, f] of views) {
          const got = f(w);
          expect(got.dtype, name).toBe(h);
          expectClose(await got.data(), await f(ref).data(), EXACT, `${h} ${name}`);
        }
        const table = make(v, [6, 4]).cast(h);
        const picked = table.indexSelect(0, tensor([5, 0, 2, 2], { dtype: 'int32', backend }));
        expect(picked.dtype).toBe(h);
        expectClose(await picked.data(), [5, 0, 2, 2].flatMap((r) => want.slice(r * 4, r * 4 + 4)), EXACT, `${h} indexSelect rows`);
        if (!hasFloat32) return;
        const rows = nn.functional.embedding(tensor([[5, 0], [2, 2]], { dtype: 'int32', backend }), table);
        expect(rows.dtype).toBe('float32');
        expectClose(await rows.data(), [5, 0, 2, 2].flatMap((r) => want.slice(r * 4, r * 4 + 4)), EXACT, `${h} embedding rows`);
      });

      it(`${h}: matmul with a ${float} operand, and its gradient, against reference loops`, async (ctx) => {
        if (!available()) return ctx.skip();
        if (!(await stores(h))) return;
        for (const [m, k, n] of [[3, 5, 4], [1, 70, 9], [17, 33, 130]] as const) {
          const wv = values(n * k, m + k).map((x) => x / 10), xv = values(m * k, n);
          const w = make(wv, [n, k]).cast(h), wr = wv.map((x) => rounded(x, h));
          const x = make(xv, [m, k]);
          x.requiresGrad = true;
          const y = x.matmul(w.transpose(0, 1));
          expect(y.dtype).toBe(float);
          const c = lossWeights(m * n);
          const [gx] = grad(y.mul(make(Array.from(c), [m, n])).sum(), [x]);
          const yWant = new Float64Array(m * n), gWant = new Float64Array(m * k);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              for (let p = 0; p < k; p++) {
                yWant[i * n + j]! += xv[i * k + p]! * wr[j * k + p]!;
                gWant[i * k + p]! += c[i * n + j]! * wr[j * k + p]!;
              }
            }
          }
          expectClose(await y.data(), yWant, entry.tol, `${h} x·wᵀ [${m},${k}]·[${k},${n}]`);
          expectClose(await gx!.data(), gWant, entry.tol, `${h} gradient of x`);
          // The weight in its [in, out] layout (a Conv1D's), and on the left.
          const wT = make(wv, [n, k]).transpose(0, 1).contiguous().cast(h);
          expectClose(await x.detach().matmul(wT).data(), yWant, entry.tol, `${h} x·W, W [in, out]`);
          expectClose(await w.matmul(x.detach().transpose(0, 1)).transpose(0, 1).contiguous().data(), yWant, entry.tol, `${h} w·xᵀ`);
        }
      });

      it(`${h}: every other op refuses it, naming the dtype`, async (ctx) => {
        if (!available()) return ctx.skip();
        if (!(await stores(h))) return;
        const w = make([1, -2, 3, 0.5], [2, 2]).cast(h);
        const ops: [string, (t: Tensor) => unknown][] = [
          ['add', (t) => t.add(1)], ['mul by float', (t) => make([1, 2], [2]).mul(t)], ['exp', (t) => t.exp()], ['neg', (t) => t.neg()],
          ['sum', (t) => t.sum()], ['max', (t) => t.max()], ['argmax', (t) => t.argmax(0)], ['softmax', (t) => t.softmax(-1)],
          ['relu', (t) => t.relu()], ['where', (t) => t.gt(0)], ['matmul of two 16-bit', (t) => t.matmul(t)],
          ['layerNorm input', (t) => nn.functional.layerNorm(t)], ['requiresGrad', (t) => t.requiresGrad_()],
        ];
        for (const [name, f] of ops) expectRefused(() => f(w), h, `${h} ${name}`);
      });
    }
  });
}
