import { record, noGrad } from '../autograd.js';
import { isFloat } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { where } from './elementwise.js';
import { defineMethod } from './define.js';

// Rounding composed from add/sub: adding 2^p (p = mantissa bits) to |x| < 2^p leaves no bits
// below the units, so the stored sum is |x| rounded half-to-even (PyTorch's rule) on every
// backend; larger floats are already integers. Each step is its own kernel, so no compiler can
// fold it. The sign goes back on last, so round(-0.4) is -0 as in PyTorch.
const MANTISSA = { float32: 2 ** 23, float64: 2 ** 52 } as const;

function roundHalfEven(x: Tensor): Tensor {
  const c = MANTISSA[x.dtype as keyof typeof MANTISSA];
  const a = x.abs();
  return where(a.ge(c), x, a.add(c).sub(c).mul(x.sign()));
}

/** Runs `f` without a graph and records a zero gradient, as PyTorch does for step functions. */
function step(op: string, x: Tensor, f: (x: Tensor) => Tensor): Tensor {
  if (!isFloat(x.dtype)) return x.clone();
  const out = noGrad(() => f(x));
  return record(op, [x], out, [], (g) => [g.zerosLike()]);
}

/** Rounds to the nearest integer, halves to even (`round(2.5) = 2`); zero gradient. @example tensor([0.5, 1.5, -1.7]).round() // [0, 2, -2] */
export function round(x: Tensor): Tensor {
  return step('round', x, roundHalfEven);
}

/** The largest integer ≤ x; zero gradient. @example tensor([1.7, -1.2]).floor() // [1, -2] */
export function floor(x: Tensor): Tensor {
  return step('floor', x, (v) => {
    const r = roundHalfEven(v);
    return r.sub(r.gt(v).cast(v.dtype));
  });
}

/** The smallest integer ≥ x; zero gradient. @example tensor([1.2, -1.7]).ceil() // [2, -1] */
export function ceil(x: Tensor): Tensor {
  return step('ceil', x, (v) => {
    const r = roundHalfEven(v);
    return r.add(r.lt(v).cast(v.dtype));
  });
}

declare module '../tensor.js' {
  interface Tensor {
    /** Largest integer ≤ x; zero gradient. @example tensor([1.5]).floor() // [1] */
    floor(): Tensor;
    /** Smallest integer ≥ x; zero gradient. @example tensor([1.5]).ceil() // [2] */
    ceil(): Tensor;
    /** Nearest integer, halves to even; zero gradient. @example tensor([2.5]).round() // [2] */
    round(): Tensor;
  }
}

defineMethod('floor', [], function () { return floor(this); });
defineMethod('ceil', [], function () { return ceil(this); });
defineMethod('round', [], function () { return round(this); });
