import { describe, expect, it } from 'vitest';
import { type Tensor, gradcheck, tensor } from '../../../src/index.js';

// x·detach(x) has the true gradient 2x, but autograd sees only x: a known-wrong gradient.
const wrong = (index: Tensor, x: Tensor) => x.mul(x.detach()).gather(0, index);

describe('gradcheck', () => {
  const index = tensor([1, 0], { dtype: 'int32' });

  it('names a failing input by its position, int inputs counted', () => {
    expect(() => gradcheck(wrong, [index, tensor([0.5, 3])])).toThrow(/gradcheck: input 1 \(shape \[2\]\), element 0: analytic gradient/);
  });

  it('reports errors per input by position; the relative error divides by max(|numeric|, 1)', () => {
    // A scalar output (no weights): numeric 2x = [0.5, 0.2], analytic x = [0.25, 0.1].
    const r = gradcheck((i: Tensor, x: Tensor) => wrong(i, x).sum(), [index, tensor([0.25, 0.1])], { raise: false });
    expect(r.ok).toBe(false);
    expect(r.maxAbsError[0]).toBe(0);
    expect(r.maxRelError[0]).toBe(0);
    expect(r.maxAbsError[1]).toBeCloseTo(0.25, 6);
    // Below 1 the divisor is 1, so the relative error is 0.25, not 0.25 / 0.5.
    expect(r.maxRelError[1]).toBeCloseTo(0.25, 6);
  });

  it('passes a correct gradient with an int input first', () => {
    const r = gradcheck((i: Tensor, x: Tensor) => x.mul(x).gather(0, i), [index, tensor([0.5, 3])]);
    expect(r.ok).toBe(true);
    expect(r.maxAbsError[1]).toBeLessThan(1e-6);
  });
});
