import { type Backend, backendByName, getBackend } from '../core/backend.js';
import type { StorageArray } from '../core/dtype.js';
import { check } from '../core/errors.js';
import type { Generator } from '../core/random.js';
import { backendOf, storedData, wrapStorage } from '../core/seams.js';
import type { Tensor } from '../core/tensor.js';
import { type Dataset, collate, permutation } from './dataset.js';

/** How a DataLoader batches: size, shuffling, the last short batch and the backend it delivers on. */
export interface DataLoaderOptions {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reorder the samples every epoch, from `generator` or the global stream (`manualSeed`). */
  shuffle?: boolean;
  /** The stream shuffling draws from, as PyTorch's `DataLoader(generator=...)`. */
  generator?: Generator;
  /** Leave out a last batch smaller than batchSize. */
  dropLast?: boolean;
  /** Backend the batches are delivered on; the current backend (at iteration time) by default. */
  backend?: string;
}

/**
 * Batches of a dataset, as PyTorch's DataLoader: each batch is the list of the samples' tensors
 * stacked along a new first dim, on the current backend. Iterate with `for...of` when the dataset
 * lives on a synchronous backend (cpu), or with `for await...of` always; each loop is an epoch
 * (reshuffled with `shuffle`). Batches belong to the caller: dispose them, or loop in `scope()`.
 *
 * @example
 * const loader = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 64, shuffle: true });
 * for (const [xb, yb] of loader) { ... }
 */
export class DataLoader implements Iterable<Tensor[]>, AsyncIterable<Tensor[]> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly backend: string | undefined;
  private readonly generator: Generator | undefined;

  constructor(
    readonly dataset: Dataset,
    opts: DataLoaderOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 1;
    check(Number.isInteger(this.batchSize) && this.batchSize > 0, 'DataLoader', () => `batchSize must be a positive integer, got ${opts.batchSize}`);
    check(dataset && Number.isInteger(dataset.length) && typeof dataset.get === 'function', 'DataLoader', () =>
      'dataset must have a length and get(i) (a data.TensorDataset, a data.Subset, or your own)');
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    this.backend = opts.backend;
    this.generator = opts.generator;
    if (opts.backend) backendByName(opts.backend);
  }

  /** Batches per epoch (PyTorch's `len(loader)`). */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample indices of each batch of one epoch. */
  private batches(): number[][] {
    const order = this.shuffle ? permutation(this.dataset.length, this.generator) : Array.from({ length: this.dataset.length }, (_, i) => i);
    return Array.from({ length: this.length }, (_, b) => order.slice(b * this.batchSize, (b + 1) * this.batchSize));
  }

  private fetch(indices: number[]): Tensor[] {
    return this.dataset.rows ? this.dataset.rows(indices) : collate(indices.map((i) => this.dataset.get(i)));
  }

  private target(): Backend {
    return this.backend ? backendByName(this.backend) : getBackend();
  }

  /** One epoch of batches, synchronously (the dataset must be on a synchronous backend). */
  *[Symbol.iterator](): Iterator<Tensor[]> {
    for (const indices of this.batches()) {
      const target = this.target();
      yield this.fetch(indices).map((t) => {
        if (backendOf(t) === target) return t;
        check(backendOf(t).readSync, 'DataLoader', () =>
          `the dataset is on '${t.backend}', which is asynchronous, so batches for '${target.name}' need for await (const batch of loader)`);
        return moved(t, target, t.dataSync());
      });
    }
  }

  /** One epoch of batches, reading from any backend. */
  async *[Symbol.asyncIterator](): AsyncIterator<Tensor[]> {
    for (const indices of this.batches()) {
      const target = this.target();
      const batch = this.fetch(indices);
      yield await Promise.all(batch.map(async (t) => (backendOf(t) === target ? t : moved(t, target, await storedData(t)))));
    }
  }
}

/** `values` (t's data as stored) uploaded to `target` as a new tensor; t is disposed. */
function moved(t: Tensor, target: Backend, values: StorageArray): Tensor {
  const out = wrapStorage(target, target.upload(values), t.shape, t.dtype);
  t.dispose();
  return out;
}
