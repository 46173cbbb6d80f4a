// Softmax's fused backward on the CPU backend's WebAssembly path against core's composed form
// y·(g − Σ g·y), first and second order, on row layouts the kernel takes (odd row lengths,
// strided rows) and ones it leaves to the composed form (float64, a non-last axis).
import { describe, expect, it } from 'vitest';
import { type Tensor, getBackend, grad, manualSeed, randn, tensor } from '../../src/index.js';
import { softmaxBackward } from '../../src/core/ops/softmax.js';

/** max |a − b| over all elements. */
function maxDiff(a: Tensor, b: Tensor): number {
  const x = a.dataSync(), y = b.dataSync();
  expect(x.length).toBe(y.length);
  let m = 0;
  x.forEach((v, i) => (m = Math.max(m, Math.abs(v - y[i]!))));
  return m;
}

const composed = (y: Tensor, g: Tensor, axis: number) => y.mul(g.sub(g.mul(y).sum(axis, true)));
/** The backend's kernel itself, null where it leaves the call to the composed form. */
const fused = (y: Tensor, g: Tensor, axis: number) => y._storageRef('test').backend.fused!.softmaxBackward!(y._view('test'), g._view('test'), axis < 0 ? axis + y.ndim : axis);

describe('softmax backward', () => {
  it.each([
    ['[32, 4, 16, 64] along the last axis', [32, 4, 16, 64], -1],
    ['[3, 700, 7] (rows of 7: masked tails)', [3, 700, 7], 2],
    ['[5, 300, 13] along a middle axis (composed)', [5, 300, 13], 1],
  ] as const)('equals the composed form: %s', (_, shape, axis) => {
    expect(getBackend().name).toBe('cpu');
    manualSeed(1);
    const y = randn([...shape]).mul(3).softmax(axis), g = randn([...shape]);
    expect(fused(y, g, axis) === null).toBe(axis === 1 && shape[2] === 13);
    expect(maxDiff(softmaxBackward(y, g, axis), composed(y, g, axis))).toBeLessThan(1e-7);
  });

  it('takes strided rows of g (a slice) and gives the composed result', () => {
    manualSeed(2);
    const y = randn([64, 48]).softmax(-1), big = randn([64, 96]);
    const g = big.slice([[0, 64], [10, 58]]);
    expect(fused(y, g, -1)).not.toBeNull();
    expect(maxDiff(softmaxBackward(y, g, -1), composed(y, g, -1))).toBeLessThan(1e-7);
  });

  it('gives the composed form its second-order gradients, for y and for g', () => {
    manualSeed(3);
    const x = randn([40, 64]).requiresGrad_(), g = randn([40, 64]).requiresGrad_(), v = randn([40, 64]);
    const y = x.softmax(-1);
    const [fx, fg] = grad(softmaxBackward(y, g, -1).mul(v).sum(), [x, g], { retainGraph: true });
    const [cx, cg] = grad(composed(y, g, -1).mul(v).sum(), [x, g]);
    expect(maxDiff(fx!, cx!)).toBeLessThan(1e-6);
    expect(maxDiff(fg!, cg!)).toBeLessThan(1e-6);
  });

  it('passes gradgradcheck through softmax in float64 (the composed path)', async () => {
    const { gradgradcheck } = await import('../../src/index.js');
    const x = tensor([[0.3, -1.2, 2.0], [0.1, 0.5, -0.7]], { dtype: 'float64' });
    expect(gradgradcheck((t) => t.softmax(-1).pow(2).sum(), [x]).ok).toBe(true);
  });
});
