// Memory ownership and in-place safety: what a user can do wrong with scopes, views and copy_,
// and the engine's answer (the right result, or an error; never a silent wrong gradient).
import { describe, expect, it } from 'vitest';
import { cat, getBackend, optim, scope, tensor, zeros } from '../../src/index.js';

describe('scope and backward', () => {
  it('a loss returned from a scope can be differentiated outside it', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const loss = scope(() => x.mul(2).mul(x).sum());
    loss.backward();
    expect(x.grad!.arraySync()).toEqual([4, 8, 12]);
  });

  it('frees what the returned graph kept once backward releases it', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const before = getBackend().memory().buffers;
    const loss = scope(() => x.exp().mul(x).sum());
    const held = getBackend().memory().buffers;
    expect(held).toBeGreaterThan(before + 1); // the loss plus intermediates its backward needs
    loss.backward();
    loss.dispose();
    // Only x.grad remains beyond what existed before.
    expect(getBackend().memory().buffers).toBe(before + 1);
  });

  it('backward through an explicitly disposed intermediate is an error, not a silent null grad', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const h = x.mul(2);
    const loss = h.sum();
    h.dispose();
    expect(() => loss.backward()).toThrow(/backward: op 'sum' \(output shape \[\]\) needs a tensor that was disposed/);
  });

  it('backward leaves no temporaries behind (outside any scope)', () => {
    const w = tensor([[1, -2], [3, 4]], { requiresGrad: true });
    const x = tensor([[0.5, 1], [-1, 2]]);
    const step = () => x.matmul(w).relu().sum().backward();
    step();
    const before = getBackend().memory().buffers;
    const loss = x.matmul(w).relu().sum();
    const withGraph = getBackend().memory().buffers;
    loss.backward();
    // The grad accumulated into the existing one; the walk's temporaries are gone.
    expect(getBackend().memory().buffers).toBeLessThanOrEqual(withGraph);
    expect(getBackend().memory().buffers - before).toBeLessThanOrEqual(withGraph - before);
  });
});

describe('gradients own their storage', () => {
  it('two leaves never get views of one gradient buffer', () => {
    const a = tensor([[1, 0], [0, 1]], { requiresGrad: true });
    const b = tensor([[1, 0], [0, 1]], { requiresGrad: true });
    a.reshape([4]).add(b.reshape([4])).mul(tensor([3, 0, 0, 4])).sum().backward();
    optim.clipGradNorm([a, b], 1);
    // ‖(3,0,0,4,3,0,0,4)‖ = √50, so each grad is scaled by 1/√50 exactly once.
    const s = 1 / Math.sqrt(50);
    const ga = a.grad!.dataSync(), gb = b.grad!.dataSync();
    [3 * s, 0, 0, 4 * s].forEach((v, i) => {
      expect(ga[i]).toBeCloseTo(v, 6);
      expect(gb[i]).toBeCloseTo(v, 6);
    });
  });

  it('gradients of cat inputs are separate tensors, not slices of one buffer', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3], { requiresGrad: true });
    cat([a, b]).mul(tensor([1, 2, 3])).sum().backward();
    expect(a.grad!.offset).toBe(0);
    expect(b.grad!.offset).toBe(0);
    b.grad!.copy_(tensor([9]));
    expect(a.grad!.arraySync()).toEqual([1, 2]);
  });
});

describe('copy_', () => {
  it('refuses a source that does not broadcast to the destination', () => {
    expect(() => zeros([4]).copy_(tensor([1, 2, 3]))).toThrow(/^copy_: shapes \[3\] and \[4\] cannot be broadcast/);
    expect(() => zeros([3]).copy_(tensor([[1, 2, 3], [4, 5, 6]]))).toThrow(/^copy_: cannot copy \[2,3\] into \[3\]/);
    expect(zeros([2, 3]).copy_(tensor([1, 2, 3])).arraySync()).toEqual([[1, 2, 3], [1, 2, 3]]);
  });

  it('reads an overlapping source whole before writing', () => {
    const x = tensor([[1, 2], [3, 4]]);
    x.copy_(x.transpose(0, 1));
    expect(x.arraySync()).toEqual([[1, 3], [2, 4]]);
  });

  it('an in-place write to a tensor saved for backward is an error at backward', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const w = tensor([1, 1, 1]);
    const loss = x.mul(w).sum();
    w.copy_(tensor([5, 5, 5]));
    expect(() => loss.backward()).toThrow(/saved by op 'mul' .* was modified in place \(copy_\) after the forward pass/);
  });
});
