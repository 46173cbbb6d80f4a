// Core's fused LayerNorm, on the CPU backend's kernels, against the same backend without fused
// kernels ('cpu-composed'), on which core composes LayerNorm from primitives: values, first-order
// gradients (the backward kernel), second-order ones (the tensor-op backward), and finite differences.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Tensor, backendStats, getBackend, grad, noGrad, scope, gradcheck, gradgradcheck, manualSeed, nn, randn, resetStats, setBackend, tensor,
} from '../../src/index.js';
import { expectClose, installComposedCpu } from '../fused.js';

const F = nn.functional;

interface Inputs { x: number[]; w: number[]; b: number[]; shape: number[] }

/** Output, first-order gradients (no graph) and second-order ones of LayerNorm on `backend`. */
function derivatives(v: Inputs, backend: string, dtype: 'float32' | 'float64', affine: boolean, transpose: boolean) {
  const opts = { dtype, backend, requiresGrad: true } as const;
  const leaf = tensor(v.x, opts).reshape(v.shape);
  const x = transpose ? leaf.transpose(0, 1) : leaf;
  const d = x.shape[x.ndim - 1]!;
  const w = affine ? tensor(v.w.slice(0, d), opts) : null, b = affine ? tensor(v.b.slice(0, d), opts) : null;
  const y = F.layerNorm(x, w, b, 1e-5);
  const u = tensor(Array.from({ length: y.size }, (_, i) => Math.cos(i)), { dtype, backend }).reshape(y.shape);
  const leaves = [leaf, ...(w && b ? [w, b] : [])];
  const first = grad(y.mul(u).sum(), leaves, { retainGraph: true }).map((t) => t!.dataSync());
  const [g] = grad(F.layerNorm(x, w, b, 1e-5).mul(u).sum(), [leaf], { createGraph: true });
  const [gg] = grad(g!.pow(2).sum(), leaves.slice(0, 2));
  return { y: y.dataSync(), first, gg: gg!.dataSync(), op: y.gradFn?.op };
}

describe('fused layerNorm', () => {
  beforeAll(async () => {
    installComposedCpu();
    await setBackend('cpu');
  });

  it('one kernel forward and one backward, with the composed values and gradients (float64)', () => {
    manualSeed(3);
    const v = { x: Array.from(randn([60]).mul(3).add(1).dataSync()), w: Array.from(randn([6]).dataSync()), b: Array.from(randn([6]).dataSync()), shape: [2, 5, 6] };
    for (const [affine, transpose] of [[true, false], [false, false], [true, true]] as const) {
      resetStats('cpu');
      const x = tensor(v.x, { dtype: 'float64', requiresGrad: true }).reshape(v.shape);
      F.layerNorm(x, null, null).sum().backward();
      expect(backendStats('cpu').byOp.get('fused:layerNorm')).toBe(1);
      expect(backendStats('cpu').byOp.get('fused:layerNormBackward')).toBe(1);

      const fused = derivatives(v, 'cpu', 'float64', affine, transpose);
      const composed = derivatives(v, 'cpu-composed', 'float64', affine, transpose);
      expect(fused.op).toBe('layerNorm');
      expect(composed.op).not.toBe('layerNorm');
      expectClose(fused.y, composed.y, 1e-12);
      fused.first.forEach((g, i) => expectClose(g, composed.first[i]!, 1e-11));
      expectClose(fused.gg, composed.gg, 1e-9);
    }
  });

  it('float32 (the module-memory path) agrees with the composed ops', () => {
    manualSeed(4);
    const v = { x: Array.from(randn([4 * 8 * 64]).mul(2).dataSync()), w: Array.from(randn([64]).dataSync()), b: Array.from(randn([64]).dataSync()), shape: [4, 8, 64] };
    const fused = derivatives(v, 'cpu', 'float32', true, false);
    const composed = derivatives(v, 'cpu-composed', 'float32', true, false);
    expectClose(fused.y, composed.y, 1e-5);
    fused.first.forEach((g, i) => expectClose(g, composed.first[i]!, 1e-4));
    expectClose(fused.gg, composed.gg, 1e-3);
  });

  it('gradcheck and gradgradcheck pass through the fused kernels', () => {
    manualSeed(5);
    const [x, w, b] = [randn([3, 4, 5], { dtype: 'float64' }), randn([5], { dtype: 'float64' }), randn([5], { dtype: 'float64' })];
    const ln = (t: Tensor, wt: Tensor, bt: Tensor) => F.layerNorm(t, wt, bt, 1e-5);
    expect(gradcheck(ln, [x, w, b]).ok).toBe(true);
    expect(gradgradcheck(ln, [x, w, b]).ok).toBe(true);
    expect(gradgradcheck((t: Tensor) => F.layerNorm(t.transpose(0, 2), null, null).pow(2), [x]).ok).toBe(true);
  });

  it('frees its saved statistics: none outlives the call under noGrad, or the graph after backward', () => {
    const x = randn([8, 16], { requiresGrad: true });
    const before = getBackend().memory().buffers;
    noGrad(() => scope(() => void F.layerNorm(x, null, null)));
    expect(getBackend().memory().buffers).toBe(before);
    scope(() => F.layerNorm(x, null, null).sum().backward());
    expect(getBackend().memory().buffers).toBe(before + 1); // x.grad
  });
});
