// The gradients of several slices of one tensor (q, k and v split from one projection) are summed
// into one gradient in place, instead of each padding a full-size one; checked against finite
// differences (gradcheck), against the gradients computed with anomaly mode on (which runs the
// plain padded backward), and for the cases where summing in place could go wrong: overlapping
// slices, strided slices, a dense gradient arriving first, and a gradient a user holds
// (retainGrad) that a later slice must not change.
import { describe, expect, it } from 'vitest';
import { type Tensor, detectAnomaly, gradcheck, gradgradcheck, randn, tensor } from '../../src/index.js';

const f64 = (shape: number[]) => randn(shape, { dtype: 'float64', requiresGrad: true });

describe('gradients of slices', () => {
  const cases: [string, (x: Tensor) => Tensor][] = [
    ['a q/k/v split', (x) => { const [q, k, v] = x.split(4, -1) as [Tensor, Tensor, Tensor]; return q.mul(k).add(v.mul(2)).sum(); }],
    ['overlapping slices', (x) => x.slice([[0, 3]]).mul(3).sum().add(x.slice([[1, 4]]).pow(2).sum())],
    ['strided slices', (x) => x.slice([[0, 4, 2]]).mul(x.slice([[1, 4, 2]])).sum()],
    ['a dense gradient before the slices', (x) => x.exp().sum().add(x.slice([[1, 3]]).mul(5).sum()).add(x.slice([[0, 2]]).sum())],
  ];
  for (const [name, f] of cases) {
    it(`${name}: finite differences, and the plain backward's values`, async () => {
      const x = name === 'a q/k/v split' ? f64([2, 3, 12]) : f64([4, 3]);
      expect(gradcheck(f, [x]).ok).toBe(true);
      f(x).backward();
      const got = Array.from(x.grad!.dataSync());
      x.grad = null;
      await detectAnomaly(() => f(x).backward());
      expect(got).toEqual(Array.from(x.grad!.dataSync()));
    });
  }

  it('second order still runs the recorded backward', () => {
    expect(gradgradcheck((x) => { const [a, b] = x.split(2, 0) as [Tensor, Tensor]; return a.mul(b).pow(2).sum(); }, [f64([4, 2])]).ok).toBe(true);
  });

  it('leaves a retained gradient as it was handed out', () => {
    const x = tensor([[1, 2], [3, 4], [5, 6]], { dtype: 'float64', requiresGrad: true });
    const h = x.mul(2);
    h.retainGrad();
    const loss = h.slice([[0, 2]]).mul(3).sum().add(h.slice([[1, 3]]).mul(5).sum());
    loss.backward();
    expect(h.grad!.arraySync()).toEqual([[3, 3], [8, 8], [5, 5]]);
    expect(x.grad!.arraySync()).toEqual([[6, 6], [16, 16], [10, 10]]);
  });
});
