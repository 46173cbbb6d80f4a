export { type Dataset, TensorDataset, Subset, collate, randomSplit } from './dataset.js';
export { DataLoader, type DataLoaderOptions } from './loader.js';
