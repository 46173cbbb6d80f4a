import { check, fmt } from '../core/errors.js';
import { intConstant } from '../core/ops/constants.js';
import { stack } from '../core/ops/join.js';
import { type Generator, defaultGenerator } from '../core/random.js';
import { backendOf } from '../core/seams.js';
import type { Tensor } from '../core/tensor.js';

/**
 * What a DataLoader reads: `length` samples, each a list of tensors (features, label...).
 * `rows` fetches many samples at once, already batched along a new first dim; without it the
 * loader stacks `get(i)`.
 */
export interface Dataset {
  readonly length: number;
  /** The tensors of sample `index`. */
  get(index: number): Tensor[];
  /** The samples at `indices`, each tensor stacked along a new first dim. */
  rows?(indices: readonly number[]): Tensor[];
}

function checkIndex(op: string, i: number, n: number): void {
  check(Number.isInteger(i) && i >= 0 && i < n, op, () => `index ${i} is out of range for a dataset of ${n} samples`);
}

/**
 * Samples are the rows of tensors that share their first dim (PyTorch's TensorDataset).
 *
 * @example
 * const ds = new data.TensorDataset(x, y); ds.get(0); // [x[0], y[0]]
 */
export class TensorDataset implements Dataset {
  readonly tensors: readonly Tensor[];
  readonly length: number;

  constructor(...tensors: Tensor[]) {
    check(tensors.length > 0, 'TensorDataset', () => 'needs at least one tensor');
    check(tensors.every((t) => t.ndim > 0), 'TensorDataset', () => 'every tensor needs a first (sample) dim; 0-d tensors have none');
    const n = tensors[0]!.shape[0]!;
    check(tensors.every((t) => t.shape[0] === n), 'TensorDataset', () =>
      `tensors must share their first dim, got shapes ${tensors.map((t) => fmt(t.shape)).join(', ')}`);
    this.tensors = tensors;
    this.length = n;
  }

  /** Row `index` of every tensor. */
  get(index: number): Tensor[] {
    checkIndex('TensorDataset.get', index, this.length);
    return this.tensors.map((t) => t.slice([[index, index + 1]]).squeeze(0));
  }

  /** Gathers the rows at `indices` of every tensor, one indexSelect each. */
  rows(indices: readonly number[]): Tensor[] {
    for (const i of indices) checkIndex('TensorDataset.rows', i, this.length);
    return this.tensors.map((t) => t.indexSelect(0, intConstant(backendOf(t), [indices.length], (k) => indices[k]!)));
  }
}

/**
 * The samples of `dataset` at `indices`, in that order (PyTorch's Subset; `randomSplit` makes them).
 *
 * @example
 * new data.Subset(ds, [0, 2, 4]).length; // 3
 */
export class Subset implements Dataset {
  readonly length: number;

  constructor(
    readonly dataset: Dataset,
    readonly indices: readonly number[],
  ) {
    for (const i of indices) checkIndex('Subset', i, dataset.length);
    this.length = indices.length;
  }

  /** Sample `indices[index]` of the underlying dataset. */
  get(index: number): Tensor[] {
    checkIndex('Subset.get', index, this.length);
    return this.dataset.get(this.indices[index]!);
  }

  /** The samples at `indices` of this subset, batched. */
  rows(indices: readonly number[]): Tensor[] {
    for (const i of indices) checkIndex('Subset.rows', i, this.length);
    const inner = indices.map((i) => this.indices[i]!);
    return this.dataset.rows ? this.dataset.rows(inner) : collate(inner.map((i) => this.dataset.get(i)));
  }
}

/** Stacks per-sample tensor lists into batch tensors (PyTorch's default collate). */
export function collate(samples: Tensor[][]): Tensor[] {
  check(samples.length > 0, 'collate', () => 'needs at least one sample');
  const width = samples[0]!.length;
  check(samples.every((s) => s.length === width), 'collate', () => 'samples hold different numbers of tensors');
  return Array.from({ length: width }, (_, j) => stack(samples.map((s) => s[j]!)));
}

/** 0..n-1 in a random order from `generator` (Fisher–Yates). */
export function permutation(n: number, generator: Generator = defaultGenerator): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(generator.nextUniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * Splits a dataset into non-overlapping random subsets of the given sizes, or of fractions
 * adding up to 1 (remainders go round-robin to the first subsets, as in PyTorch); drawn from
 * `generator`, or the global stream that `manualSeed` seeds.
 *
 * @example
 * const [train, val] = data.randomSplit(ds, [0.8, 0.2]);
 */
export function randomSplit(dataset: Dataset, lengths: readonly number[], opts: { generator?: Generator } = {}): Subset[] {
  const n = dataset.length;
  check(Array.isArray(lengths) && lengths.length > 0 && lengths.every((l) => Number.isFinite(l) && l >= 0), 'randomSplit', () =>
    `lengths must be a non-empty list of non-negative numbers, got ${JSON.stringify(lengths)}`);
  let sizes = [...lengths];
  const total = sizes.reduce((p, l) => p + l, 0);
  if (total !== n && Math.abs(total - 1) < 1e-9) {
    sizes = sizes.map((f) => Math.floor(n * f));
    const rest = n - sizes.reduce((p, l) => p + l, 0);
    for (let i = 0; i < rest; i++) sizes[i % sizes.length]!++;
  }
  check(sizes.every(Number.isInteger) && sizes.reduce((p, l) => p + l, 0) === n, 'randomSplit', () =>
    `lengths ${JSON.stringify(lengths)} must be sizes adding up to the dataset's ${n} samples, or fractions adding up to 1`);
  const order = permutation(n, opts.generator);
  let start = 0;
  return sizes.map((len) => new Subset(dataset, order.slice(start, (start += len))));
}
