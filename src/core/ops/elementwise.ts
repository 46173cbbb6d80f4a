import { record } from '../autograd.js';
import type { BinaryOp, UnaryOp } from '../backend.js';
import { type DType, assertDType, isFloat, isHalf } from '../dtype.js';
import { halfFrozen } from '../halfGuard.js';
import { check } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { broadcastShapes } from '../shape.js';
import { checkArgs } from '../validate.js';
import { defineMethod } from './define.js';
import { binaryOperands, broadcastTo, describe, sameBackend, scalarLike, scalarOn, wrap } from './operands.js';

// Each op: the forward primitive named `out`, then `record` with its backward written in
// differentiable tensor ops (so second-order gradients come for free). A backward returns the
// gradient as broadcast to the output's shape; the engine sums it back to each input's shape.

function unaryPrim(op: UnaryOp, x: Tensor): Tensor {
  const b = x._storageRef(op).backend;
  return wrap(b, b.unary(op, x._view(op)), x.shape, x.dtype);
}

function floatOnly(op: string, x: Tensor): void {
  check(isFloat(x.dtype), op, () => `needs a float tensor, got ${describe(x)}; cast first with t.cast('float32')`);
}

/** Runs a binary primitive on broadcast views; both operands already share a dtype. */
function binaryPrim(op: BinaryOp, a: Tensor, b: Tensor, shape: readonly number[]): Tensor {
  const be = a._backend;
  const av = broadcastTo(a, shape), bv = broadcastTo(b, shape);
  const out = be.binary(op, av._view(op), bv._view(op));
  return wrap(be, out, shape, op === 'eq' || op === 'ne' || op === 'lt' || op === 'le' || op === 'gt' || op === 'ge' ? 'int32' : a.dtype);
}

function toDType(t: Tensor, dtype: DType): Tensor {
  return t.dtype === dtype ? t : cast(t, dtype);
}

/** Prepared float-or-int operands of an arithmetic op (int ÷ int promotes to float32). */
function arith(op: BinaryOp, x: Tensor, y: Tensor | number, forceFloat = false) {
  const o = binaryOperands(op, x, y);
  const dtype = forceFloat && o.dtype === 'int32' ? 'float32' : o.dtype;
  return { a: toDType(o.a, dtype), b: toDType(o.b, dtype), shape: o.shape };
}

export function add(x: Tensor, y: Tensor | number): Tensor {
  const { a, b, shape } = arith('add', x, y);
  const out = binaryPrim('add', a, b, shape);
  return record('add', [a, b], out, [], (g, [na, nb]) => [na ? g : null, nb ? g : null]);
}

export function sub(x: Tensor, y: Tensor | number): Tensor {
  const { a, b, shape } = arith('sub', x, y);
  const out = binaryPrim('sub', a, b, shape);
  return record('sub', [a, b], out, [], (g, [na, nb]) => [na ? g : null, nb ? g.neg() : null]);
}

export function mul(x: Tensor, y: Tensor | number): Tensor {
  const { a, b, shape } = arith('mul', x, y);
  const out = binaryPrim('mul', a, b, shape);
  return record('mul', [a, b], out, [a, b], (g, [na, nb]) => [na ? g.mul(b) : null, nb ? g.mul(a) : null]);
}

export function div(x: Tensor, y: Tensor | number): Tensor {
  const { a, b, shape } = arith('div', x, y, true);
  const out = binaryPrim('div', a, b, shape);
  return record('div', [a, b], out, [a, b], (g, [na, nb]) => [
    na ? g.div(b) : null,
    nb ? g.mul(a).div(b.mul(b)).neg() : null,
  ]);
}

/** `x ** y`; with a tensor exponent the exponent gets a gradient too (log x · x^y). */
export function pow(x: Tensor, y: Tensor | number): Tensor {
  const { a, b, shape } = arith('pow', x, y, true);
  const out = binaryPrim('pow', a, b, shape);
  return record('pow', [a, b], out, [a, b, out], (g, [na, nb]) => [
    // PyTorch's convention: the gradient is 0 where the exponent is 0 (so 0 ** 0 gives 0, not NaN).
    na ? where(b.eq(0), a.zerosLike(), g.mul(b).mul(a.pow(b.sub(1)))) : null,
    // d/dy x^y = x^y log x; PyTorch's convention gives 0 where x == 0.
    nb ? where(a.eq(0), a.zerosLike(), g.mul(out).mul(a.log())) : null,
  ]);
}

/** Weight of `a` in the gradient of max/min: 1 where it wins, ½ on ties (as PyTorch). */
function winnerWeight(win: Tensor, tie: Tensor, dtype: DType): Tensor {
  return cast(win, dtype).add(cast(tie, dtype).mul(0.5));
}

/** Elementwise maximum of two tensors (ties share the gradient). @example maximum(x, 0) */
export function maximum(x: Tensor, y: Tensor | number): Tensor {
  const { a, b, shape } = arith('maximum', x, y);
  const out = binaryPrim('maximum', a, b, shape);
  return record('maximum', [a, b], out, [a, b], (g, [na, nb]) => {
    const w = winnerWeight(a.gt(b), a.eq(b), g.dtype);
    return [na ? g.mul(w) : null, nb ? g.mul(w.neg().add(1)) : null];
  });
}

/** Elementwise minimum of two tensors (ties share the gradient). @example minimum(x, y) */
export function minimum(x: Tensor, y: Tensor | number): Tensor {
  const { a, b, shape } = arith('minimum', x, y);
  const out = binaryPrim('minimum', a, b, shape);
  return record('minimum', [a, b], out, [a, b], (g, [na, nb]) => {
    const w = winnerWeight(a.lt(b), a.eq(b), g.dtype);
    return [na ? g.mul(w) : null, nb ? g.mul(w.neg().add(1)) : null];
  });
}

/** Elementwise comparison; returns an int32 mask of 0/1 with no gradient. */
export function compare(op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge', x: Tensor, y: Tensor | number): Tensor {
  const o = binaryOperands(op, x, y);
  return binaryPrim(op, toDType(o.a, o.dtype), toDType(o.b, o.dtype), o.shape);
}

/**
 * Picks `a` where `cond` is nonzero, else `b`; all three broadcast together.
 *
 * @example
 * where(x.gt(0), x, x.mul(0.01)); // leaky ReLU
 */
export function where(cond: Tensor, x: Tensor | number, y: Tensor | number): Tensor {
  checkArgs('where', [cond, x, y], ['cond:tensor', 'x:operand', 'y:operand']);
  const like = typeof x !== 'number' ? x : typeof y !== 'number' ? y : null;
  const lift = (v: Tensor | number) => (typeof v !== 'number' ? v : like ? scalarLike(v, like, 'where') : scalarOn(cond._backend, v, 'float32'));
  const o = binaryOperands('where', lift(x), lift(y));
  const be = sameBackend('where', cond, o.a, o.b);
  const c = cond.dtype === 'int32' ? cond : cond.ne(0);
  const shape = broadcastShapes('where', c.shape, o.shape);
  const a = toDType(o.a, o.dtype), b = toDType(o.b, o.dtype);
  const view = (t: Tensor) => broadcastTo(t, shape)._view('where');
  const out = wrap(be, be.where(view(c), view(a), view(b)), shape, o.dtype);
  return record('where', [a, b], out, [c], (g, [na, nb]) => {
    const zero = g.zerosLike();
    return [na ? where(c, g, zero) : null, nb ? where(c, zero, g) : null];
  });
}

/** Converts dtype; differentiable between float dtypes. */
export function cast(x: Tensor, dtype: DType): Tensor {
  assertDType(dtype, 'cast');
  if (x.dtype === dtype) return x;
  const be = x._backend;
  check(be.dtypes.includes(dtype), 'cast', () => `backend '${be.name}' does not support ${dtype}; supported: ${be.dtypes.join(', ')}`);
  check(!isHalf(dtype) || !x.requiresGrad, 'cast', () => `${halfFrozen(dtype)}; detach() first to store a frozen copy`);
  const out = wrap(be, be.cast(x._view('cast'), dtype), x.shape, dtype);
  if (!isFloat(dtype) || isHalf(dtype)) return out;
  return record('cast', [x], out, [], (g) => [g.cast(x.dtype)]);
}

/** A tensor of `value`s shaped like `x` (no graph). */
export function fullLike(x: Tensor, value: number): Tensor {
  const b = x._backend;
  return wrap(b, b.fill(x.size, x.dtype, value), x.shape, x.dtype);
}

export function neg(x: Tensor): Tensor {
  const out = unaryPrim('neg', x);
  return record('neg', [x], out, [], (g) => [g.neg()]);
}

export function exp(x: Tensor): Tensor {
  floatOnly('exp', x);
  const out = unaryPrim('exp', x);
  return record('exp', [x], out, [out], (g) => [g.mul(out)]);
}

export function log(x: Tensor): Tensor {
  floatOnly('log', x);
  const out = unaryPrim('log', x);
  return record('log', [x], out, [x], (g) => [g.div(x)]);
}

export function sqrt(x: Tensor): Tensor {
  floatOnly('sqrt', x);
  const out = unaryPrim('sqrt', x);
  return record('sqrt', [x], out, [out], (g) => [g.div(out.mul(2))]);
}

export function abs(x: Tensor): Tensor {
  const out = unaryPrim('abs', x);
  return record('abs', [x], out, [x], (g) => [g.mul(x.sign())]);
}

export function sign(x: Tensor): Tensor {
  const out = unaryPrim('sign', x);
  return record('sign', [x], out, [], (g) => [g.zerosLike()]);
}

export function relu(x: Tensor): Tensor {
  const out = unaryPrim('relu', x);
  return record('relu', [x], out, [x], (g) => [g.mul(x.gt(0).cast(g.dtype))]);
}

export function sigmoid(x: Tensor): Tensor {
  floatOnly('sigmoid', x);
  const out = unaryPrim('sigmoid', x);
  return record('sigmoid', [x], out, [out], (g) => [g.mul(out).mul(out.neg().add(1))]);
}

export function tanh(x: Tensor): Tensor {
  floatOnly('tanh', x);
  const out = unaryPrim('tanh', x);
  return record('tanh', [x], out, [out], (g) => [g.mul(out.mul(out).neg().add(1))]);
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

export function erf(x: Tensor): Tensor {
  floatOnly('erf', x);
  const out = unaryPrim('erf', x);
  return record('erf', [x], out, [x], (g) => [g.mul(x.mul(x).neg().exp().mul(TWO_OVER_SQRT_PI))]);
}

/**
 * GELU, `x·Φ(x)` (erf form), or PyTorch's tanh approximation: one primitive each way, whose
 * derivative is another primitive (one pass over memory each) with its own gradient composed
 * below, so second-order gradients flow.
 */
export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  floatOnly('gelu', x);
  check([undefined, 'none', 'tanh'].includes(opts.approximate), 'gelu', () => `approximate must be 'none' or 'tanh', got ${String(opts.approximate)}`);
  const tanhForm = opts.approximate === 'tanh';
  const out = unaryPrim(tanhForm ? 'geluTanh' : 'gelu', x);
  return record('gelu', [x], out, [x], (g) => [g.mul(geluGrad(x, tanhForm))]);
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_KAPPA = 0.044715;

/** gelu'(x) as one primitive; its gradient is gelu''(x), composed. */
function geluGrad(x: Tensor, tanhForm: boolean): Tensor {
  const out = unaryPrim(tanhForm ? 'geluTanhGrad' : 'geluGrad', x);
  return record('geluGrad', [x], out, [x], (g) => [g.mul(tanhForm ? geluTanhSecond(x) : geluSecond(x))]);
}

/** gelu''(x) = φ(x)·(2 − x²). */
function geluSecond(x: Tensor): Tensor {
  const x2 = x.mul(x);
  return x2.mul(-0.5).exp().mul(INV_SQRT_2PI).mul(x2.neg().add(2));
}

/**
 * The tanh form's second derivative: with f = x·σ(v), v = 2K(x + κx³), v′ = 2K(1 + 3κx²) and
 * v″ = 12Kκx, f″ = σ(1 − σ)·(2v′ + x·v′²·(1 − 2σ) + x·v″).
 */
function geluTanhSecond(x: Tensor): Tensor {
  const x2 = x.mul(x);
  const s = x.mul(x2.mul(GELU_KAPPA).add(1)).mul(2 * GELU_K).sigmoid();
  const v1 = x2.mul(3 * GELU_KAPPA).add(1).mul(2 * GELU_K);
  const inner = v1.mul(2).add(x.mul(v1.mul(v1)).mul(s.mul(-2).add(1))).add(x2.mul(12 * GELU_K * GELU_KAPPA));
  return s.mul(s.neg().add(1)).mul(inner);
}

declare module '../tensor.js' {
  interface Tensor {
    /** Elementwise `this + other`, broadcasting. @example x.add(1) */
    add(other: Tensor | number): Tensor;
    /** Elementwise `this − other`, broadcasting. @example x.sub(y) */
    sub(other: Tensor | number): Tensor;
    /** Elementwise `this · other`, broadcasting. @example x.mul(2) */
    mul(other: Tensor | number): Tensor;
    /** Elementwise `this / other`, broadcasting (int ÷ int gives float32). @example x.div(y) */
    div(other: Tensor | number): Tensor;
    /** Elementwise power; a tensor exponent gets a gradient too. @example x.pow(2) */
    pow(exponent: Tensor | number): Tensor;
    /** Elementwise maximum (ties share the gradient). @example x.maximum(0) */
    maximum(other: Tensor | number): Tensor;
    /** Elementwise minimum (ties share the gradient). @example x.minimum(y) */
    minimum(other: Tensor | number): Tensor;
    /** int32 1 where equal. @example x.eq(0) */
    eq(other: Tensor | number): Tensor;
    /** int32 1 where not equal. @example x.ne(0) */
    ne(other: Tensor | number): Tensor;
    /** int32 1 where less. @example x.lt(y) */
    lt(other: Tensor | number): Tensor;
    /** int32 1 where less or equal. @example x.le(y) */
    le(other: Tensor | number): Tensor;
    /** int32 1 where greater. @example x.gt(0) */
    gt(other: Tensor | number): Tensor;
    /** int32 1 where greater or equal. @example x.ge(0) */
    ge(other: Tensor | number): Tensor;
    /** Negation, −x. @example x.neg() */
    neg(): Tensor;
    /** The exponential, eˣ. @example x.exp() */
    exp(): Tensor;
    /** Natural logarithm. @example x.log() */
    log(): Tensor;
    /** Square root. @example x.sqrt() */
    sqrt(): Tensor;
    /** Absolute value, |x|. @example x.abs() */
    abs(): Tensor;
    /** −1, 0 or 1 by sign; zero gradient. @example x.sign() */
    sign(): Tensor;
    /** max(x, 0). @example x.relu() */
    relu(): Tensor;
    /** 1 / (1 + e⁻ˣ). @example x.sigmoid() */
    sigmoid(): Tensor;
    /** Hyperbolic tangent. @example x.tanh() */
    tanh(): Tensor;
    /** The error function. @example x.erf() */
    erf(): Tensor;
    /** GELU: exact erf form by default, `{ approximate: 'tanh' }` as in PyTorch. @example x.gelu({ approximate: 'tanh' }) */
    gelu(opts?: { approximate?: 'none' | 'tanh' }): Tensor;
    /**
     * Converts to another dtype; differentiable between float32 and float64. A cast to float16 or
     * bfloat16 rounds to nearest-even and gives frozen storage (no gradient).
     * @example x.cast('float64')
     */
    cast(dtype: DType): Tensor;
    /** `cast('float32')` (PyTorch's `float()`): how a float16/bfloat16 tensor reaches the other ops. @example w.float() */
    float(): Tensor;
    /** `cast('float16')`, IEEE half precision (PyTorch's `half()`). @example w.half() */
    half(): Tensor;
    /** `cast('bfloat16')` (PyTorch's `bfloat16()`). @example w.bfloat16() */
    bfloat16(): Tensor;
    /** A tensor of ones with this tensor's shape, dtype and backend. @example x.onesLike() */
    onesLike(): Tensor;
    /** A tensor of zeros with this tensor's shape, dtype and backend. @example x.zerosLike() */
    zerosLike(): Tensor;
  }
}

defineMethod('add', ['other:operand'], function (other) { return add(this, other); });
defineMethod('sub', ['other:operand'], function (other) { return sub(this, other); });
defineMethod('mul', ['other:operand'], function (other) { return mul(this, other); });
defineMethod('div', ['other:operand'], function (other) { return div(this, other); });
defineMethod('pow', ['exponent:operand'], function (exponent) { return pow(this, exponent); });
defineMethod('maximum', ['other:operand'], function (other) { return maximum(this, other); });
defineMethod('minimum', ['other:operand'], function (other) { return minimum(this, other); });
defineMethod('eq', ['other:operand'], function (other) { return compare('eq', this, other); });
defineMethod('ne', ['other:operand'], function (other) { return compare('ne', this, other); });
defineMethod('lt', ['other:operand'], function (other) { return compare('lt', this, other); });
defineMethod('le', ['other:operand'], function (other) { return compare('le', this, other); });
defineMethod('gt', ['other:operand'], function (other) { return compare('gt', this, other); });
defineMethod('ge', ['other:operand'], function (other) { return compare('ge', this, other); });
defineMethod('neg', [], function () { return neg(this); });
defineMethod('exp', [], function () { return exp(this); });
defineMethod('log', [], function () { return log(this); });
defineMethod('sqrt', [], function () { return sqrt(this); });
defineMethod('abs', [], function () { return abs(this); });
defineMethod('sign', [], function () { return sign(this); });
defineMethod('relu', [], function () { return relu(this); });
defineMethod('sigmoid', [], function () { return sigmoid(this); });
defineMethod('tanh', [], function () { return tanh(this); });
defineMethod('erf', [], function () { return erf(this); });
defineMethod('gelu', ['opts:object?'], function (opts) { return gelu(this, opts); });
defineMethod('cast', ['dtype:dtype'], function (dtype) { return cast(this, dtype); });
defineMethod('float', [], function () { return cast(this, 'float32'); });
defineMethod('half', [], function () { return cast(this, 'float16'); });
defineMethod('bfloat16', [], function () { return cast(this, 'bfloat16'); });
defineMethod('onesLike', [], function () { return fullLike(this, 1); });
defineMethod('zerosLike', [], function () { return fullLike(this, 0); });
