// Every op of the suite on the CPU in float64: forward against straightforward reference
// loops, gradients against central finite differences (gradcheck), and second-order gradients
// (built with createGraph) against finite differences of the first-order ones (gradgradcheck).
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradcheck, gradgradcheck, scope } from '../../src/index.js';
import { CASES } from '../conformance/cases.js';
import { closeTo, drawArb, prepare, tensorsFor } from '../conformance/prepare.js';
import { ORACLE, initOracle } from '../oracle.js';

beforeAll(initOracle);

describe('ops on cpu (float64)', () => {
  for (const c of CASES) {
    it(`${c.name}: forward matches the reference`, () => {
      fc.assert(
        fc.property(c.spec, drawArb, (spec, draw) => {
          const p = prepare(spec, draw);
          scope(() => {
            const out = p.fn(...tensorsFor(p, 'float64', 'cpu'));
            // Cases without reference loops (interpolate) are held to the float64 reference backend.
            const expected = p.expected ?? (() => {
              const o = p.fn(...tensorsFor(p, ORACLE.dtype, ORACLE.backend));
              return { shape: o.shape, data: o.dataSync() };
            })();
            expect(out.shape).toEqual(expected.shape);
            const err = closeTo(out.dataSync(), expected.data, { atol: 1e-9, rtol: 1e-9 });
            if (err) throw new Error(`${spec.label}, transposed ${draw.transposed}: ${err}`);
          });
        }),
        { numRuns: 40 },
      );
    });

    if (c.differentiable === false) continue;
    it(`${c.name}: gradients pass gradcheck`, () => {
      fc.assert(
        fc.property(c.spec, drawArb, (spec, draw) => {
          const p = prepare(spec, draw);
          scope(() => {
            const r = gradcheck(p.fn, tensorsFor(p, 'float64', 'cpu'), { atol: 1e-6, rtol: 1e-5 });
            expect(r.ok).toBe(true);
          });
        }),
        { numRuns: 25 },
      );
    });

    it(`${c.name}: second-order gradients pass gradgradcheck`, () => {
      fc.assert(
        fc.property(c.spec, drawArb, (spec, draw) => {
          const p = prepare(spec, draw);
          scope(() => {
            expect(gradgradcheck(p.fn, tensorsFor(p, 'float64', 'cpu'), { atol: 1e-5, rtol: 1e-4 }).ok).toBe(true);
          });
        }),
        { numRuns: 8 },
      );
    });
  }
});
