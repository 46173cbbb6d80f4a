import { record } from '../autograd.js';
import { isHalf } from '../dtype.js';
import { check, fmt } from '../errors.js';
import { halfProduct } from './halfMatmul.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertTensor, broadcastTo, sameBackend, wrap } from './operands.js';
import { defineMethod } from './define.js';
import { isViewable } from './view.js';

/**
 * Matrix product with PyTorch's rules: 1-D operands are promoted and squeezed back, batch dims
 * broadcast. Transposed operands are read through their strides, never copied.
 *
 * @example
 * randn([8, 3, 4]).matmul(randn([4, 5])); // [8, 3, 5]
 */
export function matmul(x: Tensor, y: Tensor): Tensor {
  assertTensor('matmul', y);
  check(x.ndim >= 1 && y.ndim >= 1, 'matmul', () => `needs tensors of rank ≥ 1, got shapes ${fmt(x.shape)} and ${fmt(y.shape)}`);
  // A 16-bit operand (a frozen weight) multiplies a float32 or float64 one, which gives the
  // result's dtype: PyTorch refuses mixed dtypes, but widening the weight first would defeat
  // storing it in 16 bits (see ops/halfMatmul.ts).
  const half = isHalf(x.dtype) || isHalf(y.dtype);
  const dtype = isHalf(x.dtype) ? y.dtype : x.dtype;
  check(half ? !isHalf(dtype) && dtype !== 'int32' : x.dtype === y.dtype, 'matmul', () => half
    ? `cannot multiply ${x.dtype} by ${y.dtype}: a float16/bfloat16 operand needs a float32 (or float64) one, as in a mixed-precision forward; cast with t.float()`
    : `dtypes differ (${x.dtype} and ${y.dtype}); cast one first`);
  const be = sameBackend('matmul', x, y);
  const a = x.ndim === 1 ? x.unsqueeze(0) : x;
  const b = y.ndim === 1 ? y.unsqueeze(1) : y;
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [k2, n] = b.shape.slice(-2) as [number, number];
  check(k === k2, 'matmul', () => `shapes ${fmt(x.shape)} and ${fmt(y.shape)} are incompatible (inner dimensions ${k} and ${k2})`);
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  check(batchA.every((d, i) => { const e = batchB[i - batchA.length + batchB.length]; return e === undefined || d === e || d === 1 || e === 1; }), 'matmul', () =>
    `shapes ${fmt(x.shape)} and ${fmt(y.shape)} are incompatible: batch dims ${fmt(batchA)} and ${fmt(batchB)} cannot be broadcast`);
  let product: Tensor;
  const rows = batchA.reduce((p, d) => p * d, m);
  if (b.ndim === 2 && a.ndim > 2 && isViewable(a, [rows, k])) {
    // A batch of rows times one matrix (a linear layer on [batch, seq, features]) is one product
    // over all the rows, as PyTorch folds it: one large matmul instead of a small one per batch
    // entry, and the weight's gradient one product over all rows instead of one per entry summed.
    product = a.reshape([rows, k]).matmul(b).reshape([...batchA, m, n]);
  } else {
    const batch = broadcastShapes('matmul', batchA, batchB);
    const av = broadcastTo(a, [...batch, m, k]), bv = broadcastTo(b, [...batch, k, n]);
    const storage = half ? halfProduct(be, av, bv, dtype) : be.matmul(av._view('matmul'), bv._view('matmul'));
    const out = wrap(be, storage, [...batch, m, n], dtype);
    // Each product has the batch dims of the output; the engine sums them back to a's and b's.
    product = record('matmul', [a, b], out, [a, b], (g, [na, nb]) => [
      na ? g.matmul(b.transpose(-1, -2)) : null,
      nb ? a.transpose(-1, -2).matmul(g) : null,
    ]);
  }
  if (x.ndim === 1) product = product.squeeze(-2);
  if (y.ndim === 1) product = product.squeeze(-1);
  return product;
}

declare module '../tensor.js' {
  interface Tensor {
    /** Matrix product, batched and broadcast over leading dims (1-D operands as vectors). @example a.matmul(b) */
    matmul(other: Tensor): Tensor;
  }
}

defineMethod('matmul', ['other:tensor'], function (other) { return matmul(this, other); });
