import { record } from '../autograd.js';
import { check, fmt } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertTensor, sameBackend, wrap } from './operands.js';

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
  check(x.dtype === y.dtype, 'matmul', () => `dtypes differ (${x.dtype} and ${y.dtype}); cast one first`);
  const be = sameBackend('matmul', x, y);
  const a = x.ndim === 1 ? x.unsqueeze(0) : x;
  const b = y.ndim === 1 ? y.unsqueeze(1) : y;
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [k2, n] = b.shape.slice(-2) as [number, number];
  check(k === k2, 'matmul', () => `shapes ${fmt(x.shape)} and ${fmt(y.shape)} are incompatible (inner dimensions ${k} and ${k2})`);
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  check(batchA.every((d, i) => { const e = batchB[i - batchA.length + batchB.length]; return e === undefined || d === e || d === 1 || e === 1; }), 'matmul', () =>
    `shapes ${fmt(x.shape)} and ${fmt(y.shape)} are incompatible: batch dims ${fmt(batchA)} and ${fmt(batchB)} cannot be broadcast`);
  const batch = broadcastShapes('matmul', batchA, batchB);
  // Broadcast batch dims are recorded expands, so their backward sums the gradient back.
  const av = a.expand([...batch, m, k]), bv = b.expand([...batch, k, n]);
  let out = wrap(be, be.matmul(av._view('matmul'), bv._view('matmul')), [...batch, m, n], x.dtype);
  out = record('matmul', [av, bv], out, [av, bv], (g, [na, nb]) => [
    na ? g.matmul(bv.transpose(-1, -2)) : null,
    nb ? av.transpose(-1, -2).matmul(g) : null,
  ]);
  if (x.ndim === 1) out = out.squeeze(-2);
  if (y.ndim === 1) out = out.squeeze(-1);
  return out;
}
