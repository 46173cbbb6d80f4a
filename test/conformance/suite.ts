import { describe, it } from 'vitest';
import { CASES } from './cases.js';
import { checkCase } from './check.js';
import { defineHalfConformance } from './half.js';
import { backendBeforeAll } from '../backendAvailable.js';
import type { MatrixEntry } from '../matrix.js';

/**
 * Runs every op of the suite on `entry`'s backend in its dtype: forward results against the
 * oracle and the reference loops, and gradients against the oracle's gradients (which the CPU
 * property tests check by finite differences). A missing driver fails under CI and is skipped
 * loudly elsewhere.
 */
export function defineConformance(entry: MatrixEntry, numRuns: number): void {
  describe(`conformance: ${entry.name}`, () => {
    const available = backendBeforeAll(entry.backend, 'conformance suite', entry);

    for (const c of CASES) {
      it(c.name, async (ctx) => {
        if (!available()) return ctx.skip();
        // A case's own tolerance is for float32; float64 entries keep theirs.
        const tol = entry.dtype === 'float32' && c.tol ? c.tol : entry.tol;
        await checkCase(c, entry.backend, tol, numRuns, entry.dtype);
      });
    }
    defineHalfConformance(entry, available);
  });
}
