// reshape of a non-contiguous tensor: a view whenever strides can express the new shape (as
// PyTorch's computeStride decides), a copy otherwise; values and gradients as of the copy.
import { describe, expect, it } from 'vitest';
import { storageOf } from '../../src/core/seams.js';
import { type Tensor, gradcheck, randn } from '../../src/index.js';

const viewOf = (t: Tensor, base: Tensor) => storageOf(t, 'test') === storageOf(base, 'test');

describe('reshape of strided tensors', () => {
  const x = randn([3, 4, 12], { dtype: 'float64' });
  const cases: { name: string; make: () => Tensor; shape: number[]; view: boolean }[] = [
    { name: 'heads split off a slice of the last dim', make: () => x.split(4, 2)[1]!, shape: [3, 4, 2, 2], view: true },
    { name: 'leading dims of a transpose merged', make: () => x.reshape([3, 2, 2, 12]).transpose(2, 3), shape: [6, 12, 2], view: true },
    { name: 'a transposed pair merged', make: () => x.transpose(1, 2), shape: [3, 48], view: false },
    { name: 'a slice flattened', make: () => x.split(4, 2)[0]!, shape: [-1], view: false },
    { name: 'size-1 dims added to a permutation', make: () => x.permute([2, 0, 1]), shape: [12, 1, 3, 4, 1], view: true },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.view ? 'a view' : 'a copy'} with the copy's values`, () => {
      const src = c.make();
      const got = src.reshape(c.shape);
      expect(viewOf(got, x)).toBe(c.view);
      expect(got.arraySync()).toEqual(src.contiguous().reshape(c.shape).arraySync());
    });
  }

  it('passes gradcheck through a strided view', () => {
    const f = (t: Tensor) => t.split(4, 2)[1]!.reshape([3, 4, 2, 2]).transpose(0, 3).reshape([2, 4, 2, 3]).pow(2);
    expect(gradcheck(f, [randn([3, 4, 12], { dtype: 'float64' })]).ok).toBe(true);
  });
});
