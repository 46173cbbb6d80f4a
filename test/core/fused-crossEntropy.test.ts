// Core's fused cross-entropy, on the CPU backend's kernels, against the same backend without
// fused kernels ('cpu-composed'), where core composes it from log-softmax and gather: losses,
// first-order gradients (the backward kernel), second-order ones (the tensor-op backward), every
// option (ignoreIndex, labelSmoothing, reduction, classes on axis 1 of [N, C, d]), and finite differences.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Tensor, backendStats, getBackend, grad, gradcheck, gradgradcheck, manualSeed, nn, noGrad, randn, resetStats, scope, setBackend, tensor,
} from '../../src/index.js';
import type { CrossEntropyOptions } from '../../src/nn/losses.js';
import { expectClose, installComposedCpu } from '../fused.js';

const F = nn.functional;

/** Loss, first-order gradient (no graph) and second-order one of crossEntropy on `backend`. */
function derivatives(x0: number[], shape: number[], t0: number[], tShape: number[], opts: CrossEntropyOptions, backend: string, dtype: 'float32' | 'float64') {
  const leaf = tensor(x0, { dtype, backend, requiresGrad: true }).reshape(shape);
  const target = tensor(t0, { dtype: 'int32', backend }).reshape(tShape);
  const loss = F.crossEntropy(leaf.mul(1), target, opts);
  const u = tensor(Array.from({ length: loss.size }, (_, i) => 1 + Math.cos(i)), { dtype, backend }).reshape(loss.shape);
  const [g1] = grad(loss.mul(u).sum(), [leaf], { retainGraph: true });
  const [g] = grad(F.crossEntropy(leaf.mul(1), target, opts).mul(u).sum(), [leaf], { createGraph: true });
  const [gg] = grad(g!.pow(2).sum(), [leaf]);
  return { loss: loss.dataSync(), g1: g1!.dataSync(), gg: gg!.dataSync() };
}

const cases: { name: string; shape: number[]; tShape: number[]; targets: number[]; opts: CrossEntropyOptions }[] = [
  { name: '[N, C], mean', shape: [5, 7], tShape: [5], targets: [0, 6, 3, 3, 1], opts: {} },
  { name: '[N, C], ignoreIndex and labelSmoothing, sum', shape: [5, 7], tShape: [5], targets: [0, -100, 3, 2, -100], opts: { labelSmoothing: 0.2, reduction: 'sum' } },
  { name: '[N, C, d], ignoreIndex 2, none', shape: [2, 4, 3], tShape: [2, 3], targets: [2, 0, 3, 1, 2, 2], opts: { ignoreIndex: 2, reduction: 'none', labelSmoothing: 0.1 } },
  { name: '[C] and a 0-d target', shape: [4], tShape: [], targets: [1], opts: {} },
];

describe('fused crossEntropy', () => {
  beforeAll(async () => {
    installComposedCpu();
    await setBackend('cpu');
  });

  for (const c of cases) {
    it(`${c.name}: the composed losses and gradients (float64 and float32)`, () => {
      manualSeed(11);
      const x0 = Array.from(randn([c.shape.reduce((p, d) => p * d, 1)]).mul(3).dataSync());
      for (const [dtype, tol] of [['float64', 1e-11], ['float32', 2e-5]] as const) {
        const fused = derivatives(x0, c.shape, c.targets, c.tShape, c.opts, 'cpu', dtype);
        const composed = derivatives(x0, c.shape, c.targets, c.tShape, c.opts, 'cpu-composed', dtype);
        expectClose(fused.loss, composed.loss, tol);
        expectClose(fused.g1, composed.g1, tol);
        expectClose(fused.gg, composed.gg, tol * 100);
      }
    });
  }

  it('runs one kernel forward and one backward', () => {
    const x = randn([6, 5], { requiresGrad: true });
    resetStats('cpu');
    F.crossEntropy(x, tensor([0, 1, 2, 3, 4, 0], { dtype: 'int32' })).backward();
    expect(backendStats('cpu').byOp.get('fused:crossEntropy')).toBe(1);
    expect(backendStats('cpu').byOp.get('fused:crossEntropyBackward')).toBe(1);
    expect(backendStats('cpu').byOp.get('fused:softmax') ?? 0).toBe(0);
  });

  it('gradcheck and gradgradcheck pass through the fused kernels', () => {
    manualSeed(12);
    const x = randn([4, 5], { dtype: 'float64' });
    const t = tensor([1, -100, 4, 0], { dtype: 'int32' });
    const ce = (s: Tensor) => F.crossEntropy(s, t, { labelSmoothing: 0.15 });
    expect(gradcheck(ce, [x]).ok).toBe(true);
    expect(gradgradcheck(ce, [x]).ok).toBe(true);
  });

  it('keeps large logits finite, and frees its saved log-softmax', () => {
    const loss = F.crossEntropy(tensor([[1000, 1001, 999]]), tensor([1], { dtype: 'int32' })).itemSync();
    const e = [Math.exp(-1), 1, Math.exp(-2)];
    expect(loss).toBeCloseTo(Math.log(e[0]! + e[1]! + e[2]!), 5);
    const x = randn([8, 16], { requiresGrad: true });
    const t = tensor([0, 1, 2, 3, 4, 5, 6, 7], { dtype: 'int32' });
    const before = getBackend().memory().buffers;
    noGrad(() => scope(() => void F.crossEntropy(x, t)));
    expect(getBackend().memory().buffers).toBe(before);
    scope(() => F.crossEntropy(x, t).backward());
    expect(getBackend().memory().buffers).toBe(before + 1); // x.grad
  });
});
