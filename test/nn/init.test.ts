// nn.init against PyTorch's formulas: the bounds and standard deviations each initializer should
// produce for a weight's fans, checked on the drawn values (min/max for uniform, sample std for
// normal), and PyTorch's gains.
import { describe, expect, it } from 'vitest';
import { Tensor, manualSeed, nn, noGrad, zeros } from '../../src/index.js';

const stats = (t: Tensor) => {
  const v = Array.from(t.dataSync());
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return { min: Math.min(...v), max: Math.max(...v), mean, std };
};

describe('nn.init', () => {
  it('gains as PyTorch defines them', () => {
    expect(nn.init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(nn.init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    // torch.nn.init.calculate_gain('leaky_relu') = 1.4141428569978354
    expect(nn.init.calculateGain('leaky_relu')).toBeCloseTo(1.4141428569978354, 12);
    expect(nn.init.calculateGain('selu')).toBe(0.75);
    expect(() => nn.init.calculateGain('swish' as 'relu')).toThrow(/calculateGain: unknown nonlinearity 'swish'/);
  });

  it('kaiming and xavier bounds follow fan in / fan out, including conv-style kernels', () => {
    manualSeed(1);
    const w = zeros([200, 50]);
    const bound = Math.sqrt(3) * (Math.SQRT2 / Math.sqrt(50));
    const k = stats(nn.init.kaimingUniform_(w, { nonlinearity: 'relu' }));
    expect(k.max).toBeLessThanOrEqual(bound);
    expect(k.min).toBeGreaterThanOrEqual(-bound);
    expect(k.max).toBeGreaterThan(0.98 * bound);
    const out = stats(nn.init.kaimingNormal_(zeros([50, 400]), { mode: 'fan_out', nonlinearity: 'relu' }));
    expect(out.std).toBeCloseTo(Math.SQRT2 / Math.sqrt(50), 2);
    // A [out, in, kh, kw] weight: fans multiply by the kernel size.
    const x = stats(nn.init.xavierUniform_(zeros([16, 8, 3, 3])));
    const xb = Math.sqrt(6 / (8 * 9 + 16 * 9));
    expect(x.max).toBeLessThanOrEqual(xb);
    expect(x.max).toBeGreaterThan(0.95 * xb);
    expect(stats(nn.init.xavierNormal_(zeros([300, 300]), 2)).std).toBeCloseTo(2 * Math.sqrt(2 / 600), 2);
  });

  it('uniform_, normal_, constant_, zeros_, ones_ write in place, seeded, on parameters that require grad', () => {
    const p = new nn.Linear(4, 3).weight;
    manualSeed(7);
    const a = Array.from(nn.init.normal_(p, 1, 0.5).dataSync());
    manualSeed(7);
    expect(Array.from(nn.init.normal_(p, 1, 0.5).dataSync())).toEqual(a);
    expect(nn.init.uniform_(p, 2, 3)).toBe(p);
    expect(stats(p).min).toBeGreaterThanOrEqual(2);
    expect(Array.from(nn.init.constant_(p, 0.25).dataSync()).every((v) => v === 0.25)).toBe(true);
    expect(Array.from(nn.init.ones_(p).dataSync()).every((v) => v === 1)).toBe(true);
    expect(Array.from(nn.init.zeros_(p).dataSync()).every((v) => v === 0)).toBe(true);
    expect(p.requiresGrad).toBe(true);
  });

  it('refuses what it cannot initialise, before writing', () => {
    const v = zeros([3]);
    expect(() => nn.init.kaimingUniform_(v)).toThrow(/kaimingUniform_: fan in and fan out need a tensor of at least 2 dims, got shape \[3\]/);
    expect(() => nn.init.kaimingUniform_(zeros([2, 2]), { mode: 'fanIn' as 'fan_in' })).toThrow(/mode must be 'fan_in' or 'fan_out'/);
    expect(() => nn.init.normal_(zeros([2], { dtype: 'int32' }))).toThrow(/normal_: needs a float tensor/);
    const w = zeros([2, 2], { requiresGrad: true });
    expect(() => nn.init.uniform_(w.mul(2))).toThrow(/copy_: cannot overwrite a tensor produced by a recorded op/);
  });
});

describe('nn.Flatten, nn.Identity and plain arrays', () => {
  it('Flatten keeps the batch dim by default; Identity returns its input', () => {
    const x = zeros([8, 3, 4]);
    expect(new nn.Flatten().forward(x).shape).toEqual([8, 12]);
    expect(new nn.Flatten(0, 1).forward(x).shape).toEqual([24, 4]);
    expect(new nn.Identity().forward(x)).toBe(x);
  });

  it('layers and functional accept nested arrays, as PyTorch accepts lists of tensors', () => {
    const fc = new nn.Linear(2, 1);
    noGrad(() => {
      fc.weight.copy_(zeros([1, 2]).add(1));
      fc.bias!.zero_();
    });
    expect(fc.forward([[1, 2]]).arraySync()).toEqual([[3]]);
    expect(new nn.Embedding(4, 2).forward([1, 3]).shape).toEqual([2, 2]);
    expect(new nn.Sequential(fc, new nn.ReLU()).forward([[1, 2]]).arraySync()).toEqual([[3]]);
    expect(nn.functional.mseLoss([1, 2], [1, 4]).itemSync()).toBe(2);
    expect(() => fc.forward('x' as unknown as number[])).toThrow(/linear: expected a Tensor or nested arrays of numbers, got string/);
  });
});

describe('nn.init.skipInit', () => {
  it('builds layers empty and leaves tensors to the load that follows, then initialises again', () => {
    manualSeed(0);
    const [fc, emb, conv, w] = nn.init.skipInit(() => {
      const t = zeros([3, 3]).add(2);
      nn.init.normal_(t);
      return [new nn.Linear(4, 3), new nn.Embedding(5, 2), new nn.Conv1D(3, 4), t] as const;
    });
    for (const t of [fc.weight, fc.bias!, emb.weight, conv.weight, conv.bias]) expect(Array.from(t.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(w.dataSync())).toEqual(new Array(9).fill(2));
    expect(nn.init.initEnabled()).toBe(true);
    expect(stats(new nn.Linear(64, 64).weight).max).toBeGreaterThan(0);
    expect(() => nn.init.skipInit(() => { throw new Error('boom'); })).toThrow('boom');
    expect(nn.init.initEnabled()).toBe(true);
  });
});
