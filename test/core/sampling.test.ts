// Sampling: frequencies match the distribution, seeds repeat, generators are separate streams.
import { describe, expect, it } from 'vitest';
import { Generator, TsgradError, bernoulli, full, initBackend, manualSeed, multinomial, rand, randint, randperm, tensor } from '../../src/index.js';

const counts = (values: ArrayLike<number>, k: number) => {
  const c = new Array<number>(k).fill(0);
  for (const v of Array.from(values)) c[v]!++;
  return c;
};

describe('multinomial', () => {
  it('with replacement draws each category in proportion to its weight', () => {
    manualSeed(1);
    const n = 20000;
    const s = multinomial(tensor([1, 6, 3, 0]), n, { replacement: true });
    expect(s.dtype).toBe('int32');
    expect(s.shape).toEqual([n]);
    const c = counts(s.dataSync(), 4).map((x) => x / n);
    // 4 standard deviations of a proportion near 0.5 over 20000 draws is 0.014.
    [0.1, 0.6, 0.3, 0].forEach((p, i) => expect(Math.abs(c[i]! - p)).toBeLessThan(0.015));
  });

  it('without replacement never repeats an index in a row, and the second draw follows w_j / (1 − w_i)', () => {
    manualSeed(2);
    const w = [0.5, 0.3, 0.2];
    const rows = 12000;
    const s = multinomial(tensor(Array.from({ length: rows }, () => w)), 2);
    expect(s.shape).toEqual([rows, 2]);
    const d = s.dataSync();
    const pairs = new Map<string, number>();
    for (let r = 0; r < rows; r++) {
      expect(d[2 * r]).not.toBe(d[2 * r + 1]);
      const key = `${d[2 * r]}${d[2 * r + 1]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        if (i === j) continue;
        const expected = (w[i]! * w[j]!) / (1 - w[i]!);
        expect(Math.abs((pairs.get(`${i}${j}`) ?? 0) / rows - expected)).toBeLessThan(0.02);
      }
    }
    const all = multinomial(tensor([0.2, 0.2, 0.6]), 3).dataSync();
    expect([...all].sort()).toEqual([0, 1, 2]);
  });

  it('repeats for a seed, and a Generator is a stream apart from the global one', () => {
    const p = tensor([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]]);
    manualSeed(7);
    const a = multinomial(p, 5, { replacement: true }).arraySync();
    manualSeed(7);
    const b = multinomial(p, 5, { replacement: true }).arraySync();
    expect(a).toEqual(b);
    const g1 = multinomial(p, 5, { replacement: true, generator: new Generator().manualSeed(3) }).arraySync();
    manualSeed(7);
    const afterSeed = rand([4]).arraySync();
    manualSeed(7);
    const g2 = multinomial(p, 5, { replacement: true, generator: new Generator().manualSeed(3) }).arraySync();
    expect(g2).toEqual(g1);
    expect(rand([4]).arraySync()).toEqual(afterSeed); // the generator's draws left the global stream alone
    const g = new Generator().manualSeed(9);
    const state = g.getState();
    const first = g.nextUniform();
    expect(g.setState(state).nextUniform()).toBe(first);
    expect(g.initialSeed()).toBe(9);
  });

  it('rejects bad weights and impossible requests with TsgradErrors', () => {
    expect(() => multinomial(tensor([0.5, -0.1]), 1)).toThrow(/≥ 0, got -0.1/);
    expect(() => multinomial(tensor([[0, 0], [1, 1]]), 1)).toThrow(/row 0 of the probabilities sums to 0/);
    expect(() => multinomial(tensor([1, 0, 0]), 2)).toThrow(/1 categories with non-zero probability/);
    expect(() => multinomial(tensor([1, 1]), 3)).toThrow(/cannot draw 3 samples from 2 categories/);
    expect(() => multinomial(tensor([1, 1]), 0)).toThrow(TsgradError);
    expect(() => multinomial(tensor([[[1]]]), 1)).toThrow(/1-D or 2-D/);
    expect(() => new Generator().manualSeed(1.5)).toThrow(TsgradError);
  });
});

describe('randint, randperm, bernoulli', () => {
  it('randint covers [low, high) uniformly', () => {
    manualSeed(3);
    const v = randint(5, 9, [8000]).dataSync();
    const c = counts(Array.from(v, (x) => x - 5), 4);
    expect(Math.min(...v)).toBe(5);
    expect(Math.max(...v)).toBe(8);
    for (const x of c) expect(Math.abs(x / 8000 - 0.25)).toBeLessThan(0.025);
    expect(randint(3, [2, 2]).shape).toEqual([2, 2]);
    expect(() => randint(3, 3, [1])).toThrow(/low < high/);
  });

  it('randperm is a permutation, different across draws and equal for a seed', () => {
    manualSeed(4);
    const a = Array.from(randperm(50).dataSync());
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(randperm(50).dataSync())).not.toEqual(a);
    manualSeed(4);
    expect(Array.from(randperm(50).dataSync())).toEqual(a);
  });

  it('bernoulli draws ones with probability p', () => {
    manualSeed(5);
    const p = tensor([0, 0.25, 1]).reshape([1, 3]).expand([6000, 3]).contiguous();
    const s = bernoulli(p);
    expect(s.dtype).toBe('float32');
    const m = s.mean(0).arraySync() as number[];
    expect(m[0]).toBe(0);
    expect(Math.abs(m[1]! - 0.25)).toBeLessThan(0.025);
    expect(m[2]).toBe(1);
    expect(() => bernoulli(full([2], 1.5))).toThrow(/\[0, 1\], got 1.5/);
  });
});

describe('sampling on the webgpu backend', () => {
  it('draws what the cpu backend draws for the same seed, without reading the probabilities back', async (ctx) => {
    try {
      await initBackend('webgpu');
    } catch (e) {
      if (process.env.CI) throw new Error(`the webgpu backend is unavailable in CI: ${(e as Error).message}`);
      console.warn(`\n*** SKIPPING webgpu sampling: ${(e as Error).message}\n`);
      return ctx.skip();
    }
    const w = [[0.2, 0.3, 0.5, 0], [0.9, 0.05, 0.05, 0], [1, 1, 1, 1]];
    const draw = (backend: string) => {
      const p = tensor(w, { backend });
      const g = new Generator().manualSeed(11);
      return [multinomial(p, 3, { generator: g }), multinomial(p, 8, { replacement: true, generator: g }), bernoulli(p.mul(0.5), { generator: g })];
    };
    const gpu = draw('webgpu');
    expect(gpu.map((t) => t.backend)).toEqual(['webgpu', 'webgpu', 'webgpu']);
    const cpu = draw('cpu').map((t) => t.arraySync());
    expect(await Promise.all(gpu.map((t) => t.toArray()))).toEqual(cpu);
  });
});
