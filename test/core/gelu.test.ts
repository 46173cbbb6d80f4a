// The GELUs (one primitive each, forward and derivative) against PyTorch's
// gelu(approximate='none'|'tanh') on the CPU backend's WebAssembly and JavaScript paths, by finite
// differences to second order, and at ±0, ±∞ and NaN.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DType, type Tensor, getBackend, gradcheck, gradgradcheck, grad, tensor } from '../../src/index.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';
import { configureWasmElementwise } from '../../src/backends/cpu/wasm/kernels.js';

const skip = hfUnavailable('test/core/gelu.test.ts');

const xs: number[] = [];
for (let v = -12; v <= 12; v += 0.0625) xs.push(v);
xs.push(1e-7, -1e-7, 1e-30, -1e-30, 30, -30, 5e3, -5e3);
const weights = xs.map((_, i) => (i % 3) + 1);

type Ref = Record<string, { y: number[]; grad: number[] }>;

function run(x: number[], dtype: DType, approximate: 'none' | 'tanh'): { y: number[]; grad: number[] } {
  const t = tensor(x, { dtype, requiresGrad: true });
  const y = t.gelu({ approximate });
  const [g] = grad(y.mul(tensor(weights.slice(0, x.length), { dtype })).sum(), [t]);
  return { y: [...y.dataSync()], grad: [...g!.dataSync()] };
}

/** |got − want| ≤ atol + rtol·|want| elementwise, NaN only against NaN. */
function expectClose(got: number[], want: number[], atol: number, rtol: number, what: string): void {
  got.forEach((g, i) => {
    const w = want[i]!;
    const ok = Number.isNaN(w) ? Number.isNaN(g) : Math.abs(g - w) <= atol + rtol * Math.abs(w);
    if (!ok) throw new Error(`${what} at x = ${xs[i]}: got ${g}, PyTorch ${w}`);
  });
}

describe.skipIf(skip)('gelu against PyTorch 2.13', () => {
  let ref: Ref;
  let before: ReturnType<typeof configureWasmElementwise>;
  beforeAll(async () => {
    before = configureWasmElementwise({ minElements: 1, minInMemory: 1, minRow: 1 });
    ref = await runHfPython(join(import.meta.dirname, 'gelu_reference.py'), [JSON.stringify(xs)]);
  }, 120_000);
  afterAll(() => configureWasmElementwise(before));

  for (const approximate of ['none', 'tanh'] as const) {
    it(`approximate '${approximate}': float64 and float32 (WebAssembly SIMD), tails included`, () => {
      expect(getBackend().name).toBe('cpu');
      const r64 = ref[`float64_${approximate}`]!, r32 = ref[`float32_${approximate}`]!, exact = ref[`accurate_${approximate}`]!;
      const f64 = run(xs, 'float64', approximate);
      // PyTorch's tails lose their digits to 1 + erf and 1 + tanh: against it, absolute.
      expectClose(f64.y, r64.y, 1e-14, 1e-14, 'float64 forward');
      expectClose(f64.grad, r64.grad, 1e-14, 1e-14, 'float64 gradient');
      expectClose(f64.y, exact.y, 1e-300, 1e-10, 'float64 forward vs math.erfc');
      const f32 = run(xs, 'float32', approximate);
      expectClose(f32.y, r32.y, 1e-5, 1e-6, 'float32 forward vs PyTorch float32');
      expectClose(f32.grad, r32.grad, 1e-5, 1e-6, 'float32 gradient vs PyTorch float32');
      // Relative all the way into the tails, where the condition number |x·f′/f| (up to 250
      // at x = −12) scales float32's rounding of x.
      const cond = (i: number) => Math.max(1, Math.abs(xs[i]! * 2 * xs[i]!));
      f32.y.forEach((g, i) => {
        const w = exact.y[i]!;
        if (Math.abs(w) > 1e-30 && Number.isFinite(w)) expect(Math.abs(g - w), `forward at ${xs[i]}`).toBeLessThanOrEqual(4e-7 * cond(i) * Math.abs(w));
      });
      f32.grad.forEach((g, i) => expect(Math.abs(g - exact.grad[i]! * weights[i]!), `gradient at ${xs[i]}`).toBeLessThanOrEqual(1e-6 * weights[i]!));
    });
  }
});

describe('gelu', () => {
  const forms = ['none', 'tanh'] as const;

  it.each(forms)("passes gradcheck and gradgradcheck, approximate '%s'", (approximate) => {
    const x = tensor([-3.1, -1.2, -0.75, -0.2, 0, 0.3, 0.9, 2.5, 4], { dtype: 'float64' });
    const f = (t: Tensor) => t.gelu({ approximate }).mul(t).sum();
    expect(gradcheck((t) => t.gelu({ approximate }).sum(), [x]).ok).toBe(true);
    expect(gradgradcheck(f, [x]).ok).toBe(true);
  });

  it.each(forms)("gives NaN at -∞ as PyTorch, and gradient limits 0 and 1 at ±∞, approximate '%s'", (approximate) => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = tensor([-Infinity, Infinity, NaN, 0, -0], { dtype, requiresGrad: true });
      const y = x.gelu({ approximate });
      const [g] = grad(y.sum(), [x]);
      const out = [...y.dataSync()];
      expect(out.slice(0, 3).map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(['NaN', Infinity, 'NaN']);
      expect(Object.is(out[3], 0) && Object.is(out[4], -0)).toBe(true);
      expect([...g!.dataSync()].map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual([0, 1, 'NaN', 0.5, 0.5]);
    }
  });
});
