// Core's fused-softmax path, on the CPU backend's fused kernel (float64 runs its JavaScript
// kernel), against the same backend without fused kernels, installed as 'cpu-composed', on which
// core composes softmax from primitives.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Tensor, backendStats, grad, gradcheck, gradgradcheck, manualSeed, randn, resetStats, setBackend, tensor, zeros,
} from '../../src/index.js';
import { installComposedCpu } from '../fused.js';

const ops = {
  softmax: (x: Tensor, axis: number) => x.softmax(axis),
  logSoftmax: (x: Tensor, axis: number) => x.logSoftmax(axis),
};

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-12): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Object.is(got[i], want[i]) || Math.abs(got[i]! - want[i]!) <= tol)) expect.fail(`element ${i}: got ${got[i]}, want ${want[i]}`);
  }
}

/** Forward, first- and second-order gradients of Σ w·op(x) on one backend. */
function derivatives(op: (x: Tensor, axis: number) => Tensor, data: Float64Array, shape: number[], axis: number, transpose: boolean, backend: string) {
  const leaf = tensor(Array.from(data), { dtype: 'float64', backend, requiresGrad: true }).reshape(shape);
  const x = transpose ? leaf.transpose(0, 1) : leaf;
  const y = op(x, axis);
  const w = tensor(Array.from({ length: y.size }, (_, i) => Math.cos(i)), { dtype: 'float64', backend }).reshape(y.shape);
  const [g] = grad(y.mul(w).sum(), [leaf], { createGraph: true });
  const [gg] = grad(g!.pow(2).sum(), [leaf]);
  return { y: y.dataSync(), g: g!.dataSync(), gg: gg!.dataSync(), op: y.gradFn?.op };
}

describe('fused softmax', () => {
  beforeAll(async () => {
    installComposedCpu();
    await setBackend('cpu');
  });

  for (const [name, op] of Object.entries(ops)) {
    it(`${name}: one fused kernel forward, and the composed ops' values and gradients (first and second order)`, () => {
      manualSeed(7);
      const data = randn([3, 4], { dtype: 'float64' }).mul(3).dataSync() as Float64Array;
      for (const [axis, transpose] of [[1, false], [0, false], [-1, true]] as const) {
        resetStats('cpu');
        const x = tensor(Array.from(data), { dtype: 'float64', requiresGrad: true }).reshape([3, 4]);
        op(transpose ? x.transpose(0, 1) : x, axis);
        expect(backendStats('cpu').kernels).toBe(1);
        expect(backendStats('cpu').byOp.get('fused:softmax')).toBe(1);

        const fused = derivatives(op, data, [3, 4], axis, transpose, 'cpu');
        const composed = derivatives(op, data, [3, 4], axis, transpose, 'cpu-composed');
        expect(fused.op).toBe(name);
        expect(composed.op).not.toBe(name);
        expectClose(fused.y, composed.y);
        expectClose(fused.g, composed.g);
        expectClose(fused.gg, composed.gg, 1e-10);
      }
    });

    it(`${name}: gradcheck and gradgradcheck pass through the fused kernel`, () => {
      manualSeed(8);
      const x = randn([2, 3, 4], { dtype: 'float64' });
      resetStats('cpu');
      expect(gradcheck((t) => op(t, 1), [x]).ok).toBe(true);
      expect(gradgradcheck((t) => op(t, 1), [x]).ok).toBe(true);
      expect(gradgradcheck((t) => op(t.transpose(0, 2), 0).pow(2), [x]).ok).toBe(true);
      expect(backendStats('cpu').byOp.get('fused:softmax')).toBeGreaterThan(0);
      expect(backendStats('cpu').byOp.get('reduce:max') ?? 0).toBe(0);
    });
  }

  it('keeps large logits finite', () => {
    const y = tensor([[1000, 1001, 999]], { dtype: 'float64' }).softmax(1).dataSync();
    const e = [Math.exp(-1), 1, Math.exp(-2)], s = e[0]! + e[1]! + e[2]!;
    expectClose(y, e.map((v) => v / s));
  });

  it('refuses int tensors and passes empty ones through without the kernel (as PyTorch)', () => {
    resetStats('cpu');
    expect(() => tensor([1, 2], { dtype: 'int32' }).softmax(0)).toThrow(/^softmax: needs a float tensor/);
    expect(zeros([2, 0]).logSoftmax(1).shape).toEqual([2, 0]);
    expect(backendStats('cpu').byOp.get('fused:softmax') ?? 0).toBe(0);
  });
});
