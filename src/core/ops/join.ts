import { record } from '../autograd.js';
import { check, fmt } from '../errors.js';
import { normalizeAxis, shapesEqual, sizeOf } from '../shape.js';
import { type Nested, tensor } from '../creation.js';
import { Tensor } from '../tensor.js';
import { checkArgs } from '../validate.js';
import { beside } from './constants.js';
import { sameBackend, wrap } from './operands.js';

/**
 * Nested arrays among the parts become tensors beside the first tensor (PyTorch accepts lists
 * there too); anything else is left for `checkArgs` to refuse under the caller's name.
 */
function lift(parts: readonly (Tensor | Nested)[]): Tensor[] {
  const like = parts.find((p): p is Tensor => p instanceof Tensor);
  return parts.map((p) => (!Array.isArray(p) ? p : like ? beside(p, like, like.dtype) : tensor(p))) as Tensor[];
}

/**
 * Joins tensors along an existing axis.
 *
 * @example
 * cat([zeros([2, 3]), ones([1, 3])], 0); // [3, 3]
 */
export function cat(parts: readonly (Tensor | Nested)[], axis = 0): Tensor {
  const tensors = Array.isArray(parts) ? lift(parts) : (parts as Tensor[]);
  checkArgs('cat', [tensors, axis], ['tensors:tensors', 'axis:int']);
  const first = tensors[0]!;
  check(first.ndim > 0, 'cat', () => '0-d tensors cannot be joined along an axis; use stack');
  const a = normalizeAxis('cat', axis, first.ndim);
  const b = sameBackend('cat', ...tensors);
  for (const t of tensors) {
    check(t.ndim === first.ndim && t.shape.every((d, i) => i === a || d === first.shape[i]), 'cat', () =>
      `shapes ${tensors.map((x) => fmt(x.shape)).join(', ')} differ outside axis ${axis}`);
    check(t.dtype === first.dtype, 'cat', () => `dtypes differ (${first.dtype} and ${t.dtype})`);
  }
  const shape = [...first.shape];
  shape[a] = tensors.reduce((s, t) => s + t.shape[a]!, 0);
  const out = wrap(b, b.fill(sizeOf(shape), first.dtype, 0), shape, first.dtype);
  const bounds: [number, number][] = [];
  let start = 0;
  for (const t of tensors) {
    const end = start + t.shape[a]!;
    bounds.push([start, end]);
    const window = out._viewAs(t.shape, out.strides, start * out.strides[a]!);
    b.copy(t._view('cat'), window._view('cat'));
    window.dispose();
    start = end;
  }
  return record('cat', tensors, out, [], (g, needs) =>
    bounds.map((r, i) => (needs[i] ? g.slice(shape.map((d, j) => (j === a ? r : [0, d]))) : null)),
  );
}

/**
 * Joins tensors of one shape along a new axis.
 *
 * @example
 * stack([zeros([3]), ones([3])], 0); // [2, 3]
 */
export function stack(parts: readonly (Tensor | Nested)[], axis = 0): Tensor {
  const tensors = Array.isArray(parts) ? lift(parts) : (parts as Tensor[]);
  checkArgs('stack', [tensors, axis], ['tensors:tensors', 'axis:int']);
  const first = tensors[0]!;
  const a = normalizeAxis('stack', axis, first.ndim + 1);
  sameBackend('stack', ...tensors);
  for (const t of tensors) {
    check(shapesEqual(t.shape, first.shape), 'stack', () => `needs tensors of one shape, got ${tensors.map((x) => fmt(x.shape)).join(', ')}`);
    check(t.dtype === first.dtype, 'stack', () => `dtypes differ (${first.dtype} and ${t.dtype})`);
  }
  return cat(tensors.map((t) => t.unsqueeze(a)), a);
}
