import { check, fmt } from '../errors.js';
import { scope } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { intConstant } from './constants.js';
import { where } from './elementwise.js';
import { defineMethod } from './define.js';

function triangle(op: 'tril' | 'triu', x: Tensor, diagonal: number): Tensor {
  check(x.ndim >= 2, op, () => `needs a tensor of at least 2 dims, got shape ${fmt(x.shape)}`);
  check(Number.isInteger(diagonal), op, () => `diagonal must be an integer, got ${diagonal}`);
  const rows = x.shape[x.ndim - 2]!, cols = x.shape[x.ndim - 1]!;
  // The scope frees the mask (and the zero) at once, or with the graph when backward needs it.
  return scope(() => {
    const keep = intConstant(x._backend, [rows, cols], (k) => {
      const d = (k % cols) - Math.floor(k / cols);
      return Number(op === 'tril' ? d <= diagonal : d >= diagonal);
    });
    return where(keep, x, 0);
  });
}

/**
 * The lower triangle of the last two dims (elements with `col − row ≤ diagonal`), the rest zero.
 *
 * @example
 * ones([3, 3]).tril(); // causal mask
 */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle('tril', x, diagonal);
}

/** The upper triangle of the last two dims (`col − row ≥ diagonal`). @example ones([3, 3]).triu(1) */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle('triu', x, diagonal);
}

declare module '../tensor.js' {
  interface Tensor {
    /** Lower triangle of the last two dims. @example ones([3, 3]).tril() */
    tril(diagonal?: number): Tensor;
    /** Upper triangle of the last two dims. @example ones([3, 3]).triu(1) */
    triu(diagonal?: number): Tensor;
  }
}

defineMethod('tril', ['diagonal:int?'], function (diagonal) { return tril(this, diagonal); });
defineMethod('triu', ['diagonal:int?'], function (diagonal) { return triu(this, diagonal); });
