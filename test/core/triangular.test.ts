// tril and triu free the mask they build: after the result (and the graph) are gone, the
// backend holds no more storages than before (on webgpu the leak warning fired for it).
import { describe, expect, it } from 'vitest';
import { getBackend, ones, randn, tensor } from '../../src/index.js';

const live = () => getBackend().memory().buffers;

describe('tril and triu', () => {
  it('leave no storage behind, with and without a graph', () => {
    const x = randn([3, 4]);
    for (const op of ['tril', 'triu'] as const) {
      const before = live();
      x[op](1).dispose();
      expect(live()).toBe(before);
      const w = randn([3, 4], { requiresGrad: true });
      const base = live();
      const y = w[op](-1);
      const loss = y.sum();
      loss.backward();
      [loss, y].forEach((t) => t.dispose());
      w.grad!.dispose();
      expect(live()).toBe(base);
    }
  });

  it('keep the triangle and pass the gradient through it only', () => {
    const w = ones([2, 3], { requiresGrad: true });
    w.tril().mul(tensor([[1, 2, 3], [4, 5, 6]])).sum().backward();
    expect(w.grad!.arraySync()).toEqual([[1, 0, 0], [4, 5, 0]]);
    expect(ones([2, 3]).triu(1).arraySync()).toEqual([[0, 1, 1], [0, 0, 1]]);
  });
});
