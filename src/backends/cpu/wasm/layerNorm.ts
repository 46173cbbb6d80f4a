import type { TypedArray } from '../../../core/dtype.js';
import type { Arena } from './arena.js';
import { type ModuleMemory, ownModule } from './ownModule.js';
import { type Code, type Fn, encodeModule, f32, f32x4, f64x2, forLoop, i32, i8x16, ifElse, u32, v128 } from './emitter.js';
import { addWidened, lanesInit, rowFn } from './reduce.js';

/*
 * LayerNorm's fused kernels (see ../layerNorm.ts for the JavaScript ones and the formulas) in
 * float32 SIMD over contiguous rows of d floats. The forward's row sums (mean, variance)
 * accumulate in float64, as the JavaScript kernels do. The backward's row sums (Σĝ, Σĝ·x̂) are
 * float32 vectors, as PyTorch's are, and the column sums of dweight and dbias add blocks of rows
 * in float32 before joining float64 totals; the rest is float32, as in core's composed form. The vector that runs past a row's end is masked: its
 * lanes beyond d add nothing and are stored back unchanged, so a row never changes the next.
 * A small module of its own, compiled on first use.
 */

/** Scalar and SIMD instructions the emitter's tables leave out, named as in the text format. */
const op = {
  f32Add: [0x92], f32Mul: [0x94], f32Div: [0x95], f32ConvertI32: [0xb2], i32Or: [0x72], f64Div: [0xa3], f64Sqrt: [0x9f], f64Add: [0xa0], f64ConvertI32: [0xb7], f64PromoteF32: [0xbb],
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

/** Rows whose dweight and dbias columns add up in float32 before they join the float64 totals. */
const COLUMN_BLOCK = 16;

/**
 * `ln_bwd(g, x, mean, rstd, w, rows, d, dx, accw, accb, colw, colb)`: dx's rows (see
 * ../layerNorm.ts), with w's d floats (ones where the layer has no weight), and Σ g·x̂ and Σ g
 * over the rows added into the float64 columns accw and accb (d rounded up to 4, zeroed by the
 * caller). Row sums are float32 vectors; the columns gather COLUMN_BLOCK rows in the float32
 * columns colw and colb before joining the float64 ones: a float64 read-modify-write of every
 * column for every row cost more than the rest of the kernel.
 */
function layerNormBackward(): { fn: Fn; body: Code } {
  const { f, k, mask } = rowFn('ln_bwd', ['g', 'x', 'mean', 'rstd', 'w', 'rows', 'd', 'dx', 'accw', 'accb', 'colw', 'colb']);
  f.locals('i32', 'grow', 'dxrow', 'cols').locals('v128', 'gv', 'xh', 'gy', 'm4', 'rs4', 'a4', 'c4', 's1', 's2', 'in');
  const { at, rowAt } = addressing(f);
  // g, x̂ = (x − m)·rstd and ĝ = g·w of the vector at j
  const load: Code = [
    ...f.set('gv', at('grow'), v128.load()),
    ...f.set('xh', at('row'), v128.load(), f.get('m4'), f32x4.sub, f.get('rs4'), f32x4.mul),
    ...f.set('gy', f.get('gv'), at('w'), v128.load(), f32x4.mul),
  ];
  /** The float32 column at `base` + j·4 += value. */
  const addColumn = (base: string, value: Code): Code => [...at(base), ...at(base), ...v128.load(), ...value, ...f32x4.add, ...v128.store()];
  // Lanes past the row's end (the next row's, maybe infinite) are kept out of the row sums; in
  // the columns they land in the padding, which nothing reads.
  const sumStep = [
    ...load,
    ...f.set('in', mask('d', 'j')),
    ...f.set('s1', f.get('s1'), f.get('gy'), f.get('in'), v128.and, f32x4.add),
    ...f.set('s2', f.get('s2'), f.get('gy'), f.get('xh'), f32x4.mul, f.get('in'), v128.and, f32x4.add),
    ...addColumn('colw', [...f.get('gv'), ...f.get('xh'), ...f32x4.mul]),
    ...addColumn('colb', f.get('gv')),
  ];
  // dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))
  const outStep = [
    ...load,
    ...at('dxrow'),
    ...f.get('gy'), ...f.get('a4'), ...f32x4.sub, ...f.get('xh'), ...f.get('c4'), ...f32x4.mul, ...f32x4.sub, ...f.get('rs4'), ...f32x4.mul,
    ...at('dxrow'), ...v128.load(), ...mask('d', 'j'), ...v128.bitselect, ...v128.store(),
  ];
  /** The float64 column pair at `acc` + j·8 += the float32 column at `col` + j·4, widened, and that column zeroed. */
  const flushColumn = (col: string, acc: string): Code => [
    ...f.set('gv', at(col), v128.load()),
    ...f.set('grow', f.get(acc), f.get('j'), i32.const(8), i32.mul, i32.add),
    ...f.get('grow'), ...f.get('grow'), ...v128.load(), ...f.get('gv'), ...f64x2.promote_low_f32x4, ...f64x2.add, ...v128.store(),
    ...f.get('grow'), ...f.get('grow'), ...v128.load(16), ...f.get('gv'), ...f.get('gv'), ...HIGH_HALF, ...f64x2.promote_low_f32x4, ...f64x2.add, ...v128.store(16),
    ...at(col), ...k.of(0), ...v128.store(),
  ];
  const flush = forLoop(f, 'j', i32.const(0), f.get('d'), 4, [...flushColumn('colw', 'accw'), ...flushColumn('colb', 'accb')]);
  const stat = (base: string): Code => [...f.get(base), ...f.get('r'), ...i32.const(4), ...i32.mul, ...i32.add, ...v128.load32_splat()];
  const hsum = (v: string): Code => [
    ...f.get(v), ...f32x4.extract_lane(0), ...f.get(v), ...f32x4.extract_lane(1), ...op.f32Add,
    ...f.get(v), ...f32x4.extract_lane(2), ...op.f32Add, ...f.get(v), ...f32x4.extract_lane(3), ...op.f32Add,
  ];
  const rowMean = (v: string): Code => [...hsum(v), ...f.get('d'), ...op.f32ConvertI32, ...op.f32Div, ...f32x4.splat];
  const rows = forLoop(f, 'r', i32.const(0), f.get('rows'), 1, [
    ...f.set('row', rowAt('x')),
    ...f.set('grow', rowAt('g')),
    ...f.set('dxrow', rowAt('dx')),
    ...f.set('m4', stat('mean')),
    ...f.set('rs4', stat('rstd')),
    ...f.set('s1', k.of(0)),
    ...f.set('s2', k.of(0)),
    ...forLoop(f, 'j', i32.const(0), f.get('d'), 4, sumStep),
    ...f.set('a4', rowMean('s1')),
    ...f.set('c4', rowMean('s2')),
    ...forLoop(f, 'j', i32.const(0), f.get('d'), 4, outStep),
    // every COLUMN_BLOCK rows, and after the last, the float32 columns join the float64 ones
    ...ifElse([...f.get('r'), ...i32.const(1), ...i32.add, ...i32.const(COLUMN_BLOCK), ...i32.rem_u, ...i32.eqz,
      ...f.get('r'), ...i32.const(1), ...i32.add, ...f.get('rows'), ...i32.eq, ...op.i32Or], flush),
  ]);
  // the float32 columns start at zero
  const zero = forLoop(f, 'j', i32.const(0), f.get('d'), 4, [...at('colw'), ...k.of(0), ...v128.store(), ...at('colb'), ...k.of(0), ...v128.store()]);
  return { fn: f, body: [...lanesInit(f), ...k.prologue, ...zero, ...rows] };
}

type Exports = {
  ln_fwd(x: number, w: number, b: number, rows: number, d: number, eps: number, y: number, mean: number, rstd: number): void;
  ln_bwd(g: number, x: number, mean: number, rstd: number, w: number, rows: number, d: number, dx: number, accw: number, accb: number, colw: number, colb: number): void;
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
  // No weight multiplies by ones.
  const cols = Math.ceil(d / 4) * 4;
  const inputs = [g, x, mean, rstd, w ?? new Float32Array(d).fill(1)] as Float32Array[];
  // The scratch after the copied inputs: the float64 columns of dweight and dbias, then their float32 partial columns.
  const s = arena.stage(inputs.map((data) => ({ data, from: 0, to: data.length })), 0, cols * 24);
  if (!s) return false;
  const [gAt, xAt, meanAt, rstdAt, wAt] = s.at as [number, number, number, number, number];
  const acc = new Float64Array(arena.rt.memory.buffer, s.extraAt, 2 * cols).fill(0);
  k.ln_bwd(gAt, xAt, meanAt, rstdAt, wAt, rows, d, arena.addressOf(dx), s.extraAt, s.extraAt + cols * 8, s.extraAt + cols * 16, s.extraAt + cols * 20);
  for (let i = 0; i < d; i++) {
    dw[i] = acc[i]!;
    db[i] = acc[cols + i]!;
  }
  return true;
}
