import type { BinaryOp, UnaryOp } from '../core/backend.js';

/**
 * One table defines every elementwise primitive for every backend, so they cannot disagree:
 * `js` is a JavaScript expression (in `x`, or `a` and `b`) used by the CPU and gpu.js backends,
 * `wgsl` the same expression in WGSL over f32.
 */
export const UNARY: Record<UnaryOp, { js: string; wgsl: string }> = {
  neg: { js: '-x', wgsl: '-x' },
  exp: { js: 'Math.exp(x)', wgsl: 'exp(x)' },
  log: { js: 'Math.log(x)', wgsl: 'log(x)' },
  sqrt: { js: 'Math.sqrt(x)', wgsl: 'sqrt(x)' },
  abs: { js: 'Math.abs(x)', wgsl: 'abs(x)' },
  sigmoid: { js: '1 / (1 + Math.exp(-x))', wgsl: '1.0 / (1.0 + exp(-x))' },
  tanh: { js: 'Math.tanh(x)', wgsl: 'tanh_safe(x)' },
  erf: { js: 'erf(x)', wgsl: 'erf_f32(x)' },
  relu: { js: 'x > 0 ? x : 0', wgsl: 'max(x, 0.0)' },
  sign: { js: 'x > 0 ? 1 : x < 0 ? -1 : 0', wgsl: 'sign(x)' },
};

export const BINARY: Record<BinaryOp, { js: string; wgsl: string; compare?: true }> = {
  add: { js: 'a + b', wgsl: 'a + b' },
  sub: { js: 'a - b', wgsl: 'a - b' },
  mul: { js: 'a * b', wgsl: 'a * b' },
  div: { js: 'a / b', wgsl: 'a / b' },
  pow: { js: 'Math.pow(a, b)', wgsl: 'pow_signed(a, b)' },
  maximum: { js: 'a > b ? a : b', wgsl: 'max(a, b)' },
  minimum: { js: 'a < b ? a : b', wgsl: 'min(a, b)' },
  eq: { js: 'a === b ? 1 : 0', wgsl: 'select(0, 1, a == b)', compare: true },
  ne: { js: 'a !== b ? 1 : 0', wgsl: 'select(0, 1, a != b)', compare: true },
  lt: { js: 'a < b ? 1 : 0', wgsl: 'select(0, 1, a < b)', compare: true },
  le: { js: 'a <= b ? 1 : 0', wgsl: 'select(0, 1, a <= b)', compare: true },
  gt: { js: 'a > b ? 1 : 0', wgsl: 'select(0, 1, a > b)', compare: true },
  ge: { js: 'a >= b ? 1 : 0', wgsl: 'select(0, 1, a >= b)', compare: true },
};

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * The error function to double precision: a positive power series below |x| = 3 (no
 * cancellation), the continued fraction for erfc above. Exact enough for float64 gradchecks.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  let r: number;
  if (ax < 3) {
    // erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (1*3*...*(2n+1))
    const x2 = ax * ax;
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  } else {
    // erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up.
    let f = ax;
    for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}
