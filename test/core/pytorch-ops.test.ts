// Edge cases of the ops added for PyTorch users that the conformance suite's well-separated
// random values never reach: ties, halves, NaN, infinities, empty and 0-d inputs, and errors.
import { describe, expect, it } from 'vitest';
import { TsgradError, arange, cat, eye, stack, noGrad, oneHot, randn, tensor, zeros } from '../../src/index.js';

const int = (v: number[]) => tensor(v, { dtype: 'int32' });

describe('rounding', () => {
  it('rounds halves to even, as PyTorch does', () => {
    expect(tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.7]).round().arraySync()).toEqual([0, 2, 2, -0, -2, -2, 4]);
    expect(tensor([0.5, 2.5], { dtype: 'float64' }).round().arraySync()).toEqual([0, 2]);
  });

  it('floor and ceil of negatives, integers, large values and non-finite values', () => {
    const x = tensor([-1.5, -2, 2, 2 ** 30 + 128, Infinity, -Infinity, NaN]);
    expect(x.floor().arraySync()).toEqual([-2, -2, 2, 2 ** 30 + 128, Infinity, -Infinity, NaN]);
    expect(x.ceil().arraySync()).toEqual([-1, -2, 2, 2 ** 30 + 128, Infinity, -Infinity, NaN]);
  });

  it('has a zero gradient and leaves int32 tensors as they are', () => {
    const x = tensor([0.3, 1.7], { requiresGrad: true });
    x.floor().add(x.mul(2)).sum().backward();
    expect(x.grad!.arraySync()).toEqual([2, 2]);
    expect(int([3, -4]).round().arraySync()).toEqual([3, -4]);
  });
});

describe('clamp', () => {
  it('keeps NaN, accepts one bound, and gives max everywhere when min > max', () => {
    expect(tensor([NaN, -3, 3]).clamp(-1, 1).arraySync()).toEqual([NaN, -1, 1]);
    expect(tensor([-3, 3]).clamp(null, 0).arraySync()).toEqual([-3, 0]);
    expect(tensor([0, 5]).clamp(2, 1).arraySync()).toEqual([1, 1]);
    expect(() => tensor([1]).clamp()).toThrow(/clamp: needs at least one of min and max/);
  });

  it('passes the gradient at the bounds themselves (PyTorch: min ≤ x ≤ max)', () => {
    const x = tensor([0, 0.5, 1, 2], { requiresGrad: true });
    x.clamp(0, 1).sum().backward();
    expect(x.grad!.arraySync()).toEqual([1, 1, 1, 0]);
  });
});

describe('statistics', () => {
  it('var and std: unbiased by default, NaN for one element, biased on request', () => {
    expect(tensor([1, 2, 3, 4]).var().itemSync()).toBeCloseTo(5 / 3, 6);
    expect(tensor([[1, 2], [3, 5]]).std(1, { unbiased: false }).arraySync()).toEqual([0.5, 1]);
    expect(tensor([[1, 2]]).var(1, { keepdim: true }).shape).toEqual([1, 1]);
    expect(tensor([3]).var().itemSync()).toBeNaN();
  });

  it('logsumexp stays finite for large values and gives -Infinity for rows of -Infinity', () => {
    const [big, none] = tensor([[1000, 1000], [-Infinity, -Infinity]]).logsumexp(1).arraySync() as number[];
    expect(big).toBeCloseTo(1000 + Math.LN2, 3);
    expect(none).toBe(-Infinity);
    const x = tensor([[0, Math.log(3)]], { requiresGrad: true });
    x.logsumexp(-1).sum().backward();
    const g = x.grad!.arraySync() as number[][];
    expect(g[0]![0]).toBeCloseTo(0.25, 6);
    expect(g[0]![1]).toBeCloseTo(0.75, 6);
  });

  it('cumsum works on int32, 0-d and empty tensors', () => {
    expect(int([1, 2, 3, 4, 5]).cumsum(0).arraySync()).toEqual([1, 3, 6, 10, 15]);
    expect(tensor(4).cumsum(0).itemSync()).toBe(4);
    expect(zeros([2, 0]).cumsum(1).shape).toEqual([2, 0]);
    expect(() => tensor([1]).cumsum(1)).toThrow(/cumsum: axis 1 is out of range/);
  });
});

describe('sorting', () => {
  it('is stable on ties, both ways, and destructures as PyTorch', () => {
    const [values, indices] = tensor([2, 1, 2, 1, 3]).sort();
    expect(values.arraySync()).toEqual([1, 1, 2, 2, 3]);
    expect(indices.arraySync()).toEqual([1, 3, 0, 2, 4]);
    expect(tensor([2, 1, 2, 1, 3]).sort(0, true).indices.arraySync()).toEqual([4, 0, 2, 1, 3]);
    expect(tensor([[3, 1, 2]]).argsort(-1).arraySync()).toEqual([[1, 2, 0]]);
  });

  it('topk: largest and smallest, k = 0 and k too large', () => {
    const x = tensor([[5, 1, 4], [0, 9, 2]]);
    const top = x.topk(2);
    expect(top.values.arraySync()).toEqual([[5, 4], [9, 2]]);
    expect(top.indices.arraySync()).toEqual([[0, 2], [1, 2]]);
    expect(x.topk(1, 0, false).values.arraySync()).toEqual([[0, 1, 2]]);
    expect(x.topk(0).values.shape).toEqual([2, 0]);
    expect(() => x.topk(4)).toThrow(/topk: k = 4 must be an integer in 0..3/);
  });

  it('sends the gradient of the values back to where each came from', () => {
    const x = tensor([3, 1, 2], { requiresGrad: true });
    x.sort().values.mul(tensor([1, 10, 100])).sum().backward();
    expect(x.grad!.arraySync()).toEqual([100, 1, 10]);
  });
});

describe('split, chunk, tril, triu, eye, oneHot, predicates', () => {
  it('split by size and by sizes; chunk into near-equal pieces', () => {
    expect(arange(5).split(2).map((t) => t.arraySync())).toEqual([[0, 1], [2, 3], [4]]);
    expect(arange(5).split([1, 4]).map((t) => t.shape)).toEqual([[1], [4]]);
    expect(arange(6).chunk(4).map((t) => t.shape)).toEqual([[2], [2], [2]]);
    expect(() => arange(5).split([2, 2])).toThrow(/split: sizes \[2,2\] add up to 4, but axis 0 of shape \[5\] has 5/);
  });

  it('tril and triu with diagonals, on batches', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(x.tril().arraySync()).toEqual([[1, 0, 0], [4, 5, 0]]);
    expect(x.triu(1).arraySync()).toEqual([[0, 2, 3], [0, 0, 6]]);
    expect(x.tril(-1).arraySync()).toEqual([[0, 0, 0], [4, 0, 0]]);
    expect(() => tensor([1, 2]).tril()).toThrow(/tril: needs a tensor of at least 2 dims/);
  });

  it('eye and oneHot', () => {
    expect(eye(2, 3).arraySync()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(eye(2, 2, { dtype: 'int32' }).dtype).toBe('int32');
    expect(oneHot(int([2, 0])).arraySync()).toEqual([[0, 0, 1], [1, 0, 0]]);
    expect(oneHot(int([1]), 4).arraySync()).toEqual([[0, 1, 0, 0]]);
    expect(() => oneHot(int([3]), 2)).toThrow(/oneHot: class index 3 is out of range for 2 classes/);
    expect(() => oneHot(tensor([1]))).toThrow(/oneHot: indices must be int32/);
  });

  it('isnan, isinf, isfinite', () => {
    const x = tensor([1, NaN, Infinity, -Infinity]);
    expect(x.isnan().arraySync()).toEqual([0, 1, 0, 0]);
    expect(x.isinf().arraySync()).toEqual([0, 0, 1, 1]);
    expect(x.isfinite().arraySync()).toEqual([1, 0, 0, 0]);
    expect(int([1]).isfinite().arraySync()).toEqual([1]);
  });

  it('flatten and unflatten', () => {
    expect(randn([2, 3, 4]).flatten(1).shape).toEqual([2, 12]);
    expect(randn([2, 3, 4]).flatten().shape).toEqual([24]);
    expect(tensor(1).flatten().shape).toEqual([1]);
    expect(randn([2, 12]).unflatten(1, [3, -1]).shape).toEqual([2, 3, 4]);
    expect(() => randn([2, 12]).unflatten(1, [5, -1])).toThrow(/unflatten: sizes \[5,-1\] do not multiply to 12/);
  });
});

describe('PyTorch call habits', () => {
  it('reshape, view and permute take dims as arguments or as a list', () => {
    const x = arange(6);
    expect(x.reshape(2, 3).shape).toEqual([2, 3]);
    expect(x.view(3, -1).shape).toEqual([3, 2]);
    expect(x.reshape(2, 3).permute(1, 0).arraySync()).toEqual([[0, 3], [1, 4], [2, 5]]);
    expect(x.reshape([3, 2]).permute([1, 0]).shape).toEqual([2, 3]);
  });

  it('cat and stack take plain arrays beside tensors', () => {
    expect(cat([tensor([1]), [2, 3]]).arraySync()).toEqual([1, 2, 3]);
    expect(stack([[1, 2], tensor([3, 4])]).arraySync()).toEqual([[1, 2], [3, 4]]);
    expect(cat([tensor([1], { dtype: 'int32' }), [2]]).dtype).toBe('int32');
  });

  it('view refuses non-contiguous data and says to use reshape', () => {
    expect(() => arange(6).reshape(2, 3).transpose(0, 1).view(6)).toThrow(/view: .*not contiguous.*reshape\(\)/);
  });
});

describe('in-place ops', () => {
  it('zero_, fill_, add_, mul_ and clamp_ change the tensor itself and bump its version', () => {
    const x = tensor([1, -2, 3]);
    const v0 = x._version;
    expect(x.add_(1)).toBe(x);
    expect(x.arraySync()).toEqual([2, -1, 4]);
    x.mul_(tensor([1, 2, 0.5])).clamp_(-1.5, 1.5);
    expect(x.arraySync()).toEqual([1.5, -1.5, 1.5]);
    expect(x.fill_(7).arraySync()).toEqual([7, 7, 7]);
    expect(x.zero_().arraySync()).toEqual([0, 0, 0]);
    expect(x._version).toBe(v0 + 5);
  });

  it('needs noGrad on a tensor that requires grad, and refuses bad operands before writing', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(() => w.mul_(2)).toThrow(/mul_: .*requires grad.*noGrad/);
    noGrad(() => w.mul_(2));
    expect(w.arraySync()).toEqual([2, 4]);
    expect(() => noGrad(() => w.add_(tensor([1, 2, 3])))).toThrow(TsgradError);
    expect(() => noGrad(() => w.clamp_(tensor([0, 0]), tensor([[1, 1]])))).toThrow(/clamp_: operand of shape \[1,2\] does not broadcast to this tensor's shape \[2\]/);
    expect(w.arraySync()).toEqual([2, 4]);
    expect(() => w.mul(3).zero_()).toThrow(/zero_|fill_/);
  });

  it('a graph that saved the tensor refuses to run backward after an in-place change', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4]);
    const y = a.mul(b).sum();
    b.mul_(2);
    expect(() => y.backward()).toThrow(/modified|in place|version/i);
  });
});
