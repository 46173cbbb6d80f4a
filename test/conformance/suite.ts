import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { type Tensor, fromTypedArray, grad, initBackend, scope } from '../../src/index.js';
import { CASES } from './cases.js';
import { closeTo, drawArb, lossWeights, prepare, tensorsFor } from './prepare.js';

export interface ConformanceOptions {
  /** Initializes the backend; throwing means its driver is missing. */
  init?: () => Promise<void>;
  /** What to install when the driver is missing (shown in the skip notice). */
  requirement?: string;
  /** Float32 tolerances against CPU float64, per case name (default `atol 1e-4, rtol 1e-3`). */
  tolerances?: Record<string, { atol: number; rtol: number }>;
  /** Property runs per case. */
  numRuns?: number;
}

const DEFAULT_TOL = { atol: 1e-4, rtol: 1e-3 };

/**
 * Runs every op of the suite on `backend` in float32: forward results against CPU float64 and
 * the reference loops, and gradients against CPU float64 gradients (which the CPU property tests
 * check by finite differences). A missing driver fails under CI and is skipped loudly elsewhere.
 */
export function defineConformance(backend: string, opts: ConformanceOptions = {}): void {
  describe(`conformance: ${backend}`, () => {
    let available = false;
    beforeAll(async () => {
      try {
        await (opts.init ?? (() => initBackend(backend).then(() => undefined)))();
        available = true;
      } catch (e) {
        if (process.env.CI) throw new Error(`backend '${backend}' is unavailable in CI: ${(e as Error).message}`);
        console.warn(`\n*** SKIPPING the ${backend} conformance suite: ${(e as Error).message}\n*** ${opts.requirement ?? ''}\n`);
      }
    });

    for (const c of CASES) {
      it(c.name, async (ctx) => {
        if (!available) return ctx.skip();
        const tol = opts.tolerances?.[c.name] ?? c.tol ?? DEFAULT_TOL;
        await fc.assert(
          fc.asyncProperty(c.spec, drawArb, async (spec, draw) => {
            const p = prepare(spec, draw);
            // Reference: CPU float64.
            const ref = scope(() => {
              const xs = tensorsFor(p, 'float64', 'cpu', c.differentiable !== false);
              const out = p.fn(...xs);
              const grads = gradsOf(out, xs, 'cpu');
              return { out: out.dataSync(), grads: grads.map((g) => g?.dataSync() ?? null) };
            });
            // Backend under test: float32.
            await scope(async () => {
              const xs = tensorsFor(p, 'float32', backend, c.differentiable !== false);
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
          { numRuns: opts.numRuns ?? 20 },
        );
      });
    }
  });
}

/** Gradients of Σ w·out with respect to the float inputs (null for index inputs). */
function gradsOf(out: Tensor, xs: Tensor[], backend: string): (Tensor | null)[] {
  if (!out.requiresGrad || out.size === 0) return xs.map(() => null);
  const w = fromTypedArray(Float32Array.from(lossWeights(out.size)), out.shape, { backend, dtype: out.dtype });
  const floats = xs.filter((x) => x.requiresGrad);
  const gs = grad(out.mul(w).sum(), floats, { allowUnused: true });
  return xs.map((x) => (x.requiresGrad ? gs[floats.indexOf(x)] ?? null : null));
}
