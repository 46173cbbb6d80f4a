import fc from 'fast-check';
import { describe, it } from 'vitest';
import { scope } from '../../src/index.js';
import { type Program, programArb, programCode, runProgram } from './programs.js';
import { backendBeforeAll } from '../backendAvailable.js';
import type { MatrixEntry } from '../matrix.js';
import { ORACLE, initOracle } from '../oracle.js';

/** Fixed, so every run checks the same programs; set DIFF_SEED to explore others. */
const SEED = Number(process.env.DIFF_SEED ?? 7);

function mismatch(got: number[], want: number[], atol: number, rtol: number): string | null {
  if (got.length !== want.length) return `${got.length} values, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (Number.isNaN(w) ? !Number.isNaN(g) : !(Math.abs(g - w) <= atol + rtol * Math.abs(w))) return `element ${i}: ${g}, expected ${w}`;
  }
  return null;
}

/**
 * Random programs run forward and backward on `entry`'s backend in its dtype must agree with the
 * oracle (the float64 reference backend) within the entry's tolerance; a failure shrinks to a
 * short program, printed as code.
 */
export function defineDifferential(entry: MatrixEntry, numRuns: number): void {
  const { backend, dtype, tol: { atol, rtol } } = entry;
  describe(`differential: ${entry.name} ${dtype} against ${ORACLE.backend} ${ORACLE.dtype}`, () => {
    const available = backendBeforeAll(backend, 'differential suite', entry);

    it(`outputs and gradients agree within atol ${atol}, rtol ${rtol}`, async (ctx) => {
      if (!available()) return ctx.skip();
      await initOracle();
      await fc.assert(
        fc.asyncProperty(programArb, async (p: Program) => {
          await scope(async () => {
            const want = await runProgram(p, ORACLE.backend, ORACLE.dtype);
            const got = await runProgram(p, backend, dtype);
            const problems = [mismatch(got.out, want.out, atol, rtol) && `output: ${mismatch(got.out, want.out, atol, rtol)}`];
            got.grads.forEach((g, i) => {
              const m = mismatch(g, want.grads[i]!, atol, rtol);
              if (m) problems.push(`gradient of leaf${i}: ${m}`);
            });
            const found = problems.filter(Boolean);
            if (found.length) throw new Error(`${entry.name} disagrees with ${ORACLE.backend} ${ORACLE.dtype} (${found.join('; ')}) on\n${programCode(p)}`);
          });
        }),
        { numRuns, seed: SEED },
      );
    });
  });
}
