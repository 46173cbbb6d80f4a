import { beforeAll, describe, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { CASES } from './cases.js';
import { DEFAULT_TOL, checkCase } from './check.js';

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
        await checkCase(c, backend, opts.tolerances?.[c.name] ?? c.tol ?? DEFAULT_TOL, opts.numRuns ?? 20);
      });
    }
  });
}
