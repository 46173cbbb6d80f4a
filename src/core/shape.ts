import { check, fmt } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides for a contiguous tensor of `shape`. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** True when `strides` walk `shape` in row-major order with no gaps (size-1 dims may have any stride). */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** NumPy broadcasting: align trailing dims; each pair must match or one must be 1. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (out[o] === 1) out[o] = d;
      else
        check(d === 1 || d === out[o], op, () =>
          `shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast (dim ${o - rank}: ${out[o]} vs ${d})`,
        );
    }
  }
  return out;
}

/** Errors unless `shape` is a list of non-negative integers. */
export function checkShape(op: string, shape: unknown): asserts shape is number[] {
  check(Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0), op, () =>
    `shape ${Array.isArray(shape) ? fmt(shape) : String(shape)} must be a list of non-negative integers`);
}

/** Normalizes a possibly negative axis for a tensor of rank `rank`. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  check(Number.isInteger(axis) && axis >= -rank && axis < Math.max(rank, 1), op, () =>
    `axis ${axis} is out of range for a tensor of rank ${rank} (valid: ${-rank}..${rank - 1})`,
  );
  return axis < 0 ? axis + rank : axis;
}

/**
 * Normalizes, sorts and de-duplicates axes; `undefined` means every axis. A 0-d tensor accepts
 * axis 0 or -1 (as PyTorch) and has no axes to reduce.
 */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  check(Array.isArray(list), op, () => `axis must be a number or a list of numbers, got ${typeof axes}`);
  if (rank === 0) {
    check(list.every((a) => a === 0 || a === -1), op, () => `axes ${fmt(list)} are out of range for a 0-d tensor (valid: 0 or -1)`);
    return [];
  }
  const norm = list.map((a) => normalizeAxis(op, a, rank));
  check(new Set(norm).size === norm.length, op, () => `axes ${fmt(list)} repeat an axis`);
  return norm.sort((a, b) => a - b);
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
