import { type Code, Fn, f32, f32x4, forLoop, i32, i32x4, v128 } from './emitter.js';

/*
 * Elementwise kernels over float32 arrays in the module's memory, four lanes at a time. Arrays
 * are padded to whole vectors by the caller, so no kernel has a scalar tail.
 */

/** Binary ops with a SIMD instruction whose result matches the JavaScript definition exactly. */
export const WASM_BINARY = { add: f32x4.add, sub: f32x4.sub, mul: f32x4.mul, div: f32x4.div } as const;
export type WasmBinaryOp = keyof typeof WASM_BINARY;

/** How the second operand is read: a vector per step, or one value splatted to every lane. */
export type BinaryForm = 'vv' | 'vs' | 'sv';

/**
 * `<op>_<form>(a, b, out, bytes)`: out[i] = a[i] op b[i] over `bytes` (a multiple of 16), with
 * `vs` reading b[0] for every i and `sv` reading a[0].
 */
function binary(op: WasmBinaryOp, form: BinaryForm): { fn: Fn; body: Code } {
  const f = new Fn(`${op}_${form}`, ['a', 'b', 'out', 'bytes']).locals('i32', 'i').locals('v128', 'sa', 'sb');
  const at = (base: string) => [...f.get(base), ...f.get('i'), ...i32.add];
  const lhs = form === 'sv' ? f.get('sa') : [...at('a'), ...v128.load()];
  const rhs = form === 'vs' ? f.get('sb') : [...at('b'), ...v128.load()];
  const body = [
    ...(form === 'sv' ? f.set('sa', f.get('a'), v128.load32_splat()) : []),
    ...(form === 'vs' ? f.set('sb', f.get('b'), v128.load32_splat()) : []),
    ...forLoop(f, 'i', i32.const(0), f.get('bytes'), 16, [...at('out'), ...lhs, ...rhs, ...WASM_BINARY[op], ...v128.store()]),
  ];
  return { fn: f, body };
}

/**
 * e^x of the f32x4 local `x`, left on the stack, to about 2 ulp, using the v128 locals `n`, `r`
 * and `p` as scratch. x is clamped to [-175, 176] first (NaN
 * stays NaN), so n = round(x·log2 e) lies in [-253, 254]; r = x − n·ln 2 (in two parts, Cody and
 * Waite) lies in ±0.35, where a degree-7 Taylor polynomial is exact to float32; and 2ⁿ is applied
 * as two factors 2^(n>>1)·2^(n−(n>>1)), each a normal float32, so results overflow to Infinity
 * and underflow to 0 as they should.
 */
function expInto(f: Fn, x: string): Code {
  const c = (v: number): Code => [...f32.const(v), ...f32x4.splat];
  const pow2 = (k: Code): Code => [...k, ...i32.const(127), ...i32x4.splat, ...i32x4.add, ...i32.const(23), ...i32x4.shl];
  let poly: Code = c(1 / 5040);
  for (const k of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1]) poly = [...poly, ...f.get('r'), ...f32x4.mul, ...c(k), ...f32x4.add];
  return [
    ...f.set('r', f.get(x), c(-175), f32x4.max, c(176), f32x4.min),
    ...f.set('n', f.get('r'), c(Math.LOG2E), f32x4.mul, f32x4.nearest),
    ...f.set('r', f.get('r'), f.get('n'), c(0.693359375), f32x4.mul, f32x4.sub, f.get('n'), c(-2.12194440e-4), f32x4.mul, f32x4.sub),
    ...f.set('n', f.get('n'), i32x4.trunc_sat_f32x4_s),
    ...f.set('p', f.get('n'), i32.const(1), i32x4.shr_s),
    ...poly,
    ...pow2(f.get('p')), ...f32x4.mul,
    ...pow2([...f.get('n'), ...f.get('p'), ...i32x4.sub]), ...f32x4.mul,
  ];
}

/** Unary ops in SIMD: each the JavaScript definition exactly, except exp and sigmoid (about 2 ulp). */
const UNARY_BODY = {
  neg: (f: Fn) => [...f.get('x'), ...f32x4.neg],
  abs: (f: Fn) => [...f.get('x'), ...f32x4.abs],
  sqrt: (f: Fn) => [...f.get('x'), ...f32x4.sqrt],
  // max(x, 0): -0 gives +0, and NaN stays NaN (f32x4.max propagates it), as in PyTorch.
  relu: (f: Fn) => [...f32.const(0), ...f32x4.splat, ...f.get('x'), ...f32x4.max],
  exp: (f: Fn) => expInto(f, 'x'),
  // 1 / (1 + e^-x)
  sigmoid: (f: Fn) => [...f32.const(1), ...f32x4.splat, ...f.set('x', f.get('x'), f32x4.neg), ...expInto(f, 'x'), ...f32.const(1), ...f32x4.splat, ...f32x4.add, ...f32x4.div],
} as const;
export type WasmUnaryOp = keyof typeof UNARY_BODY;
export const WASM_UNARY: readonly WasmUnaryOp[] = Object.keys(UNARY_BODY) as WasmUnaryOp[];

/** `<op>_v(src, out, bytes)`: out[i] = op(src[i]) over `bytes` (a multiple of 16). */
function unary(op: WasmUnaryOp): { fn: Fn; body: Code } {
  const f = new Fn(`${op}_v`, ['src', 'out', 'bytes']).locals('i32', 'i').locals('v128', 'x', 'n', 'r', 'p');
  const body = forLoop(f, 'i', i32.const(0), f.get('bytes'), 16, [
    ...f.get('out'), ...f.get('i'), ...i32.add,
    ...f.set('x', f.get('src'), f.get('i'), i32.add, v128.load()),
    ...UNARY_BODY[op](f),
    ...v128.store(),
  ]);
  return { fn: f, body };
}

/**
 * adam(param, grad, m, v, bytes, lr, beta1, beta2, eps, bc1, bc2, l2, decay): one Adam/AdamW
 * step in place, the formula of the other backends' fused kernels:
 * g = grad + l2·p; p = p − decay·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
 * p = p − lr·(m / bc1) / (√(v / bc2) + eps).
 */
function adam(): { fn: Fn; body: Code } {
  const scalars = ['lr', 'b1', 'b2', 'eps', 'bc1', 'bc2', 'l2', 'decay'] as const;
  const f = new Fn('adam', ['param', 'grad', 'm', 'v', 'bytes', ...scalars.map((s) => [s, 'f32'] as const)]).locals('i32', 'i');
  f.locals('v128', 'p', 'g', 'mv', 'vv', ...scalars.map((s) => `${s}4`), 'one');
  const get = (n: string) => f.get(n);
  const at = (base: string) => [...get(base), ...get('i'), ...i32.add];
  const splat = scalars.flatMap((s) => f.set(`${s}4`, get(s), f32x4.splat));
  const step = [
    ...f.set('p', at('param'), v128.load()),
    ...f.set('g', at('grad'), v128.load(), get('l24'), get('p'), f32x4.mul, f32x4.add),
    ...f.set('p', get('p'), get('decay4'), get('p'), f32x4.mul, f32x4.sub),
    ...f.set('mv', get('b14'), at('m'), v128.load(), f32x4.mul, get('one'), get('b14'), f32x4.sub, get('g'), f32x4.mul, f32x4.add),
    ...f.set('vv', get('b24'), at('v'), v128.load(), f32x4.mul, get('one'), get('b24'), f32x4.sub, get('g'), f32x4.mul, get('g'), f32x4.mul, f32x4.add),
    ...at('m'), ...get('mv'), ...v128.store(),
    ...at('v'), ...get('vv'), ...v128.store(),
    ...at('param'),
    ...get('p'),
    ...get('lr4'), ...get('mv'), ...get('bc14'), ...f32x4.div, ...f32x4.mul,
    ...get('vv'), ...get('bc24'), ...f32x4.div, ...f32x4.sqrt, ...get('eps4'), ...f32x4.add,
    ...f32x4.div, ...f32x4.sub,
    ...v128.store(),
  ];
  const body = [...splat, ...f.set('one', f32.const(1), f32x4.splat), ...forLoop(f, 'i', i32.const(0), get('bytes'), 16, step)];
  return { fn: f, body };
}

/** Every elementwise function of the module. */
export function elementwiseFunctions(): { fn: Fn; body: Code }[] {
  const forms: BinaryForm[] = ['vv', 'vs', 'sv'];
  return [...(Object.keys(WASM_BINARY) as WasmBinaryOp[]).flatMap((op) => forms.map((form) => binary(op, form))), ...WASM_UNARY.map(unary), adam()];
}
