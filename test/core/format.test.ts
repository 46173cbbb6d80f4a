// Printing follows PyTorch's repr (torch 1.13 printed the expected strings for the same values,
// with `requires_grad=True` spelled requiresGrad=true and dtypes named as here).
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { arange, randn, tensor, zeros } from '../../src/index.js';

describe('tensor printing', () => {
  it('aligns columns and uses four decimals, as PyTorch', () => {
    // torch: tensor([[ 1.5000,  2.0000],\n        [ 3.2500, -4.0000]], requires_grad=True)
    expect(String(tensor([[1.5, 2], [3.25, -4]], { requiresGrad: true }))).toBe('tensor([[ 1.5000,  2.0000],\n        [ 3.2500, -4.0000]], requiresGrad=true)');
  });

  it('integral floats end in a dot; wide ranges switch to scientific notation', () => {
    expect(String(tensor([1, 2]))).toBe('tensor([1., 2.])');
    expect(String(tensor([1e-5, 1e3]))).toBe('tensor([1.0000e-05, 1.0000e+03])');
    expect(String(tensor([NaN, Infinity, 1]))).toBe('tensor([nan, inf,  1.])');
  });

  it('names non-default dtypes and the op that made a tensor', () => {
    expect(String(tensor([1, 2], { dtype: 'int32' }))).toBe('tensor([1, 2], dtype=int32)');
    expect(String(tensor([1], { requiresGrad: true }).mul(2))).toBe('tensor([2.], gradFn=<mul>)');
    expect(String(tensor(3, { dtype: 'float64' }))).toBe('tensor(3., dtype=float64)');
  });

  it('summarises past 1000 elements with the first and last three of each dim', () => {
    // torch: tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03, 1.9990e+03])
    expect(String(arange(2000))).toBe('tensor([0.0000e+00, 1.0000e+00, 2.0000e+00, ..., 1.9970e+03, 1.9980e+03, 1.9990e+03])');
    const lines = String(randn([40, 40])).split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[3]!.trim()).toBe('...,');
  });

  it('prints 3-d tensors with blank lines between blocks, empty and disposed tensors plainly', () => {
    expect(String(zeros([2, 1, 2]))).toBe('tensor([[[0., 0.]],\n\n        [[0., 0.]]])');
    expect(String(zeros([0]))).toBe('tensor([])');
    expect(String(zeros([2, 0]))).toBe('tensor([], shape=[2, 0])');
    const t = zeros([2]);
    t.dispose();
    expect(String(t)).toBe('tensor(<disposed>, shape=[2], dtype=float32)');
  });

  it("is what Node's console.log shows, not the internals", () => {
    const t = tensor([[1, 2]]);
    expect(inspect(t)).toBe(String(t));
    expect(inspect({ w: t })).toContain('tensor([[1., 2.]])');
  });
});
