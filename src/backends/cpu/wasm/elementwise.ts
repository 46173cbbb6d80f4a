import { type Code, Fn, f32, f32x4, forLoop, i32, v128 } from './emitter.js';

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
  return [...(Object.keys(WASM_BINARY) as WasmBinaryOp[]).flatMap((op) => forms.map((form) => binary(op, form))), adam()];
}
