import type { BinaryOp, UnaryOp } from '../../../core/backend.js';
import { type Code, Fn, f32, f32x4, forLoop, i32, i32x4, v128 } from './emitter.js';

/*
 * Elementwise kernels over float32 arrays in the module's memory, four lanes at a time. Arrays
 * are padded to whole vectors by the caller, so no kernel has a scalar tail.
 */

/**
 * Binary ops with a SIMD instruction whose result matches the JavaScript definition (the shared
 * op table's `js` form) exactly; keyed by the op table's names.
 */
export const WASM_BINARY = { add: f32x4.add, sub: f32x4.sub, mul: f32x4.mul, div: f32x4.div } as const satisfies Partial<Record<BinaryOp, Code>>;
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
 * Splatted f32 constants, each set once in a local before a kernel's loop: V8 does not hoist a
 * splat out of a loop, and the exp polynomial needs eleven of them.
 */
export class Splats {
  private readonly names = new Map<string, string>();
  private init: Code = [];
  constructor(private readonly f: Fn) {}

  private splat(key: string, value: Code): Code {
    let name = this.names.get(key);
    if (name === undefined) {
      name = `k${this.names.size}`;
      this.names.set(key, name);
      this.f.locals('v128', name);
      this.init = [...this.init, ...this.f.set(name, value)];
    }
    return this.f.get(name);
  }

  /** The f32 constant v in every lane. */
  of(v: number): Code {
    return this.splat(`f${v}`, [...f32.const(v), ...f32x4.splat]);
  }

  /** The i32 constant v in every lane. */
  ofI32(v: number): Code {
    return this.splat(`i${v}`, [...i32.const(v), ...i32x4.splat]);
  }

  /** The code that sets the locals: goes before the loop, after every `of`. */
  get prologue(): Code {
    return this.init;
  }
}

/** The v128 scratch locals of one `expInto`, so that unrolled copies stay independent. */
export interface ExpLocals {
  n: string;
  r: string;
  p: string;
}

/**
 * e^x of the f32x4 on the stack, left on the stack, to about 2 ulp. x is clamped to [-175, 176]
 * first (NaN stays NaN: pmax/pmin return their first operand when a comparison fails), so
 * n = round(x·log2 e) lies in [-253, 254]. The rounding adds and subtracts 1.5·2²³, which leaves
 * n's integer in the float's low bits (no float-to-int conversion, which costs several x86
 * instructions). r = x − n·ln 2 (in two parts, Cody and Waite) lies in ±0.35, where a degree-7
 * Taylor polynomial is exact to float32; and 2ⁿ is applied as two factors 2^(n>>1)·2^(n−(n>>1)),
 * each a normal float32, so results overflow to Infinity and underflow to 0 as they should.
 * With `lo` (a local's value) the argument is x + lo, where x is exact and large and lo small:
 * x − n·ln 2's high part is exact, so lo joins r without being rounded into x first.
 */
export function expInto(f: Fn, k: Splats, { n, r, p }: ExpLocals, lo?: Code): Code {
  const c = (v: number): Code => k.of(v);
  const magic = 1.5 * 2 ** 23;
  const pow2 = (e: Code): Code => [...e, ...k.ofI32(127), ...i32x4.add, ...i32.const(23), ...i32x4.shl];
  // c0 + c1·r, the polynomial's terms in pairs
  const pair = (c0: number, c1: number): Code => [...f.get(r), ...c(c1), ...f32x4.mul, ...c(c0), ...f32x4.add];
  // Σ r^i/i! for i ≤ 7, as pairs in r² (r² in n's local, free until the scaling): half the dependent steps of Horner's rule in r
  const poly: Code = [
    ...f.set(n, f.get(r), f.get(r), f32x4.mul),
    ...pair(1 / 720, 1 / 5040), ...f.get(n), ...f32x4.mul, ...pair(1 / 24, 1 / 120), ...f32x4.add,
    ...f.get(n), ...f32x4.mul, ...pair(1 / 2, 1 / 6), ...f32x4.add,
    ...f.get(n), ...f32x4.mul, ...pair(1, 1), ...f32x4.add,
  ];
  return [
    ...f.set(r, c(-175), f32x4.pmax, c(176), f32x4.pmin),
    // p = x·log2 e + 1.5·2²³ (its low bits hold n), n = p − 1.5·2²³
    ...f.set(p, f.get(r), ...(lo ? [lo, f32x4.add] : []), c(Math.LOG2E), f32x4.mul, c(magic), f32x4.add),
    ...f.set(n, f.get(p), c(magic), f32x4.sub),
    ...f.set(r, f.get(r), f.get(n), c(0.693359375), f32x4.mul, f32x4.sub, ...(lo ? [lo, f32x4.add] : []), f.get(n), c(-2.12194440e-4), f32x4.mul, f32x4.sub),
    ...poly,
    ...f.set(n, f.get(p), c(magic), i32x4.sub),
    ...f.set(p, f.get(n), i32.const(1), i32x4.shr_s),
    ...pow2(f.get(p)), ...f32x4.mul,
    ...pow2([...f.get(n), ...f.get(p), ...i32x4.sub]), ...f32x4.mul,
  ];
}

/**
 * Unary ops in SIMD, of the f32x4 on the stack, keyed by the shared op table's names: each its
 * JavaScript definition exactly, except exp and sigmoid (about 2 ulp).
 */
const UNARY_BODY = {
  neg: () => f32x4.neg,
  abs: () => f32x4.abs,
  sqrt: () => f32x4.sqrt,
  // max(x, 0): -0 gives +0, and NaN stays NaN (f32x4.max propagates it), as in PyTorch.
  relu: (_f: Fn, k: Splats) => [...k.of(0), ...f32x4.max],
  exp: (f: Fn, k: Splats, e: ExpLocals) => expInto(f, k, e),
  // 1 / (1 + e^-x)
  sigmoid: (f: Fn, k: Splats, e: ExpLocals) => [...f32x4.neg, ...expInto(f, k, e), ...k.of(1), ...f32x4.add, ...f.set(e.r), ...k.of(1), ...f.get(e.r), ...f32x4.div],
} as const satisfies Partial<Record<UnaryOp, (f: Fn, k: Splats, e: ExpLocals) => Code>>;
export type WasmUnaryOp = keyof typeof UNARY_BODY;
export const WASM_UNARY: readonly WasmUnaryOp[] = Object.keys(UNARY_BODY) as WasmUnaryOp[];
/** The unary ops built on exp, which (four times unrolled) fill a module of their own (see runtime.ts). */
const TRANSCENDENTAL: readonly WasmUnaryOp[] = ['exp', 'sigmoid'];

/** Vectors a unary kernel does per step: four independent ones let exp's long chain overlap (2× faster). */
const UNROLL = 4;

/** A unary op's SIMD code: takes the f32x4 on the stack, leaves the result there. */
export type UnaryBody = (f: Fn, k: Splats, e: ExpLocals) => Code;

/**
 * `<name>_v(src, out, bytes)`: out[i] = op(src[i]) over `bytes` rounded up to 64, which the
 * arena's slack allows (see arena.ts).
 */
export function unaryKernel(name: string, body: UnaryBody, unroll = UNROLL): { fn: Fn; body: Code } {
  const f = new Fn(`${name}_v`, ['src', 'out', 'bytes']).locals('i32', 'i', 'a');
  const k = new Splats(f);
  const step: number[] = [];
  for (let u = 0; u < unroll; u++) {
    const e = { n: `n${u}`, r: `r${u}`, p: `p${u}` };
    f.locals('v128', `x${u}`, e.n, e.r, e.p);
    step.push(...f.set(`x${u}`, f.get('a'), v128.load(16 * u), body(f, k, e)));
  }
  for (let u = 0; u < unroll; u++) step.push(...f.get('out'), ...f.get('i'), ...i32.add, ...f.get(`x${u}`), ...v128.store(16 * u));
  const loop = forLoop(f, 'i', i32.const(0), f.get('bytes'), 16 * unroll, [...f.set('a', f.get('src'), f.get('i'), i32.add), ...step]);
  return { fn: f, body: [...k.prologue, ...loop] };
}

const unary = (op: WasmUnaryOp) => unaryKernel(op, UNARY_BODY[op]);

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

/** The elementwise functions but exp and sigmoid: binary ops, the other unary ops, and Adam. */
export function elementwiseFunctions(): { fn: Fn; body: Code }[] {
  const forms: BinaryForm[] = ['vv', 'vs', 'sv'];
  const unaries = WASM_UNARY.filter((op) => !TRANSCENDENTAL.includes(op)).map(unary);
  return [...(Object.keys(WASM_BINARY) as WasmBinaryOp[]).flatMap((op) => forms.map((form) => binary(op, form))), ...unaries, adam()];
}

/** exp and sigmoid. */
export function transcendentalFunctions(): { fn: Fn; body: Code }[] {
  return TRANSCENDENTAL.map(unary);
}
