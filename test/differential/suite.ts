import fc from 'fast-check';
import { describe, it } from 'vitest';
import { scope } from '../../src/index.js';
import { type Program, programArb, programCode, runProgram } from './programs.js';
import { backendBeforeAll } from '../backendAvailable.js';

export interface DifferentialOptions {
  /** Initializes the backend; throwing means its driver is missing. */
  init?: () => Promise<void>;
  requirement?: string;
  numRuns?: number;
  /** Agreement with CPU float64 allowed for this backend's float32: |got − want| ≤ atol + rtol·|want|. */
  atol?: number;
  rtol?: number;
}

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
 * Random programs run forward and backward on `backend` in float32 must agree with CPU float64
 * within the stated tolerance; a failure shrinks to a short program, printed as code.
 */
export function defineDifferential(backend: string, opts: DifferentialOptions = {}): void {
  const atol = opts.atol ?? 1e-4, rtol = opts.rtol ?? 1e-3;
  describe(`differential: ${backend} float32 against cpu float64`, () => {
    const available = backendBeforeAll(backend, 'differential suite', { init: opts.init, requirement: opts.requirement });

    it(`outputs and gradients agree within atol ${atol}, rtol ${rtol}`, async (ctx) => {
      if (!available()) return ctx.skip();
      await fc.assert(
        fc.asyncProperty(programArb, async (p: Program) => {
          await scope(async () => {
            const want = await runProgram(p, 'cpu', 'float64');
            const got = await runProgram(p, backend, 'float32');
            const problems = [mismatch(got.out, want.out, atol, rtol) && `output: ${mismatch(got.out, want.out, atol, rtol)}`];
            got.grads.forEach((g, i) => {
              const m = mismatch(g, want.grads[i]!, atol, rtol);
              if (m) problems.push(`gradient of leaf${i}: ${m}`);
            });
            const found = problems.filter(Boolean);
            if (found.length) throw new Error(`${backend} disagrees with cpu float64 (${found.join('; ')}) on\n${programCode(p)}`);
          });
        }),
        { numRuns: opts.numRuns ?? 200, seed: SEED },
      );
    });
  });
}
