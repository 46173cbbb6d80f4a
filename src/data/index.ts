/**
 * Datasets and batching, as torch.utils.data: TensorDataset, Subset, randomSplit, DataLoader.
 *
 * @example
 * for (const [xb, yb] of new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 32, shuffle: true })) train(xb, yb);
 * @module
 */
export { type Dataset, TensorDataset, Subset, collate, randomSplit } from './dataset.js';
export { DataLoader, type DataLoaderOptions } from './loader.js';
