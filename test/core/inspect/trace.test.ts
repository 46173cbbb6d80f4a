import { describe, expect, it } from 'vitest';
import { backendStats, formatTrace, randn, resetStats, tensor, traceBackward } from '../../../src/index.js';

describe('traceBackward', () => {
  it('reports each visited tensor in walk order, with the norm of its gradient', async () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const w = tensor([0.5, -1, 2]);
    const steps = await traceBackward(x.mul(w).add(1).sum());
    expect(steps.map((s) => [s.step, s.op, s.shape])).toEqual([[0, 'sum', []], [1, 'add', [3]], [2, 'mul', [3]], [3, 'leaf', [3]]]);
    // sum sends ones([3]) back (norm √3); the leaf receives w (norm √(0.25 + 1 + 4)).
    expect(steps[0]!.gradNorm).toBe(1);
    expect(steps[1]!.gradNorm).toBeCloseTo(Math.sqrt(3), 6);
    expect(steps[3]!.gradNorm).toBeCloseTo(Math.sqrt(5.25), 6);
    expect(steps[1]!.inputs).toEqual([{ shape: [3], kind: 'op', skipped: null }, { shape: [], kind: 'constant', skipped: 'constant' }]);
    expect(steps[2]!.inputs).toEqual([{ shape: [3], kind: 'leaf', skipped: null }, { shape: [3], kind: 'constant', skipped: 'frozen' }]);
    expect(steps[3]!.inputs).toEqual([]);
    expect(steps.every((s) => s.dtype === 'float32')).toBe(true);
  });

  it('accumulates gradients as backward() does and counts the kernels each step ran', async () => {
    const W = randn([6, 4]);
    const make = (x: ReturnType<typeof randn>) => x.matmul(W.transpose(0, 1)).tanh().sum();
    const x1 = randn([3, 4], { requiresGrad: true });
    const x2 = tensor(await x1.toArray(), { requiresGrad: true });
    make(x1).backward();
    const loss = make(x2);
    resetStats();
    const steps = await traceBackward(loss);
    expect(x2.grad!.arraySync()).toEqual(x1.grad!.arraySync());
    const matmul = steps.find((s) => s.op === 'matmul')!;
    expect(matmul.kernels).toBe(1); // dL/dx only: the frozen weight's product never runs
    expect(matmul.inputs.map((i) => i.skipped)).toEqual([null, 'frozen']);
    const tanh = steps.find((s) => s.op === 'tanh')!;
    expect(tanh.kernels).toBe(4); // g·(1 − y·y): mul, neg, add, mul
    // Per-step counts add up to the pass's kernels, minus one norm (sum, mul, sqrt) per step.
    const total = steps.reduce((s, t) => s + t.kernels, 0);
    expect(backendStats().kernels - 3 * steps.length).toBe(total);
  });

  it('releases the graph unless retainGraph is set', async () => {
    const x = tensor([2], { requiresGrad: true });
    const y = x.mul(x).sum();
    await traceBackward(y, { retainGraph: true });
    await traceBackward(y);
    expect(x.grad!.arraySync()).toEqual([8]);
    await expect(traceBackward(y)).rejects.toThrow(/already released/);
  });

  it('formatTrace prints one line per step', async () => {
    const x = tensor([3, 4], { requiresGrad: true });
    const steps = await traceBackward(x.mul(tensor([1, 1])).sum());
    expect(formatTrace(steps)).toBe(
      [
        '0 sum [] float32 |g|=1 kernels=0 ← op [2]',
        '1 mul [2] float32 |g|=1.414 kernels=1 ← leaf [2], constant [2] (skipped: frozen)',
        '2 leaf [2] float32 |g|=1.414 kernels=0',
      ].join('\n'),
    );
  });
});
