import { type Code, type Fn, f32x4, i32, i32x4, v128 } from './emitter.js';
import { type ExpLocals, type Splats, type UnaryBody, expInto, unaryKernel } from './elementwise.js';

/*
 * log, erf, tanh and the GELUs in SIMD on float32, to a few ulp (test/backends/cpu-wasm-special.test.ts
 * measures them against float64 over the whole range). Each computes every branch and picks
 * lanes with a mask, so NaN, ±0 and ±Infinity need no branches: NaN survives every step (pmin
 * and pmax keep their first operand), and the clamps bound what reaches exp.
 *
 * erfc(z) for z ≥ 0 is Numerical Recipes' erfcc: t·exp(−z² + P(t)), t = 2/(2 + z), relative error
 * below 1.2e-7 everywhere. z² would lose float32 digits that the exponent needs (at z = 7 its
 * rounding alone is 4 ulp of the result), so z is split into a 12-bit head h, whose square is
 * exact, and a tail l: −z² = −h² − l·(z + h), and exp takes −h² as its exact part (see expInto).
 */

/** Locals per unrolled copy, named after its exp locals so copies stay independent. */
function local(f: Fn, e: ExpLocals, name: string): string {
  const n = `${e.n}${name}`;
  if (!f.has(n)) f.locals('v128', n);
  return n;
}

const SIGN = 0x80000000 | 0;
/** Clears a float32's low 12 mantissa bits: a head of 12 significant bits. */
const HEAD = 0xfffff000 | 0;

/** Numerical Recipes' erfcc polynomial in t, highest degree first. */
const ERFC_P = [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223];
/** erf(x)/x for |x| < ERF_SMALL as a polynomial in x² (least squares, relative, degree 5), lowest degree first. */
const ERF_Q = [1.1283791643655003, -0.37612591497965403, 0.11282920569812754, -0.026810435441268793, 0.005063949489505261, -0.0006389419879443553];
const ERF_SMALL = 0.84;
/** Cephes' tanhf polynomial for |x| < 0.625: tanh(x) = x + x³·P(x²), highest degree first. */
const TANH_P = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1];
/** Past this |x| every function here has reached its float32 limit (erfc(15/√2) and φ(15) are 0). */
const CLAMP = 15;
const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_KAPPA = 0.044715;

/** Horner's rule: coefficients highest degree first, in the variable `v`. */
function horner(f: Fn, k: Splats, coeffs: readonly number[], v: string): Code {
  let code: Code = k.of(coeffs[0]!);
  for (const c of coeffs.slice(1)) code = [...code, ...f.get(v), ...f32x4.mul, ...k.of(c), ...f32x4.add];
  return code;
}

/**
 * erfc(z) with z = s·a for a ≥ 0 in local `a` and s² = `square` (1 or ½), left on the stack. The
 * exponent's parts −s²h² and −s²·l·(a + h) are left in locals `eh` and `el` for φ (see geluGrad).
 */
function erfcInto(f: Fn, k: Splats, e: ExpLocals, a: string, s: number, square: number): Code {
  const [t, h, el, eh] = ['t', 'h', 'el', 'eh'].map((n) => local(f, e, n)) as [string, string, string, string];
  return [
    ...f.set(t, k.of(2), k.of(2), f.get(a), k.of(s), f32x4.mul, f32x4.add, f32x4.div),
    ...f.set(h, f.get(a), k.ofI32(HEAD), v128.and),
    // el = −s²·(a − h)·(a + h), eh = −s²·h² (exact)
    ...f.set(el, f.get(a), f.get(h), f32x4.sub, f.get(a), f.get(h), f32x4.add, f32x4.mul, k.of(-square), f32x4.mul),
    ...f.set(eh, f.get(h), f.get(h), f32x4.mul, k.of(-square), f32x4.mul),
    ...f.set(h, horner(f, k, ERFC_P, t), f.get(el), f32x4.add),
    ...f.get(eh), ...expInto(f, k, e, f.get(h)),
    ...f.get(t), ...f32x4.mul,
  ];
}

/** Gives the value on the stack (non-negative, or of x's sign already) the local `x`'s sign. */
function withSignOf(f: Fn, k: Splats, x: string): Code {
  return [...f.get(x), ...k.ofI32(SIGN), ...v128.and, ...v128.or];
}

/** erf: x·Q(x²) near 0, 1 − erfc(|x|) beyond, the sign restored. */
const erf: UnaryBody = (f, k, e) => {
  const [x, a, small] = ['x', 'a', 's'].map((n) => local(f, e, n)) as [string, string, string];
  return [
    ...f.set(x),
    ...f.set(a, f.get(x), f32x4.abs, k.of(CLAMP), f32x4.pmin),
    ...f.set(small, f.get(x), f.get(x), f32x4.mul),
    ...f.set(small, horner(f, k, [...ERF_Q].reverse(), small), f.get(x), f32x4.mul),
    ...f.get(small),
    ...k.of(1), ...erfcInto(f, k, e, a, 1, 1), ...f32x4.sub, ...withSignOf(f, k, x),
    ...f.get(x), ...f32x4.abs, ...k.of(ERF_SMALL), ...f32x4.lt,
    ...v128.bitselect,
  ];
};

/** tanh: x + x³·P(x²) near 0, 1 − 2/(e^{2|x|} + 1) beyond, the sign restored. */
const tanh: UnaryBody = (f, k, e) => {
  const [x, z] = ['x', 'z'].map((n) => local(f, e, n)) as [string, string];
  return [
    ...f.set(x),
    ...f.set(z, f.get(x), f.get(x), f32x4.mul),
    ...horner(f, k, TANH_P, z), ...f.get(z), ...f32x4.mul, ...f.get(x), ...f32x4.mul, ...f.get(x), ...f32x4.add,
    ...k.of(1), ...k.of(2),
    ...f.get(x), ...f32x4.abs, ...k.of(20), ...f32x4.pmin, ...k.of(2), ...f32x4.mul, ...expInto(f, k, e),
    ...k.of(1), ...f32x4.add, ...f32x4.div, ...f32x4.sub,
    ...f.get(x), ...f32x4.abs, ...k.of(0.625), ...f32x4.lt,
    // Both branches have the sign of x but for −0, which x + x³·P(x²) turns into +0.
    ...v128.bitselect, ...withSignOf(f, k, x),
  ];
};

/** Φ(x) = ½·erfc(|x|/√2) for x < 0, 1 − ½·erfc(|x|/√2) otherwise; sets locals x and a. */
function phiInto(f: Fn, k: Splats, e: ExpLocals): Code {
  const [x, a, half] = ['x', 'a', 'q'].map((n) => local(f, e, n)) as [string, string, string];
  return [
    ...f.set(x),
    ...f.set(a, f.get(x), f32x4.abs, k.of(CLAMP), f32x4.pmin),
    ...f.set(half, erfcInto(f, k, e, a, Math.SQRT1_2, 0.5), k.of(0.5), f32x4.mul),
    ...f.get(half), ...k.of(1), ...f.get(half), ...f32x4.sub,
    ...f.get(x), ...k.of(0), ...f32x4.lt,
    ...v128.bitselect,
  ];
}

/** x·Φ(x). */
const gelu: UnaryBody = (f, k, e) => [...phiInto(f, k, e), ...f.get(local(f, e, 'x')), ...f32x4.mul];

/** Φ(x) + x·φ(x), φ from the exponent's parts erfcInto left (e^{−x²/2} = e^{eh + el}), x clamped. */
const geluGrad: UnaryBody = (f, k, e) => {
  const [x, eh, el] = ['x', 'eh', 'el'].map((n) => local(f, e, n)) as [string, string, string];
  return [
    ...phiInto(f, k, e),
    ...f.get(eh), ...expInto(f, k, e, f.get(el)), ...k.of(1 / Math.sqrt(2 * Math.PI)), ...f32x4.mul,
    ...f.get(x), ...k.of(-CLAMP), ...f32x4.pmax, ...k.of(CLAMP), ...f32x4.pmin, ...f32x4.mul,
    ...f32x4.add,
  ];
};

/** e^{−2u}, u = K(x + κx³) = Kx(1 + κx²), of the local `x` (or `c`); sets local z = x². */
function expMinus2u(f: Fn, k: Splats, e: ExpLocals, x: string): Code {
  const z = local(f, e, 'z');
  return [
    ...f.set(z, f.get(x), f.get(x), f32x4.mul),
    ...f.get(z), ...k.of(GELU_KAPPA), ...f32x4.mul, ...k.of(1), ...f32x4.add, ...f.get(x), ...f32x4.mul, ...k.of(-2 * GELU_K), ...f32x4.mul,
    ...expInto(f, k, e),
  ];
}

/** x·σ(2u) = x / (1 + e^{−2u}), which has no cancellation where 1 + tanh(u) does. */
const geluTanh: UnaryBody = (f, k, e) => {
  const x = local(f, e, 'x');
  return [...f.set(x), ...f.get(x), ...expMinus2u(f, k, e, x), ...k.of(1), ...f32x4.add, ...f32x4.div];
};

/** σ + x·2u′/(2 + e + 1/e), e = e^{−2u} (σ(1 − σ) without ∞·0), x clamped. */
const geluTanhGrad: UnaryBody = (f, k, e) => {
  const [c, w, z] = ['c', 'w', 'z'].map((n) => local(f, e, n)) as [string, string, string];
  return [
    ...f.set(c, k.of(-CLAMP), f32x4.pmax, k.of(CLAMP), f32x4.pmin),
    ...f.set(w, expMinus2u(f, k, e, c)),
    ...k.of(1), ...k.of(1), ...f.get(w), ...f32x4.add, ...f32x4.div,
    ...f.get(z), ...k.of(3 * GELU_KAPPA), ...f32x4.mul, ...k.of(1), ...f32x4.add, ...f.get(c), ...f32x4.mul, ...k.of(2 * GELU_K), ...f32x4.mul,
    ...k.of(2), ...f.get(w), ...f32x4.add, ...k.of(1), ...f.get(w), ...f32x4.div, ...f32x4.add, ...f32x4.div,
    ...f32x4.add,
  ];
};

/** Cephes' logf polynomial: log(1 + f) = f − f²/2 + f³·P(f) for f in [√½ − 1, √2 − 1], highest degree first. */
const LOG_P = [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1];

/**
 * log: x = m·2^e with m in [√½, √2) from the float's bits (subnormals scaled by 2²³ first),
 * f = m − 1, then Cephes' logf: log x = f − f²/2 + f³·P(f) + e·ln 2, ln 2 in two parts. Negative
 * x gives NaN, ±0 −Infinity, and +Infinity and NaN themselves, as Math.log.
 */
const log: UnaryBody = (f, k, e) => {
  const [x, m, z, ex] = ['x', 'm', 'z', 'e'].map((n) => local(f, e, n)) as [string, string, string, string];
  const tiny = [...f.get(x), ...k.of(2 ** -126), ...f32x4.lt];
  const big = [...f.get(m), ...k.of(Math.SQRT2), ...f32x4.ge];
  return [
    ...f.set(x),
    // m = x's bits, subnormals scaled up; e = the exponent field − 127 (− 23 for those scaled)
    ...f.set(m, f.get(x), k.of(2 ** 23), f32x4.mul, f.get(x), tiny, v128.bitselect),
    ...f.set(ex, f.get(m), i32.const(23), i32x4.shr_s, k.ofI32(127 + 23), k.ofI32(127), tiny, v128.bitselect, i32x4.sub, f32x4.convert_i32x4_s),
    ...f.set(m, f.get(m), k.ofI32(0x7fffff), v128.and, k.ofI32(0x3f800000), v128.or),
    // m ≥ √2: halve it and count one more in e
    ...f.set(ex, f.get(ex), k.of(1), k.of(0), big, v128.bitselect, f32x4.add),
    ...f.set(m, f.get(m), k.of(0.5), f32x4.mul, f.get(m), big, v128.bitselect, k.of(1), f32x4.sub),
    ...f.set(z, f.get(m), f.get(m), f32x4.mul),
    ...f.set(z,
      horner(f, k, LOG_P, m), f.get(m), f32x4.mul, f.get(z), f32x4.mul,
      f.get(ex), k.of(-2.12194440e-4), f32x4.mul, f32x4.add,
      f.get(z), k.of(-0.5), f32x4.mul, f32x4.add,
      f.get(m), f32x4.add,
      f.get(ex), k.of(0.693359375), f32x4.mul, f32x4.add),
    ...f.set(z, k.of(NaN), f.get(z), f.get(x), k.of(0), f32x4.lt, v128.bitselect),
    ...f.set(z, k.of(-Infinity), f.get(z), f.get(x), k.of(0), f32x4.eq, v128.bitselect),
    ...f.get(x), ...f.get(z), ...f.get(x), ...f.get(x), ...f32x4.ne, ...f.get(x), ...k.of(Infinity), ...f32x4.eq, ...v128.or, ...v128.bitselect,
  ];
};

/** The special functions by the shared op table's names. */
const SPECIAL_BODY = { log, erf, tanh, gelu, geluGrad, geluTanh, geluTanhGrad } as const;
export type WasmSpecialOp = keyof typeof SPECIAL_BODY;
export const WASM_SPECIAL: readonly WasmSpecialOp[] = Object.keys(SPECIAL_BODY) as WasmSpecialOp[];

/** One kernel per op (each is a module of its own: see runtime.ts). */
export function specialFunctions(): { fn: Fn; body: Code }[] {
  return WASM_SPECIAL.map((op) => unaryKernel(op, SPECIAL_BODY[op]));
}
