// A batch of rows times one matrix (a linear layer on [batch, seq, features]) runs as one product
// over all the rows, as PyTorch folds it: one matmul kernel forward, and the matrix's gradient one
// matmul over all rows, with no per-batch products summed afterwards. Values and gradients are
// checked against float64 loops written here, and a layout whose rows cannot be merged keeps the
// batched path.
import { describe, expect, it } from 'vitest';
import { type Tensor, backendStats, randn, resetStats } from '../../src/index.js';

/** out[r, j] = Σ_p x[r, p]·w[p, j] over the rows of x flattened, in float64. */
function reference(x: number[][], w: number[][]): number[][] {
  return x.map((row) => w[0]!.map((_, j) => row.reduce((s, v, p) => s + v * w[p]![j]!, 0)));
}
const rowsOf = (t: Tensor): number[][] => {
  const k = t.shape[t.ndim - 1]!;
  const flat = Array.from(t.contiguous().dataSync() as Float32Array | Float64Array);
  return Array.from({ length: flat.length / k }, (_, i) => flat.slice(i * k, (i + 1) * k));
};
const transpose = (m: number[][]): number[][] => m[0]!.map((_, j) => m.map((r) => r[j]!));

describe('matmul of a batch of rows by one matrix', () => {
  it('is one matmul kernel forward and one for each gradient, with reference values', () => {
    const x = randn([3, 5, 4], { dtype: 'float64', requiresGrad: true });
    const w = randn([4, 6], { dtype: 'float64', requiresGrad: true });
    const g = randn([3, 5, 6], { dtype: 'float64' });
    resetStats();
    const y = x.matmul(w);
    expect(backendStats().byOp.get('matmul')).toBe(1);
    expect(y.shape).toEqual([3, 5, 6]);
    const want = reference(rowsOf(x), rowsOf(w));
    rowsOf(y).forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(want[i]![j]!, 12)));
    resetStats();
    y.backward(g);
    expect(backendStats().byOp.get('matmul')).toBe(2);
    expect(backendStats().byOp.get('reduce:sum') ?? 0).toBe(0);
    // dW = Σ over all rows xᵀ·g; dx = g·Wᵀ
    const dw = reference(transpose(rowsOf(x)), rowsOf(g));
    rowsOf(w.grad!).forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(dw[i]![j]!, 12)));
    const dx = reference(rowsOf(g), transpose(rowsOf(w)));
    rowsOf(x.grad!).forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(dx[i]![j]!, 12)));
    expect(x.grad!.shape).toEqual([3, 5, 4]);
  });

  it('folds a strided batch whose rows still merge (a slice of the batch) and a vector operand', () => {
    const base = randn([6, 5, 4], { dtype: 'float64' });
    const x = base.slice([[1, 4]]);
    const w = randn([4], { dtype: 'float64' });
    resetStats();
    const y = x.matmul(w);
    expect(backendStats().byOp.get('matmul')).toBe(1);
    expect(y.shape).toEqual([3, 5]);
    const want = reference(rowsOf(x), rowsOf(w.reshape([4, 1])));
    expect(Array.from(y.dataSync() as Float64Array).map((v, i) => v - want[i]![0]!).every((d) => Math.abs(d) < 1e-12)).toBe(true);
  });

  it('keeps one product per batch entry when the rows cannot merge (a transposed batch)', () => {
    const x = randn([5, 3, 4], { dtype: 'float64' }).transpose(0, 1);
    const w = randn([4, 2], { dtype: 'float64' });
    const y = x.matmul(w);
    expect(y.shape).toEqual([3, 5, 2]);
    const want = reference(rowsOf(x), rowsOf(w));
    rowsOf(y).forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(want[i]![j]!, 12)));
  });
});
