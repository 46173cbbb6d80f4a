import type { Backend } from '../backend.js';
import { type Nested, tensor } from '../creation.js';
import type { DType } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { wrap } from './operands.js';

/** An int32 constant of `shape` on backend `b`, filled by `f(row-major index)` (masks, positions). */
export function intConstant(b: Backend, shape: readonly number[], f: (i: number) => number): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return wrap(b, b.upload(Int32Array.from({ length: n }, (_, i) => f(i))), shape, 'int32');
}

/** Nested arrays as a tensor of `dtype` on the very backend `like` lives on (so a list meets its tensor there). */
export function beside(data: Nested, like: Tensor, dtype: DType): Tensor {
  const parsed = tensor(data, { dtype, backend: 'cpu' });
  const b = like._backend;
  if (parsed._backend === b) return parsed;
  const out = Tensor._wrap(b, b.upload(parsed.dataSync()), parsed.shape, dtype);
  parsed.dispose();
  return out;
}
