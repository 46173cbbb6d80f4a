import type { TypedArray } from '../../../core/dtype.js';
import type { Arena } from './arena.js';
import { type ModuleMemory, ownModule } from './ownModule.js';
import { type Code, type Fn, encodeModule, f32, f32x4, f64x2, forLoop, i32, i8x16, ifElse, u32, v128 } from './emitter.js';
import { addWidened, lanesInit, rowFn } from './reduce.js';

/*
 * LayerNorm's fused kernels (see ../layerNorm.ts for the JavaScript ones and the formulas) in
 * float32 SIMD over contiguous rows of d floats. Row sums (mean, variance, Σĝ, Σĝ·x̂) and the
 * column sums of dweight and dbias accumulate in float64, as the JavaScript kernels do; the rest
 * is float32, as in core's composed form. The vector that runs past a row's end is masked: its
 * lanes beyond d add nothing and are stored back unchanged, so a row never changes the next.
 * A small module of its own, compiled on first use.
 */

/** Scalar and SIMD instructions the emitter's tables leave out, named as in the text format. */
const op = {
  f32Mul: [0x94], f64Div: [0xa3], f64Sqrt: [0x9f], f64Add: [0xa0], f64ConvertI32: [0xb7], f64PromoteF32: [0xbb],
  f64Const1: [0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f],
  f64x2Mul: [0xfd, ...u32(0xf2)],
} as const;

/** Lanes 2 and 3 moved to 0 and 1 (as in reduce.ts), to widen a vector's high half. */
const HIGH_HALF = i8x16.shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);

/** The f64 sum of the four f64 lanes of the f64x2 locals a and b. */
function sum64(f: Fn, a: string, b: string): Code {
  return [
    ...f.get(a), ...f64x2.extract_lane(0), ...f.get(a), ...f64x2.extract_lane(1), ...op.f64Add,
    ...f.get(b), ...f64x2.extract_lane(0), ...op.f64Add, ...f.get(b), ...f64x2.extract_lane(1), ...op.f64Add,
  ];
}

/** A row kernel's address helpers: `at(base)` is base + j·4, `rowAt(base)` is base + r·d·4. */
function addressing(f: Fn) {
  const at = (base: string): Code => [...f.get(base), ...f.get('j'), ...i32.const(4), ...i32.mul, ...i32.add];
  const rowAt = (base: string): Code => [...f.get(base), ...f.get('r'), ...f.get('d'), ...i32.mul, ...i32.const(4), ...i32.mul, ...i32.add];
  return { at, rowAt };
}

/**
 * `ln_fwd(x, w, b, rows, d, eps, y, mean, rstd)`: for each row, mean[r], rstd[r] = 1/√(var + eps)
 * and y's row = (x − mean)·rstd·w + b; w or b at address 0 is left out.
 */
function layerNormForward(): { fn: Fn; body: Code } {
  const { f, k, mask } = rowFn('ln_fwd', ['x', 'w', 'b', 'rows', 'd', ['eps', 'f64'], 'y', 'mean', 'rstd']);
  f.locals('i32', 'yrow').locals('v128', 'v', 'acc', 'acc2', 'm4', 'rs4').locals('f32', 'm', 'rs');
  const { at, rowAt } = addressing(f);
  const masked = (value: Code): Code => [...value, ...k.of(0), ...mask('d', 'j'), ...v128.bitselect];
  const centered: Code = [...at('row'), ...v128.load(), ...f.get('m4'), ...f32x4.sub];
  const sumStep = [...f.set('v', masked([...at('row'), ...v128.load()])), ...addWidened(f, 'v', 'acc', 'acc2')];
  // (x − m)² in float64: both halves widened, squared and added
  const varStep = [
    ...f.set('v', masked(centered)),
    ...f.set('acc', f.get('acc'), f.get('v'), f64x2.promote_low_f32x4, f.get('v'), f64x2.promote_low_f32x4, op.f64x2Mul, f64x2.add),
    ...f.set('acc2', f.get('acc2'), f.get('v'), f.get('v'), HIGH_HALF, f64x2.promote_low_f32x4, f.get('v'), f.get('v'), HIGH_HALF, f64x2.promote_low_f32x4, op.f64x2Mul, f64x2.add),
  ];
  const outStep = [
    ...f.set('v', centered, f.get('rs4'), f32x4.mul),
    ...ifElse(f.get('w'), f.set('v', f.get('v'), at('w'), v128.load(), f32x4.mul)),
    ...ifElse(f.get('b'), f.set('v', f.get('v'), at('b'), v128.load(), f32x4.add)),
    ...at('yrow'), ...f.get('v'), ...at('yrow'), ...v128.load(), ...mask('d', 'j'), ...v128.bitselect, ...v128.store(),
  ];
  const perRow = (into: string): Code => [...f.get(into), ...f.get('r'), ...i32.const(4), ...i32.mul, ...i32.add];
  const zero = [...f.set('acc', k.of(0)), ...f.set('acc2', k.of(0))];
  const rows = forLoop(f, 'r', i32.const(0), f.get('rows'), 1, [
    ...f.set('row', rowAt('x')),
    ...f.set('yrow', rowAt('y')),
    ...zero,
    ...forLoop(f, 'j', i32.const(0), f.get('d'), 4, sumStep),
    ...f.set('m', sum64(f, 'acc', 'acc2'), f.get('d'), op.f64ConvertI32, op.f64Div, f32.demote_f64),
    ...f.set('m4', f.get('m'), f32x4.splat),
    ...zero,
    ...forLoop(f, 'j', i32.const(0), f.get('d'), 4, varStep),
    // rstd = 1 / √(Σ(x − m)² / d + eps), in float64, rounded once
    ...f.set('rs', op.f64Const1, sum64(f, 'acc', 'acc2'), f.get('d'), op.f64ConvertI32, op.f64Div, f.get('eps'), op.f64Add, op.f64Sqrt, op.f64Div, f32.demote_f64),
    ...f.set('rs4', f.get('rs'), f32x4.splat),
    ...perRow('mean'), ...f.get('m'), ...f32.store(),
    ...perRow('rstd'), ...f.get('rs'), ...f32.store(),
    ...forLoop(f, 'j', i32.const(0), f.get('d'), 4, outStep),
  ]);
  return { fn: f, body: [...lanesInit(f), ...k.prologue, ...rows] };
}

/**
 * `ln_bwd(g, x, mean, rstd, w, rows, d, dx, accw, accb)`: dx's rows (see ../layerNorm.ts), and
 * Σ g·x̂ and Σ g over the rows added into the float64 columns accw and accb (d rounded up to 4,
 * zeroed by the caller); w at address 0 is left out.
 */
function layerNormBackward(): { fn: Fn; body: Code } {
  const { f, k, mask } = rowFn('ln_bwd', ['g', 'x', 'mean', 'rstd', 'w', 'rows', 'd', 'dx', 'accw', 'accb']);
  f.locals('i32', 'grow', 'dxrow', 'col').locals('v128', 'gv', 'xh', 'gy', 'v', 'm4', 'rs4', 'a4', 'c4', 's1', 's2', 's3', 's4');
  const { at, rowAt } = addressing(f);
  const inRow = (value: Code): Code => [...value, ...k.of(0), ...mask('d', 'j'), ...v128.bitselect];
  // g, x̂ = (x − m)·rstd and ĝ = g·w of the vector at j, zero beyond the row
  const load: Code = [
    ...f.set('gv', inRow([...at('grow'), ...v128.load()])),
    ...f.set('xh', inRow([...at('row'), ...v128.load(), ...f.get('m4'), ...f32x4.sub, ...f.get('rs4'), ...f32x4.mul])),
    ...f.set('gy', f.get('gv')),
    ...ifElse(f.get('w'), f.set('gy', inRow([...f.get('gv'), ...at('w'), ...v128.load(), ...f32x4.mul]))),
  ];
  /** The float64 column pair at `base` + j·8 += the f32x4 local `v`, widened. */
  const addColumns = (base: string): Code => [
    ...f.set('col', f.get(base), f.get('j'), i32.const(8), i32.mul, i32.add),
    ...f.get('col'), ...f.get('col'), ...v128.load(), ...f.get('v'), ...f64x2.promote_low_f32x4, ...f64x2.add, ...v128.store(),
    ...f.get('col'), ...f.get('col'), ...v128.load(16), ...f.get('v'), ...f.get('v'), ...HIGH_HALF, ...f64x2.promote_low_f32x4, ...f64x2.add, ...v128.store(16),
  ];
  const sumStep = [
    ...load,
    ...addWidened(f, 'gy', 's1', 's2'),
    ...f.set('v', f.get('gy'), f.get('xh'), f32x4.mul),
    ...addWidened(f, 'v', 's3', 's4'),
    ...f.set('v', f.get('gv'), f.get('xh'), f32x4.mul),
    ...addColumns('accw'),
    ...f.set('v', f.get('gv')),
    ...addColumns('accb'),
  ];
  // dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))
  const outStep = [
    ...load,
    ...at('dxrow'),
    ...f.get('gy'), ...f.get('a4'), ...f32x4.sub, ...f.get('xh'), ...f.get('c4'), ...f32x4.mul, ...f32x4.sub, ...f.get('rs4'), ...f32x4.mul,
    ...at('dxrow'), ...v128.load(), ...mask('d', 'j'), ...v128.bitselect, ...v128.store(),
  ];
  const stat = (base: string): Code => [...f.get(base), ...f.get('r'), ...i32.const(4), ...i32.mul, ...i32.add, ...v128.load32_splat()];
  const rowMean = (a: string, b: string): Code => [...sum64(f, a, b), ...f.get('d'), ...op.f64ConvertI32, ...op.f64Div, ...f32.demote_f64, ...f32x4.splat];
  const rows = forLoop(f, 'r', i32.const(0), f.get('rows'), 1, [
    ...f.set('row', rowAt('x')),
    ...f.set('grow', rowAt('g')),
    ...f.set('dxrow', rowAt('dx')),
    ...f.set('m4', stat('mean')),
    ...f.set('rs4', stat('rstd')),
    ...['s1', 's2', 's3', 's4'].flatMap((s) => f.set(s, k.of(0))),
    ...forLoop(f, 'j', i32.const(0), f.get('d'), 4, sumStep),
    ...f.set('a4', rowMean('s1', 's2')),
    ...f.set('c4', rowMean('s3', 's4')),
    ...forLoop(f, 'j', i32.const(0), f.get('d'), 4, outStep),
  ]);
  return { fn: f, body: [...lanesInit(f), ...k.prologue, ...rows] };
}

type Exports = {
  ln_fwd(x: number, w: number, b: number, rows: number, d: number, eps: number, y: number, mean: number, rstd: number): void;
  ln_bwd(g: number, x: number, mean: number, rstd: number, w: number, rows: number, d: number, dx: number, accw: number, accb: number): void;
};

/** The module's bytes (under the 4 KiB a browser compiles synchronously on a page's main thread). */
export function layerNormModuleBytes(memory: ModuleMemory): Uint8Array<ArrayBuffer> {
  return encodeModule([layerNormForward(), layerNormBackward()], { minPages: 1, ...memory });
}

/** The kernels on an arena's memory, compiled on first use. */
const kernels = ownModule<Exports>(layerNormModuleBytes);

const isF32 = (a: TypedArray | null): a is Float32Array | null => a === null || a instanceof Float32Array;

/**
 * The forward of ../layerNorm.ts on contiguous float32 arrays, in WebAssembly: false, having
 * done nothing, where a result is not in the module's memory or the scratch cannot hold the inputs.
 */
export function layerNormForwardWasm(
  arena: Arena, x: TypedArray, w: TypedArray | null, b: TypedArray | null, rows: number, d: number, eps: number,
  y: TypedArray, mean: TypedArray, rstd: TypedArray,
): boolean {
  if (!(x instanceof Float32Array) || !isF32(w) || !isF32(b) || [y, mean, rstd].some((a) => !(a instanceof Float32Array) || arena.addressOf(a) < 0)) return false;
  const k = kernels(arena);
  if (!k) return false;
  const inputs = [x, w, b].filter((a): a is Float32Array => a !== null);
  const s = arena.stage(inputs.map((data) => ({ data, from: 0, to: data.length })), 0);
  if (!s) return false;
  const [xAt, ...rest] = s.at as [number, ...number[]];
  const wAt = w ? rest.shift()! : 0, bAt = b ? rest.shift()! : 0;
  k.ln_fwd(xAt, wAt, bAt, rows, d, eps, arena.addressOf(y), arena.addressOf(mean), arena.addressOf(rstd));
  return true;
}

/**
 * The backward of ../layerNorm.ts on contiguous float32 arrays, in WebAssembly: false, having
 * done nothing, where dx is not in the module's memory or the scratch cannot hold the inputs.
 */
export function layerNormBackwardWasm(
  arena: Arena, g: TypedArray, x: TypedArray, mean: TypedArray, rstd: TypedArray, w: TypedArray | null, rows: number, d: number,
  dx: TypedArray, dw: TypedArray, db: TypedArray,
): boolean {
  const f32s = [g, x, mean, rstd, dx, dw, db];
  if (!f32s.every((a) => a instanceof Float32Array) || !isF32(w) || arena.addressOf(dx) < 0) return false;
  const k = kernels(arena);
  if (!k) return false;
  const inputs = [g, x, mean, rstd, w].filter((a): a is Float32Array => a !== null);
  // The scratch after the copied inputs: the float64 columns of dweight and dbias.
  const cols = Math.ceil(d / 4) * 4;
  const s = arena.stage(inputs.map((data) => ({ data, from: 0, to: data.length })), 0, cols * 16);
  if (!s) return false;
  const [gAt, xAt, meanAt, rstdAt, wAt = 0] = s.at as [number, number, number, number, number?];
  const acc = new Float64Array(arena.rt.memory.buffer, s.extraAt, 2 * cols).fill(0);
  k.ln_bwd(gAt, xAt, meanAt, rstdAt, w ? wAt : 0, rows, d, arena.addressOf(dx), s.extraAt, s.extraAt + cols * 8);
  for (let i = 0; i < d; i++) {
    dw[i] = acc[i]!;
    db[i] = acc[cols + i]!;
  }
  return true;
}
