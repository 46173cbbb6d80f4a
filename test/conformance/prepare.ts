import fc from 'fast-check';
import { type DType, type Tensor, fromTypedArray } from '../../src/index.js';
import type { InputSpec, Spec } from './cases.js';
import * as R from './reference.js';

/** Inputs as stored (maybe transposed), the op to run on them, and the logical values. */
export interface Prepared {
  /** Physical layout of each input: its shape and row-major data. */
  inputs: { shape: number[]; data: number[]; index: boolean }[];
  /** Runs the op on tensors made from `inputs` (transposing back first when the layout asks). */
  fn: (...xs: Tensor[]) => Tensor;
  /** The reference result on the logical values, when the case has one. */
  expected?: R.Ref;
}

/** fast-check draws of the data seed and the layout (contiguous, or a transposed view). */
export const drawArb = fc.record({ seed: fc.integer({ min: 1, max: 2 ** 30 }), transposed: fc.boolean() });

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Values kept away from non-differentiable points and from each other: every float element of
 * every input gets a distinct magnitude in [0.2, 2] (so no ties in max, no kinks at 0).
 */
function values(specs: InputSpec[], seed: number): number[][] {
  const next = rng(seed);
  const floats = specs.filter((s) => typeof s.domain === 'string').reduce((n, s) => n + R.size(s.shape), 0);
  const mags = Array.from({ length: floats }, (_, i) => 0.2 + (1.8 * (i + 0.5)) / Math.max(floats, 1));
  for (let i = mags.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [mags[i], mags[j]] = [mags[j]!, mags[i]!];
  }
  let k = 0;
  return specs.map((s) =>
    Array.from({ length: R.size(s.shape) }, () => {
      if (typeof s.domain === 'object') return Math.floor(next() * s.domain.index);
      const m = mags[k++]!;
      return s.domain === 'positive' || next() < 0.5 ? m : -m;
    }),
  );
}

export function prepare(spec: Spec, draw: { seed: number; transposed: boolean }): Prepared {
  const logical = values(spec.inputs, draw.seed);
  const refs = spec.inputs.map((s, i) => ({ data: logical[i]!, shape: s.shape }));
  const swap = spec.inputs.map((s) => draw.transposed && typeof s.domain === 'string' && s.shape.length >= 2);
  const inputs = refs.map((r, i) => {
    if (!swap[i]) return { ...r, index: typeof spec.inputs[i]!.domain === 'object' };
    const dims = r.shape.map((_, d) => d);
    [dims[dims.length - 1], dims[dims.length - 2]] = [dims[dims.length - 2]!, dims[dims.length - 1]!];
    return { ...R.permute(r, dims), index: false };
  });
  return {
    inputs,
    fn: (...xs) => spec.fn(...xs.map((x, i) => (swap[i] ? x.transpose(-1, -2) : x))),
    expected: spec.ref?.(...refs),
  };
}

/** Tensors for prepared inputs: floats in `dtype`, indices in int32. */
export function tensorsFor(p: Prepared, dtype: DType, backend: string, requiresGrad = false): Tensor[] {
  return p.inputs.map((x) =>
    x.index
      ? fromTypedArray(Int32Array.from(x.data), x.shape, { backend, dtype: 'int32' })
      : fromTypedArray(dtype === 'float64' ? Float64Array.from(x.data) : Float32Array.from(x.data), x.shape, { backend, dtype, requiresGrad }),
  );
}

/** Fixed weights for turning an output into a scalar loss, the same on every backend. */
export function lossWeights(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => 0.5 + ((i * 7919) % 13) / 13);
}

/** |actual − expected| ≤ atol + rtol·|expected| elementwise, NaN only where expected is NaN. */
export function closeTo(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { atol: number; rtol: number }): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} vs expected ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (!(Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e))) return `element ${i}: got ${a}, expected ${e}`;
  }
  return null;
}
