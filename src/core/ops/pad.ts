import { record } from '../autograd.js';
import { check, fmt } from '../errors.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { describeValue } from '../validate.js';
import { assertTensor, wrap } from './operands.js';

/**
 * PyTorch's `F.pad` in constant mode: `pad` lists (before, after) pairs starting from the last
 * dim, `[left, right, top, bottom, ...]`; the new elements hold `value`. Its backward slices the
 * gradient back out.
 *
 * @example
 * pad(x, [1, 1, 2, 0]); // [N, C, H, W] → [N, C, H + 2, W + 2]
 */
export function pad(x: Tensor, pad: readonly number[], value = 0): Tensor {
  assertTensor('pad', x, 'input');
  check(Array.isArray(pad) && pad.length % 2 === 0 && pad.length / 2 <= x.ndim && pad.every((p) => Number.isInteger(p) && p >= 0), 'pad', () =>
    `pad must list non-negative integer (before, after) pairs for at most ${x.ndim} dims of input ${fmt(x.shape)}, got ${Array.isArray(pad) ? fmt(pad) : describeValue(pad)}`);
  check(typeof value === 'number', 'pad', () => `value must be a number, got ${describeValue(value)}`);
  // ranges[i] = [start, end, 1] of the input inside the padded dim i.
  const ranges = x.shape.map((d, i): [number, number, number] => {
    const k = x.ndim - 1 - i;
    const before = pad[2 * k] ?? 0;
    return [before, before + d, 1];
  });
  const shape = x.shape.map((d, i) => d + (pad[2 * (x.ndim - 1 - i)] ?? 0) + (pad[2 * (x.ndim - 1 - i) + 1] ?? 0));
  const b = x._backend;
  const out = wrap(b, b.fill(sizeOf(shape), x.dtype, value), shape, x.dtype);
  if (x.size > 0) {
    const offset = ranges.reduce((o, [s], i) => o + s * out.strides[i]!, 0);
    const window = out._viewAs(x.shape, out.strides, offset);
    b.copy(x._view('pad'), window._view('pad'));
    window.dispose();
  }
  return record('pad', [x], out, [], (g) => [g.slice(ranges)]);
}
