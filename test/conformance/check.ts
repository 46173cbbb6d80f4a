// One conformance case on one backend, free of the test runner, so the browser tests run it in a page too.
import fc from 'fast-check';
import { type DType, type Tensor, fromTypedArray, grad, scope } from '../../src/index.js';
import { ORACLE, initOracle } from '../oracle.js';
import type { OpCase } from './cases.js';
import { closeTo, drawArb, lossWeights, prepare, tensorsFor } from './prepare.js';

export const DEFAULT_TOL = { atol: 1e-4, rtol: 1e-3 };

/**
 * Runs `c` on `backend` in `dtype` for `numRuns` drawn inputs: forward results against the
 * oracle (float64 reference backend) and the reference loops, gradients against the oracle's
 * gradients; throws on a mismatch.
 */
export async function checkCase(c: OpCase, backend: string, tol: { atol: number; rtol: number }, numRuns: number, dtype: DType = 'float32'): Promise<void> {
  await initOracle();
  await fc.assert(
    fc.asyncProperty(c.spec, drawArb, async (spec, draw) => {
      const p = prepare(spec, draw);
      const ref = scope(() => {
        const xs = tensorsFor(p, ORACLE.dtype, ORACLE.backend, c.differentiable !== false);
        const out = p.fn(...xs);
        const grads = gradsOf(out, xs, ORACLE.backend);
        return { out: out.dataSync(), grads: grads.map((g) => g?.dataSync() ?? null) };
      });
      await scope(async () => {
        const xs = tensorsFor(p, dtype, backend, c.differentiable !== false);
        const out = p.fn(...xs);
        const got = await out.data();
        const err = closeTo(got, ref.out, tol);
        if (err) throw new Error(`${c.name} forward (${spec.label}, transposed ${draw.transposed}): ${err}`);
        // And against the independent reference loops, so no backend is only checked against another.
        const rerr = p.expected ? closeTo(got, p.expected.data, tol) : null;
        if (rerr) throw new Error(`${c.name} forward vs reference loops (${spec.label}, transposed ${draw.transposed}): ${rerr}`);
        const grads = gradsOf(out, xs, backend);
        for (let i = 0; i < grads.length; i++) {
          const expected = ref.grads[i];
          if (!expected) continue;
          const g = grads[i];
          if (!g) throw new Error(`${c.name}: no gradient for input ${i} on ${backend}`);
          const gerr = closeTo(await g.data(), expected, tol);
          if (gerr) throw new Error(`${c.name} gradient of input ${i} (${spec.label}, transposed ${draw.transposed}): ${gerr}`);
        }
      });
    }),
    { numRuns },
  );
}

/** Gradients of Σ w·out with respect to the float inputs (null for index inputs). */
function gradsOf(out: Tensor, xs: Tensor[], backend: string): (Tensor | null)[] {
  if (!out.requiresGrad || out.size === 0) return xs.map(() => null);
  const w = fromTypedArray(Float32Array.from(lossWeights(out.size)), out.shape, { backend, dtype: out.dtype });
  const floats = xs.filter((x) => x.requiresGrad);
  const gs = grad(out.mul(w).sum(), floats, { allowUnused: true });
  return xs.map((x) => (x.requiresGrad ? gs[floats.indexOf(x)] ?? null : null));
}
