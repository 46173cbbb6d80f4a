import { check, fmt } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { intConstant } from './constants.js';

/**
 * One-hot encoding of int32 class indices: `[...indices.shape, numClasses]` of int32 0/1 (cast
 * it for float use). Without `numClasses` it is max + 1, which needs a synchronous backend.
 *
 * @example
 * oneHot(tensor([0, 2], { dtype: 'int32' }), 3); // [[1,0,0],[0,0,1]]
 */
export function oneHot(indices: Tensor, numClasses = -1): Tensor {
  check(indices.dtype === 'int32', 'oneHot', () => `indices must be int32 class indices, got ${indices.dtype}`);
  const b = indices._backend;
  const values = b.readSync ? indices.dataSync() : null;
  if (numClasses === -1) {
    check(values, 'oneHot', () => `backend '${b.name}' is asynchronous, so numClasses cannot be read from the data; pass it: oneHot(indices, numClasses)`);
    numClasses = values.length ? Math.max(...values) + 1 : 0;
  }
  check(Number.isInteger(numClasses) && numClasses >= 0, 'oneHot', () => `numClasses must be a non-negative integer, got ${numClasses}`);
  const bad = values?.find((v) => v < 0 || v >= numClasses);
  check(bad === undefined, 'oneHot', () => `class index ${bad} is out of range for ${numClasses} classes (indices of shape ${fmt(indices.shape)})`);
  return indices.unsqueeze(-1).eq(intConstant(b, [numClasses], (k) => k));
}
