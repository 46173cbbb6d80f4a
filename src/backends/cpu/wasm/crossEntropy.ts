import type { TypedArray } from '../../../core/dtype.js';
import type { Arena } from './arena.js';
import { type Code, Fn, encodeModule, f32, f32x4, forLoop, i32, ifElse, v128 } from './emitter.js';
import { type ModuleMemory, ownModule } from './ownModule.js';

/*
 * Cross-entropy's gradient (../crossEntropy.ts) in WebAssembly SIMD, without label smoothing:
 * each row of the softmax p becomes g[r]·p, less g[r] at the row's target, or zeros where the
 * target is ignored. A float32 product and difference, as the JavaScript loop's float64 ones
 * rounded to float32 (a product or difference of two float32s rounded once either way), so the
 * bits are the same. A small module of its own, compiled on first use.
 */

/** Instructions the emitter's tables leave out. */
const op = { i32Load: [0x28, 2, 0], f32Mul: [0x94], f32Sub: [0x93], i32And: [0x71] } as const;

/**
 * ce_grad(p, g, target, rows, c, ignore): for each row r of c floats at p, with t = target[r]:
 * zeros where t is `ignore`, else p·g[r], then p[t] −= g[r].
 */
function crossEntropyGrad(): { fn: Fn; body: Code } {
  const f = new Fn('ce_grad', ['p', 'g', 'target', 'rows', 'c', 'ignore']).locals('i32', 'r', 'j', 'row', 't', 'c4').locals('f32', 'gr').locals('v128', 'gv');
  const g = (n: string) => f.get(n);
  const at = (j: Code): Code => [...g('row'), ...j, ...i32.const(4), ...i32.mul, ...i32.add];
  const scaled = [
    ...f.set('gr', g('g'), g('r'), i32.const(4), i32.mul, i32.add, f32.load()),
    ...f.set('gv', g('gr'), f32x4.splat),
    ...forLoop(f, 'j', i32.const(0), g('c4'), 4, [...at(g('j')), ...at(g('j')), ...v128.load(), ...g('gv'), ...f32x4.mul, ...v128.store()]),
    ...forLoop(f, 'j', g('c4'), g('c'), 1, [...at(g('j')), ...at(g('j')), ...f32.load(), ...g('gr'), ...op.f32Mul, ...f32.store()]),
    ...at(g('t')), ...at(g('t')), ...f32.load(), ...g('gr'), ...op.f32Sub, ...f32.store(),
  ];
  const zeroed = [
    ...forLoop(f, 'j', i32.const(0), g('c4'), 4, [...at(g('j')), ...f32.const(0), ...f32x4.splat, ...v128.store()]),
    ...forLoop(f, 'j', g('c4'), g('c'), 1, [...at(g('j')), ...f32.const(0), ...f32.store()]),
  ];
  const body = [
    ...f.set('c4', g('c'), i32.const(-4), op.i32And),
    ...forLoop(f, 'r', i32.const(0), g('rows'), 1, [
      ...f.set('row', g('p'), g('r'), g('c'), i32.mul, i32.const(4), i32.mul, i32.add),
      ...f.set('t', g('target'), g('r'), i32.const(4), i32.mul, i32.add, op.i32Load),
      ...ifElse([...g('t'), ...g('ignore'), ...i32.eq], zeroed, scaled),
    ]),
  ];
  return { fn: f, body };
}

/** The module's bytes (under the 4 KiB a browser compiles synchronously on a page's main thread). */
export function crossEntropyModuleBytes(memory: ModuleMemory): Uint8Array<ArrayBuffer> {
  return encodeModule([crossEntropyGrad()], { minPages: 1, ...memory });
}

type CeGrad = (p: number, g: number, target: number, rows: number, c: number, ignore: number) => void;
const kernels = ownModule<{ ce_grad: CeGrad }>(crossEntropyModuleBytes);

/**
 * `crossEntropyGradient` (../crossEntropy.ts) in WebAssembly: false, having done nothing, with
 * label smoothing, where p is not a float32 storage in the module's memory, or where the scratch
 * cannot hold g and the targets.
 */
export function crossEntropyGradientWasm(arena: Arena, p: TypedArray, g: TypedArray, target: TypedArray, rows: number, c: number, ignoreIndex: number, smoothing: number): boolean {
  if (smoothing !== 0 || !(p instanceof Float32Array) || !(g instanceof Float32Array) || !(target instanceof Int32Array) || arena.addressOf(p) < 0) return false;
  const k = kernels(arena);
  if (!k) return false;
  // The targets are staged as raw 32-bit words (a Float32Array over their bytes: a same-type copy moves bits, not values).
  const words = new Float32Array(target.buffer, target.byteOffset, rows);
  const s = arena.stage([{ data: g, from: 0, to: rows }, { data: words, from: 0, to: rows }], 0);
  if (!s) return false;
  k.ce_grad(arena.addressOf(p), s.at[0]!, s.at[1]!, rows, c, ignoreIndex);
  return true;
}
