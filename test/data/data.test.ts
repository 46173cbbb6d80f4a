// data: TensorDataset, Subset, randomSplit and DataLoader (batching, seeded shuffling, dropLast,
// delivery on the current backend).
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { installBackend } from '../../src/core/backend.js';
import { backendOf } from '../../src/core/seams.js';
import { Generator, type Tensor, arange, data, manualSeed, setBackend, tensor } from '../../src/index.js';

installBackend('cpu-data', new CpuBackend());

const x = () => arange(10).reshape(10, 1).mul(tensor([[1, -1]]));
const y = () => arange(10, 20, 1, { dtype: 'int32' });
const firstCol = (b: Tensor) => (b.arraySync() as number[][]).map((r) => r[0]!);

describe('TensorDataset and Subset', () => {
  it('samples are rows of every tensor', () => {
    const ds = new data.TensorDataset(x(), y());
    expect(ds.length).toBe(10);
    const [xi, yi] = ds.get(3);
    expect(xi!.arraySync()).toEqual([3, -3]);
    expect(yi!.itemSync()).toBe(13);
    expect(() => ds.get(10)).toThrow(/TensorDataset.get: index 10 is out of range for a dataset of 10 samples/);
    expect(() => new data.TensorDataset(x(), arange(3))).toThrow(/tensors must share their first dim, got shapes \[10,2\], \[3\]/);
  });

  it('randomSplit: sizes or fractions, disjoint, covering, seeded', () => {
    const ds = new data.TensorDataset(y());
    manualSeed(5);
    const [a, b] = data.randomSplit(ds, [0.75, 0.25]);
    expect([a!.length, b!.length]).toEqual([8, 2]);
    expect([...a!.indices, ...b!.indices].sort((p, q) => p - q)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    manualSeed(5);
    expect(data.randomSplit(ds, [8, 2])[0]!.indices).toEqual(a!.indices);
    expect(data.randomSplit(ds, [1 / 3, 1 / 3, 1 / 3]).map((s) => s.length)).toEqual([4, 3, 3]);
    expect(() => data.randomSplit(ds, [5, 4])).toThrow(/randomSplit: lengths \[5,4\] must be sizes adding up to the dataset's 10 samples/);
    expect(a!.get(0)[0]!.itemSync()).toBe(10 + a!.indices[0]!);
  });
});

describe('DataLoader', () => {
  it('batches in order, with a short last batch unless dropLast', () => {
    const ds = new data.TensorDataset(x(), y());
    const loader = new data.DataLoader(ds, { batchSize: 4 });
    expect(loader.length).toBe(3);
    const batches = [...loader];
    expect(batches.map(([xb]) => xb!.shape)).toEqual([[4, 2], [4, 2], [2, 2]]);
    expect(batches[2]![1]!.arraySync()).toEqual([18, 19]);
    const dropped = new data.DataLoader(ds, { batchSize: 4, dropLast: true });
    expect(dropped.length).toBe(2);
    expect([...dropped]).toHaveLength(2);
  });

  it('shuffles every epoch from the seeded generator, covering every sample once', () => {
    const loader = new data.DataLoader(new data.TensorDataset(x(), y()), { batchSize: 3, shuffle: true });
    manualSeed(11);
    const epoch1 = [...loader].flatMap(([xb]) => firstCol(xb!));
    const epoch2 = [...loader].flatMap(([xb]) => firstCol(xb!));
    expect([...epoch1].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(epoch2).not.toEqual(epoch1);
    manualSeed(11);
    expect([...loader].flatMap(([xb]) => firstCol(xb!))).toEqual(epoch1);
    // An own generator: the same order whatever the global stream did in between.
    const own = (seed: number) => new data.DataLoader(loader.dataset, { batchSize: 3, shuffle: true, generator: new Generator().manualSeed(seed) });
    const first = [...own(4)].flatMap(([xb]) => firstCol(xb!));
    manualSeed(99);
    expect([...own(4)].flatMap(([xb]) => firstCol(xb!))).toEqual(first);
    expect(data.randomSplit(loader.dataset, [5, 5], { generator: new Generator().manualSeed(4) })[0]!.indices)
      .toEqual(data.randomSplit(loader.dataset, [5, 5], { generator: new Generator().manualSeed(4) })[0]!.indices);
  });

  it('keeps features and labels of a sample together when shuffled', () => {
    manualSeed(2);
    for (const [xb, yb] of new data.DataLoader(new data.TensorDataset(x(), y()), { batchSize: 4, shuffle: true })) {
      expect((yb!.arraySync() as number[]).map((v) => v - 10)).toEqual(firstCol(xb!));
    }
  });

  it('collates datasets without rows() by stacking, and iterates asynchronously too', async () => {
    const plain: data.Dataset = { length: 3, get: (i) => [tensor([i, i * 10])] };
    const batches: number[][][] = [];
    for await (const [b] of new data.DataLoader(plain, { batchSize: 2 })) batches.push(b!.arraySync() as number[][]);
    expect(batches).toEqual([[[0, 0], [1, 10]], [[2, 20]]]);
  });

  it('delivers batches on the current backend (or the one asked for)', async () => {
    const ds = new data.TensorDataset(x(), y());
    const home = backendOf(ds.tensors[0]!);
    await setBackend('cpu-data');
    try {
      const [xb] = [...new data.DataLoader(ds, { batchSize: 5 })][0]!;
      expect(backendOf(xb!)).not.toBe(home);
      expect(firstCol(xb!)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await setBackend('cpu');
    }
    const [yb] = [...new data.DataLoader(new data.TensorDataset(y()), { batchSize: 2, backend: 'cpu-data' })][0]!;
    expect(backendOf(yb!)).not.toBe(home);
    expect(yb!.dtype).toBe('int32');
    expect(() => new data.DataLoader(ds, { batchSize: 0 })).toThrow(/DataLoader: batchSize must be a positive integer, got 0/);
  });
});
