import { describe, expect, it } from 'vitest';
import { arange, full, manualSeed, nn, ones, rand, randn, tensor, zeros } from '../../src/index.js';
import { expectTimersRunDuringReads } from '../eventLoop.js';

describe('creation', () => {
  it('infers shapes from nested arrays and takes typed arrays with a shape', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.arraySync()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const i = tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] });
    expect(i.dtype).toBe('int32');
    expect(i.arraySync()).toEqual([[1, 2], [3, 4]]);
    expect(tensor(7).shape).toEqual([]);
    expect(tensor(7).itemSync()).toBe(7);
  });

  it('reads asynchronously as well', async () => {
    const t = tensor([[1, 2], [3, 4]], { dtype: 'float64' });
    expect(await t.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(Array.from(await t.data())).toEqual([1, 2, 3, 4]);
    expect(await t.sum().item()).toBe(10);
  });

  it('lets the event loop turn while a loop awaits reads', async () => {
    const x = randn([64, 64]);
    await expectTimersRunDuringReads(() => x.matmul(x).sum());
  });

  it('fills and ranges', () => {
    expect(zeros([2]).arraySync()).toEqual([0, 0]);
    expect(ones([1, 2]).arraySync()).toEqual([[1, 1]]);
    expect(full([2], 0.5).arraySync()).toEqual([0.5, 0.5]);
    expect(arange(4).arraySync()).toEqual([0, 1, 2, 3]);
    expect(arange(1, 7, 2, { dtype: 'int32' }).arraySync()).toEqual([1, 3, 5]);
  });

  it('manualSeed makes random draws repeatable', () => {
    manualSeed(42);
    const a = randn([5]).arraySync();
    const u = rand([5]).arraySync() as number[];
    manualSeed(42);
    expect(randn([5]).arraySync()).toEqual(a);
    expect(rand([5]).arraySync()).toEqual(u);
    expect(u.every((v) => v >= 0 && v < 1)).toBe(true);
  });

  it('randn has roughly unit variance', () => {
    manualSeed(1);
    const v = randn([20000], { dtype: 'float64' });
    expect(Math.abs(v.mean().itemSync())).toBeLessThan(0.03);
    expect(Math.abs(v.pow(2).mean().itemSync() - 1)).toBeLessThan(0.05);
  });
});

describe('views', () => {
  it('reshape of contiguous data shares storage; of a transpose it copies', () => {
    const t = tensor([[1, 2], [3, 4]]);
    const r = t.reshape([4]);
    expect(r.isContiguous).toBe(true);
    const tr = t.transpose(0, 1);
    expect(tr.isContiguous).toBe(false);
    expect(tr.reshape([4]).arraySync()).toEqual([1, 3, 2, 4]);
  });

  it('expand uses stride 0 and slice an offset', () => {
    const e = tensor([[1], [2]]).expand([2, 3]);
    expect(e.strides).toEqual([1, 0]);
    expect(e.arraySync()).toEqual([[1, 1, 1], [2, 2, 2]]);
    const s = arange(12).reshape([3, 4]).slice([[1, 3], [-2, 4]]);
    expect(s.offset).toBe(6);
    expect(s.arraySync()).toEqual([[6, 7], [10, 11]]);
  });

  it('copy_ writes through to views of the same storage', () => {
    const t = zeros([2, 2]);
    const row = t.slice([[1, 2]]);
    row.copy_(tensor([[5, 6]]));
    expect(t.arraySync()).toEqual([[0, 0], [5, 6]]);
  });
});

describe('dtypes', () => {
  it('int32 arithmetic stays int32; division promotes to float32', () => {
    const a = tensor([7, -7], { dtype: 'int32' });
    expect(a.add(1).dtype).toBe('int32');
    expect(a.mul(2).arraySync()).toEqual([14, -14]);
    expect(a.div(2).dtype).toBe('float32');
    expect(a.div(2).arraySync()).toEqual([3.5, -3.5]);
    expect(a.add(0.5).dtype).toBe('float32');
  });

  it('float64 with float32 promotes to float64; comparisons give int32 masks', () => {
    const a = tensor([1], { dtype: 'float64' }).add(tensor([2]));
    expect(a.dtype).toBe('float64');
    const m = tensor([1, 5]).gt(2);
    expect(m.dtype).toBe('int32');
    expect(m.arraySync()).toEqual([0, 1]);
  });

  it('argmax returns the first maximum as int32', () => {
    const t = tensor([[1, 9, 9], [4, 2, 0]]);
    expect(t.argmax(1).arraySync()).toEqual([1, 0]);
    expect(t.argmax(0, true).arraySync()).toEqual([[1, 0, 0]]);
  });
});

describe('numerics', () => {
  it('softmax, logSoftmax and crossEntropy are stable for large logits', () => {
    const logits = tensor([[1000, 1001, 999], [-1000, -1000, -1000]]);
    const p = logits.softmax(1).arraySync() as number[][];
    const e = [Math.exp(-1), 1, Math.exp(-2)];
    const z = e.reduce((a, b) => a + b, 0);
    p[0]!.forEach((v, i) => expect(v).toBeCloseTo(e[i]! / z, 6));
    p[1]!.forEach((v) => expect(v).toBeCloseTo(1 / 3, 6));
    const ls = logits.logSoftmax(1).arraySync() as number[][];
    expect(ls[0]![1]).toBeCloseTo(-Math.log(z), 5);
    const ce = nn.functional.crossEntropy(logits, tensor([1, 0], { dtype: 'int32' })).itemSync();
    expect(ce).toBeCloseTo((Math.log(z) + Math.log(3)) / 2, 5);
  });

  it('dropout is seeded, scales kept values by 1/(1-p) and is identity in eval', () => {
    const x = ones([1000]);
    manualSeed(7);
    const a = nn.functional.dropout(x, 0.25, true).dataSync();
    manualSeed(7);
    const b = nn.functional.dropout(x, 0.25, true).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    const kept = Array.from(a).filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    expect(Math.abs(kept.length / 1000 - 0.75)).toBeLessThan(0.06);
    expect(nn.functional.dropout(x, 0.25, false)).toBe(x);
  });

  it('gelu matches PyTorch reference values', () => {
    // torch.nn.functional.gelu(torch.tensor([-1., 0.5, 2.])) and approximate='tanh'
    const x = tensor([-1, 0.5, 2], { dtype: 'float64' });
    const exact = x.gelu().dataSync();
    [-0.15865525393145707, 0.34573123063700656, 1.9544997361036416].forEach((v, i) => expect(exact[i]).toBeCloseTo(v, 12));
    const approx = x.gelu({ approximate: 'tanh' }).dataSync();
    [-0.15880800939172324, 0.34571400982514394, 1.9545976940871136].forEach((v, i) => expect(approx[i]).toBeCloseTo(v, 10));
  });
});
