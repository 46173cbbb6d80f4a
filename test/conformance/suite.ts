import { describe, it } from 'vitest';
import { CASES } from './cases.js';
import { DEFAULT_TOL, checkCase } from './check.js';
import { backendBeforeAll } from '../backendAvailable.js';

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
    const available = backendBeforeAll(backend, 'conformance suite', { init: opts.init, requirement: opts.requirement });

    for (const c of CASES) {
      it(c.name, async (ctx) => {
        if (!available()) return ctx.skip();
        await checkCase(c, backend, opts.tolerances?.[c.name] ?? c.tol ?? DEFAULT_TOL, opts.numRuns ?? 20);
      });
    }
  });
}
