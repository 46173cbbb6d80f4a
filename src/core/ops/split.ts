import { check, fmt } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { defineMethod } from './define.js';

/**
 * Views of consecutive pieces along `axis`: pieces of `size` (the last may be shorter), or of
 * the listed sizes, which must add up to the axis length (PyTorch's `split`).
 *
 * @example
 * arange(5).split(2);      // [0,1] [2,3] [4]
 * arange(5).split([1, 4]); // [0] [1,2,3,4]
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  check(x.ndim > 0, 'split', () => 'cannot split a 0-d tensor');
  const a = normalizeAxis('split', axis, x.ndim);
  const n = x.shape[a]!;
  let list: number[];
  if (typeof sizes === 'number') {
    check(Number.isInteger(sizes) && sizes > 0, 'split', () => `split size must be a positive integer, got ${sizes}`);
    list = Array.from({ length: Math.max(1, Math.ceil(n / sizes)) }, (_, i) => Math.min(sizes, n - i * sizes));
  } else {
    check(Array.isArray(sizes) && sizes.every((s) => Number.isInteger(s) && s >= 0), 'split', () => `sizes must be non-negative integers, got ${JSON.stringify(sizes)}`);
    const total = sizes.reduce((p, s) => p + s, 0);
    check(total === n, 'split', () => `sizes ${fmt(sizes)} add up to ${total}, but axis ${axis} of shape ${fmt(x.shape)} has ${n}`);
    list = [...sizes];
  }
  let start = 0;
  return list.map((len) => {
    const piece = x.slice(x.shape.map((d, i) => (i === a ? [start, start + len] : [0, d]) as [number, number]));
    start += len;
    return piece;
  });
}

/**
 * Splits into `chunks` pieces of ⌈n / chunks⌉ along `axis` (fewer when n is small), as PyTorch's
 * `chunk`.
 *
 * @example
 * randn([6, 4]).chunk(3); // three [2, 4] views
 */
export function chunk(x: Tensor, chunks: number, axis = 0): Tensor[] {
  check(Number.isInteger(chunks) && chunks > 0, 'chunk', () => `chunks must be a positive integer, got ${chunks}`);
  check(x.ndim > 0, 'chunk', () => 'cannot chunk a 0-d tensor');
  const n = x.shape[normalizeAxis('chunk', axis, x.ndim)]!;
  return split(x, Math.max(1, Math.ceil(n / chunks)), axis);
}

declare module '../tensor.js' {
  interface Tensor {
    /** Views of pieces of `size` (or of listed sizes) along `axis`. @example x.split(2) */
    split(sizes: number | readonly number[], axis?: number): Tensor[];
    /** `chunks` near-equal views along `axis`. @example x.chunk(4, -1) */
    chunk(chunks: number, axis?: number): Tensor[];
  }
}

defineMethod('split', ['sizes:axes', 'axis:int?'], function (sizes, axis) { return split(this, sizes, axis); });
defineMethod('chunk', ['chunks:int', 'axis:int?'], function (chunks, axis) { return chunk(this, chunks, axis); });
