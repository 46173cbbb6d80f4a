import type { BinaryOp, UnaryOp } from '../../core/backend.js';

/**
 * Writes an op in one target language from its operands' expressions. Operands are names (`v0`,
 * `x`) or parenthesised, since a form may use one more than once.
 */
export type Emit<Operands extends string[]> = (...operands: Operands) => string;

/**
 * One table defines every elementwise primitive for every backend, so they cannot disagree:
 * `js` writes the op in JavaScript, used by the CPU and gpu.js backends, `wgsl` the same in WGSL
 * over f32, and `wgslInt` its form over i32 where that differs (float-only math runs in f32 and
 * converts back, as storing into an Int32Array does). Each backend calls the entry with its own
 * operand names.
 * WGSL compilers may turn a compare-and-select into min/max, which drop NaN, so forms that must
 * keep the js column's NaN behaviour test `is_nan` (a bit test the WebGPU prelude defines).
 *
 * @example
 * BINARY.add.js('v0', 'v1'); // 'v0 + v1'
 */
export interface OpDef<Operands extends string[]> {
  js: Emit<Operands>;
  wgsl: Emit<Operands>;
  wgslInt?: Emit<Operands>;
  /** gpu.js's form of `js` where GLSL needs other text (helpers defined in backends/gpujs/codegen.ts). */
  gpujs?: Emit<Operands>;
}

type X = [x: string];

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
/** The tanh GELU's constants: gelu(x) ≈ ½x(1 + tanh(K(x + κx³))). */
export const GELU_K = Math.sqrt(2 / Math.PI);
export const GELU_KAPPA = 0.044715;
type AB = [a: string, b: string];

export const UNARY: Record<UnaryOp, OpDef<X>> = {
  neg: { js: (x) => `-${x}`, wgsl: (x) => `-${x}` },
  exp: { js: (x) => `Math.exp(${x})`, wgsl: (x) => `exp(${x})`, wgslInt: (x) => `i32(exp(f32(${x})))` },
  log: { js: (x) => `Math.log(${x})`, wgsl: (x) => `log(${x})`, wgslInt: (x) => `i32(log(f32(${x})))` },
  sqrt: { js: (x) => `Math.sqrt(${x})`, wgsl: (x) => `sqrt(${x})`, wgslInt: (x) => `i32(sqrt(f32(${x})))` },
  abs: { js: (x) => `Math.abs(${x})`, wgsl: (x) => `abs(${x})` },
  sigmoid: { js: (x) => `1 / (1 + Math.exp(-${x}))`, wgsl: (x) => `1.0 / (1.0 + exp(-${x}))`, wgslInt: (x) => `i32(1.0 / (1.0 + exp(-f32(${x}))))` },
  tanh: { js: (x) => `Math.tanh(${x})`, gpujs: (x) => `tanh32(${x})`, wgsl: (x) => `tanh_safe(${x})`, wgslInt: (x) => `i32(tanh_safe(f32(${x})))` },
  erf: { js: (x) => `erf(${x})`, gpujs: (x) => `erf32(${x})`, wgsl: (x) => `erf_f32(${x})`, wgslInt: (x) => `i32(erf_f32(f32(${x})))` },
  relu: { js: (x) => `${x} > 0 || ${x} !== ${x} ? ${x} : 0`, wgsl: (x) => `select(0.0, ${x}, ${x} > 0.0 || is_nan(${x}))`, wgslInt: (x) => `select(0, ${x}, ${x} > 0)` },
  sign: { js: (x) => `${x} > 0 ? 1 : ${x} < 0 ? -1 : 0`, wgsl: (x) => `select(select(0.0, -1.0, ${x} < 0.0), 1.0, ${x} > 0.0)`, wgslInt: (x) => `sign(${x})` },
  // The GELUs (float only), helpers below and in the WGSL prelude; gpu.js composes erf32/tanh32.
  gelu: { js: (x) => `gelu(${x})`, gpujs: (x) => `0.5 * ${x} * (1.0 + erf32(${x} * ${SQRT1_2}))`, wgsl: (x) => `gelu_f32(${x})` },
  geluGrad: {
    js: (x) => `geluGrad(${x})`, wgsl: (x) => `gelu_grad_f32(${x})`,
    gpujs: (x) => `0.5 * (1.0 + erf32(${x} * ${SQRT1_2})) + Math.max(-40.0, Math.min(${x}, 40.0)) * Math.exp(-0.5 * ${x} * ${x}) * ${INV_SQRT_2PI}`,
  },
  geluTanh: { js: (x) => `geluTanh(${x})`, gpujs: (x) => `0.5 * ${x} * (1.0 + tanh32(${GELU_K} * (${x} + ${GELU_KAPPA} * ${x} * ${x} * ${x})))`, wgsl: (x) => `gelu_tanh_f32(${x})` },
  geluTanhGrad: {
    js: (x) => `geluTanhGrad(${x})`, wgsl: (x) => `gelu_tanh_grad_f32(${x})`,
    gpujs: (x) => {
      const t = `tanh32(${GELU_K} * (${x} + ${GELU_KAPPA} * ${x} * ${x} * ${x}))`;
      return `0.5 * (1.0 + ${t}) + 0.5 * ${x} * (1.0 - ${t} * ${t}) * ${GELU_K} * (1.0 + ${3 * GELU_KAPPA} * ${x} * ${x})`;
    },
  },
};

export const BINARY: Record<BinaryOp, OpDef<AB> & { compare?: true }> = {
  add: { js: (a, b) => `${a} + ${b}`, wgsl: (a, b) => `${a} + ${b}` },
  sub: { js: (a, b) => `${a} - ${b}`, wgsl: (a, b) => `${a} - ${b}` },
  mul: { js: (a, b) => `${a} * ${b}`, wgsl: (a, b) => `${a} * ${b}` },
  div: { js: (a, b) => `${a} / ${b}`, wgsl: (a, b) => `${a} / ${b}`, wgslInt: (a, b) => `select(${a} / ${b}, 0, ${b} == 0)` },
  pow: {
    js: (a, b) => `Math.pow(${a}, ${b})`, gpujs: (a, b) => `powSigned(${a}, ${b}, nan)`,
    wgsl: (a, b) => `pow_signed(${a}, ${b})`, wgslInt: (a, b) => `i32(pow_signed(f32(${a}), f32(${b})))`,
  },
  // A NaN on either side propagates, as in PyTorch (`a + b` is NaN then).
  maximum: {
    js: (a, b) => `${a} > ${b} || ${a} !== ${a} ? ${a} : ${b}`,
    wgsl: (a, b) => `select(select(${b}, ${a}, ${a} > ${b}), ${a} + ${b}, is_nan(${a}) || is_nan(${b}))`, wgslInt: (a, b) => `select(${b}, ${a}, ${a} > ${b})`,
  },
  minimum: {
    js: (a, b) => `${a} < ${b} || ${a} !== ${a} ? ${a} : ${b}`,
    wgsl: (a, b) => `select(select(${b}, ${a}, ${a} < ${b}), ${a} + ${b}, is_nan(${a}) || is_nan(${b}))`, wgslInt: (a, b) => `select(${b}, ${a}, ${a} < ${b})`,
  },
  eq: { js: (a, b) => `${a} === ${b} ? 1 : 0`, wgsl: (a, b) => `select(0, 1, ${a} == ${b})`, compare: true },
  ne: { js: (a, b) => `${a} !== ${b} ? 1 : 0`, wgsl: (a, b) => `select(0, 1, ${a} != ${b})`, compare: true },
  lt: { js: (a, b) => `${a} < ${b} ? 1 : 0`, wgsl: (a, b) => `select(0, 1, ${a} < ${b})`, compare: true },
  le: { js: (a, b) => `${a} <= ${b} ? 1 : 0`, wgsl: (a, b) => `select(0, 1, ${a} <= ${b})`, compare: true },
  gt: { js: (a, b) => `${a} > ${b} ? 1 : 0`, wgsl: (a, b) => `select(0, 1, ${a} > ${b})`, compare: true },
  ge: { js: (a, b) => `${a} >= ${b} ? 1 : 0`, wgsl: (a, b) => `select(0, 1, ${a} >= ${b})`, compare: true },
};

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * The error function to double precision: a positive power series below |x| = 3 (no
 * cancellation), the continued fraction for erfc above. Exact enough for float64 gradchecks.
 */
export function erf(x: number): number {
  // NaN, and ±0 keeping its sign.
  if (x === 0 || Number.isNaN(x)) return x;
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
    r = 1 - erfc(ax);
  }
  return x < 0 ? -r : r;
}

/** The complementary error function 1 − erf(x), without cancellation for large x. */
export function erfc(x: number): number {
  if (!(x >= 3)) return 1 - erf(x);
  // erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up.
  let f = x;
  for (let k = 60; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/*
 * The GELUs and their derivatives in float64, as the CPU backend's JavaScript path and the
 * reference backend run them. Φ(x) = ½·erfc(−x/√2) keeps the negative tail's relative accuracy
 * (½(1 + erf) cancels to 0 there); the tanh form is written x·σ(2u), the same function without
 * the cancellation of 1 + tanh(u). At ±∞ the forward passes are NaN as in PyTorch (−∞·0), and the
 * derivatives take their limits, 0 and 1 (PyTorch's are NaN there, ∞·0 again).
 */

/** x·Φ(x). */
export function gelu(x: number): number {
  return x * 0.5 * erfc(-x * SQRT1_2);
}

/** gelu'(x) = Φ(x) + x·φ(x). */
export function geluGrad(x: number): number {
  const c = Math.max(-40, Math.min(x, 40));
  return 0.5 * erfc(-x * SQRT1_2) + c * Math.exp(-0.5 * c * c) * INV_SQRT_2PI;
}

/** ½x(1 + tanh(u)), u = K(x + κx³), as x·σ(2u). */
export function geluTanh(x: number): number {
  return x / (1 + Math.exp(-2 * GELU_K * x * (1 + GELU_KAPPA * x * x)));
}

/** The tanh form's derivative, σ + x·σ(1 − σ)·2u′, with σ(1 − σ) = 1/(2 + e + 1/e), e = e^{−2u}. */
export function geluTanhGrad(x: number): number {
  const c = Math.max(-40, Math.min(x, 40));
  const e = Math.exp(-2 * GELU_K * c * (1 + GELU_KAPPA * c * c));
  return 1 / (1 + e) + (2 * GELU_K * c * (1 + 3 * GELU_KAPPA * c * c)) / (2 + e + 1 / e);
}
