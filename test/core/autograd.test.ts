import { describe, expect, it } from 'vitest';
import {
  Tensor, backendStats, getBackend, grad, gradgradcheck, noGrad, ones, printGraph, randn, resetStats, scope, keep, tensor, nn, manualSeed,
} from '../../src/index.js';

const arr = (t: Tensor | null) => t!.arraySync();

describe('backward', () => {
  it('accumulates into .grad across calls until zeroed', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.mul(x).sum().backward();
    expect(arr(x.grad)).toEqual([2, 4, 6]);
    x.mul(3).sum().backward();
    expect(arr(x.grad)).toEqual([5, 7, 9]);
    x.grad = null;
    x.sum().backward();
    expect(arr(x.grad)).toEqual([1, 1, 1]);
  });

  it('takes an explicit output gradient for non-scalar outputs', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.mul(x).backward(tensor([10, 100]));
    expect(arr(x.grad)).toEqual([20, 400]);
  });

  it('runs each op of a shared subgraph once (one topological pass)', () => {
    const x = tensor([0.5, -1], { requiresGrad: true });
    const a = x.exp();
    const y = a.add(a).add(a).sum();
    resetStats();
    y.backward();
    // exp's backward is one multiply (g·eˣ), run once although `a` is used three times.
    expect(backendStats().byOp.get('binary:mul')).toBe(1);
    const g = x.grad!.dataSync();
    expect(g[0]).toBeCloseTo(3 * Math.exp(0.5), 5);
    expect(g[1]).toBeCloseTo(3 * Math.exp(-1), 5);
  });

  it('walks a graph too deep for a recursive sort', () => {
    const x = tensor([1], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 10000; i++) y = y.mul(1);
    y.sum().mul(5).backward();
    expect(arr(x.grad)).toEqual([5]);
  });

  it('releases the graph after backward unless retainGraph is set', () => {
    const x = tensor([2], { requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(arr(x.grad)).toEqual([8]);
    expect(() => y.backward()).toThrow(/already released.*retainGraph/);
  });

  it('records nothing under noGrad, also across await', async () => {
    const x = tensor([1], { requiresGrad: true });
    expect(noGrad(() => x.mul(2)).requiresGrad).toBe(false);
    const y = await noGrad(async () => {
      await Promise.resolve();
      return x.mul(2);
    });
    expect(y.requiresGrad).toBe(false);
    expect(x.mul(2).requiresGrad).toBe(true);
  });

  it('detach cuts the graph but shares data', () => {
    const x = tensor([3], { requiresGrad: true });
    const d = x.mul(2).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(arr(d)).toEqual([6]);
  });

  it('exposes the graph through gradFn', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.exp().sum();
    expect(y.gradFn!.op).toBe('sum');
    expect(y.gradFn!.inputs[0]!.gradFn!.op).toBe('exp');
    expect(y.gradFn!.inputs[0]!.gradFn!.inputs[0]).toBe(x);
  });
});

describe('broadcasting is undone by the engine', () => {
  it('sums a broadcast operand gradient back to its shape', () => {
    const a = tensor([[1], [2]], { requiresGrad: true }); // [2, 1] broadcast against [3]
    const b = tensor([10, 20, 30], { requiresGrad: true });
    a.mul(b).sum().backward();
    expect(arr(a.grad)).toEqual([[60], [60]]);
    expect(arr(b.grad)).toEqual([3, 3, 3]);
  });

  it('records matmul on its operands, not on expanded copies, and sums the batch dims', () => {
    const a = tensor([[[1, 0]], [[0, 1]], [[1, 1]]], { requiresGrad: true }); // [3, 1, 2]
    const w = tensor([[[1, 2], [3, 4]]], { requiresGrad: true }); // [1, 2, 2], broadcast over the batch
    const y = a.matmul(w).sum();
    expect(printGraph(y)).toBe(['#0 sum [] float32', '  #1 matmul [3,1,2] float32', '    #2 leaf (requires grad) [3,1,2] float32', '    #3 leaf (requires grad) [1,2,2] float32'].join('\n'));
    y.backward();
    // dL/dw = Σ_batch aᵀ·1 = column sums of a's rows: [[2, 2], [2, 2]].
    expect(arr(w.grad)).toEqual([[[2, 2], [2, 2]]]);
    expect(arr(a.grad)).toEqual([[[3, 7]], [[3, 7]], [[3, 7]]]);
  });

  it('folds a batch times one matrix into one product over the rows, as PyTorch records view, mm, view', () => {
    const a = tensor([[[1, 0]], [[0, 1]], [[1, 1]]], { requiresGrad: true }); // [3, 1, 2]
    const w = tensor([[1, 2], [3, 4]], { requiresGrad: true }); // [2, 2], shared by the batch
    const y = a.matmul(w).sum();
    expect(printGraph(y)).toBe([
      '#0 sum [] float32', '  #1 reshape [3,1,2] float32', '    #2 matmul [3,2] float32',
      '      #3 reshape [3,2] float32', '        #4 leaf (requires grad) [3,1,2] float32', '      #5 leaf (requires grad) [2,2] float32',
    ].join('\n'));
    y.backward();
    expect(arr(w.grad)).toEqual([[2, 2], [2, 2]]);
    expect(arr(a.grad)).toEqual([[[3, 7]], [[3, 7]], [[3, 7]]]);
  });
});

describe('grad and higher order', () => {
  it('returns gradients without touching .grad', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const [g] = grad(x.mul(x).sum(), [x]);
    expect(arr(g!)).toEqual([2, 4]);
    expect(x.grad).toBeNull();
  });

  it('takes one input tensor as PyTorch does, and answers bad arguments with TsgradErrors', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const [g] = grad(x.pow(3).sum(), x); // torch.autograd.grad(y, x) → (3x²,)
    expect(arr(g!)).toEqual([3, 12]);
    expect(gradgradcheck((t) => t.pow(3).sum(), randn([3], { dtype: 'float64' }).requiresGrad_()).ok).toBe(true);
    expect(() => grad(x.sum(), null as never)).toThrow(/^grad: expected a Tensor, got null \(inputs\[0\]\)/);
    expect(() => noGrad(undefined as never)).toThrow(/^noGrad: expects a function/);
    expect(() => scope(null as never)).toThrow(/^scope: expects a function/);
    expect(() => printGraph(null as never)).toThrow(/^printGraph: expected a Tensor, got null/);
    expect(() => new nn.Parameter({} as never)).toThrow(/^Parameter: expected a Tensor/);
    const gone = tensor([1]);
    gone.dispose();
    expect(() => gone.requiresGrad_()).toThrow(/^requiresGrad_: .*disposed/);
  });

  it('createGraph gives second derivatives: d²/dx² x³ = 6x', () => {
    const x = tensor([1.5, -2], { requiresGrad: true, dtype: 'float64' });
    const [dx] = grad(x.pow(3).sum(), [x], { createGraph: true });
    expect(arr(dx!)).toEqual([3 * 1.5 ** 2, 3 * 4]);
    const [ddx] = grad(dx!.sum(), [x]);
    expect(arr(ddx!)).toEqual([9, -12]);
  });

  it('computes a Hessian-vector product', () => {
    // f(x) = Σ x_i² x_j (i≠j sums folded): use f = (Σx)³, H = 6(Σx)·11ᵀ, Hv = 6(Σx)(Σv)·1
    const x = tensor([0.5, 1, -0.25], { requiresGrad: true, dtype: 'float64' });
    const v = tensor([1, 2, 3], { dtype: 'float64' });
    const [g] = grad(x.sum().pow(3), [x], { createGraph: true });
    const [hv] = grad(g!.mul(v).sum(), [x]);
    const s = 0.5 + 1 - 0.25;
    for (const e of arr(hv!) as number[]) expect(e).toBeCloseTo(6 * s * 6, 12);
  });

  it.each([
    ['tanh', (x: Tensor) => x.tanh().sum()],
    ['sigmoid·exp', (x: Tensor) => x.sigmoid().mul(x.exp()).sum()],
    ['softmax', (x: Tensor) => x.softmax(1).pow(2).sum()],
    ['logSoftmax', (x: Tensor) => x.logSoftmax(0).mul(x).sum()],
    ['gelu', (x: Tensor) => x.gelu().sum()],
    ['div/log', (x: Tensor) => x.abs().add(1).log().div(x.abs().add(2)).sum()],
    ['matmul', (x: Tensor) => x.matmul(x.transpose(0, 1)).tanh().sum()],
    ['layerNorm', (x: Tensor) => nn.functional.layerNorm(x, null, null).pow(3).sum()],
    ['max', (x: Tensor) => x.max(1).pow(2).sum()],
  ])('gradgradcheck: %s', (_, f) => {
    manualSeed(3);
    expect(gradgradcheck(f, [randn([2, 3], { dtype: 'float64' })]).ok).toBe(true);
  });
});

describe('frozen masking', () => {
  it('runs no gradient kernel when nothing requires grad', () => {
    const W = randn([16, 8]);
    const x = randn([4, 8]);
    resetStats();
    const y = x.matmul(W.transpose(0, 1));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(backendStats().kernels).toBe(1);
  });

  it('computes only the gradient that is needed (dx, not dW, for frozen W)', () => {
    const W = randn([16, 8]);
    const x = randn([4, 8], { requiresGrad: true });
    const loss = x.matmul(W.transpose(0, 1)).sum();
    resetStats();
    loss.backward();
    expect(backendStats().byOp.get('matmul')).toBe(1);
    expect(W.grad).toBeNull();
    expect(x.grad!.shape).toEqual([4, 8]);
  });

  it('refuses gradients for int tensors', () => {
    expect(() => tensor([1, 2], { dtype: 'int32', requiresGrad: true })).toThrow(/only float tensors can require gradients, got int32/);
  });
});

describe('memory', () => {
  it('scope disposes intermediates but keeps results, grads and kept tensors', () => {
    const before = getBackend().memory().buffers;
    const w = keep(randn([8, 8], { requiresGrad: true }));
    const out = scope(() => {
      const h = randn([4, 8]).matmul(w).relu();
      const loss = h.sum();
      loss.backward();
      return loss;
    });
    expect(out.isDisposed).toBe(false);
    expect(w.grad!.isDisposed).toBe(false);
    // w, its grad and the returned loss remain.
    expect(getBackend().memory().buffers).toBe(before + 3);
    out.dispose();
    w.grad!.dispose();
    w.dispose();
    expect(getBackend().memory().buffers).toBe(before);
  });

  it('scope works across await', async () => {
    const before = getBackend().memory().buffers;
    const v = await scope(async () => {
      const a = ones([3]).mul(2);
      await Promise.resolve();
      return (await a.add(1).sum().item());
    });
    expect(v).toBe(9);
    expect(getBackend().memory().buffers).toBe(before);
  });

  it('a disposed tensor cannot be used', () => {
    const t = ones([2]);
    t.dispose();
    expect(() => t.add(1)).toThrow(/add: tensor of shape \[2\] was disposed/);
  });

  it('views share storage: disposing a view keeps the base alive', () => {
    const base = tensor([[1, 2], [3, 4]]);
    const v = base.transpose(0, 1);
    v.dispose();
    expect(base.arraySync()).toEqual([[1, 2], [3, 4]]);
  });
});

describe('gradient ownership', () => {
  it('each leaf owns its .grad, apart from the output gradient and from other leaves', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    const g = tensor([1, 1]);
    a.add(b).backward(g);
    expect(a.grad).not.toBe(b.grad);
    expect(a.grad).not.toBe(g);
    g.dispose();
    a.grad!.dispose();
    expect(b.grad!.arraySync()).toEqual([1, 1]);
  });

  it('the implicit gradient of a scalar backward does not leak into .grad', () => {
    const x = tensor(2, { requiresGrad: true });
    x.add(1).backward();
    expect(x.grad!.isDisposed).toBe(false);
    expect(x.grad!.itemSync()).toBe(1);
  });
});

describe('retainGrad', () => {
  it('fills an intermediate tensor .grad, accumulating across backward calls', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const h = x.mul(2).retainGrad();
    const y = h.mul(h).sum(); // dy/dh = 2h = 4x
    y.backward(undefined, { retainGraph: true });
    expect(arr(h.grad)).toEqual([4, 8, 12]);
    y.backward();
    expect(arr(h.grad)).toEqual([8, 16, 24]);
    expect(arr(x.grad)).toEqual([16, 32, 48]);
  });

  it('leaves intermediates without it, and grad() leaves .grad alone', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const a = x.exp();
    const b = x.exp().retainGrad();
    const y = a.add(b).sum();
    grad(y, [x], { retainGraph: true });
    expect(b.grad).toBeNull();
    y.backward();
    expect(a.grad).toBeNull();
    expect(arr(b.grad)).toEqual([1, 1]);
  });

  it('does nothing on a leaf and refuses a tensor that gets no gradient', () => {
    const x = tensor([1], { requiresGrad: true });
    expect(x.retainGrad()).toBe(x);
    x.mul(3).sum().backward();
    expect(arr(x.grad)).toEqual([3]);
    expect(() => tensor([1]).mul(2).retainGrad()).toThrow(/retainGrad: tensor of shape \[1\] does not require grad/);
  });
});
