import { type Code, Fn, type Param, f32, f32x4, f64, f64x2, forLoop, i32, i32x4, i8x16, v128 } from './emitter.js';
import { Splats, expInto } from './elementwise.js';

/*
 * Reductions and softmax over float32 rows in the module's memory. A row is `len` floats at
 * src + r·stride·4 (stride in floats). Along a row, the vector that runs past its end is masked:
 * lanes at or beyond `len` count as the reduction's neutral value and are stored back unchanged,
 * so one row's kernel never changes the next row, which may start inside that vector. Sums
 * accumulate in float64 (two f64x2 per vector), as the JavaScript path does, and are rounded to
 * float32 once.
 */

export type WasmReduceOp = 'sum' | 'max' | 'min';
/** How a reduction walks its rows: each row to one value, or all rows to one row (columns). */
export type ReduceForm = 'rows' | 'cols';

const NEUTRAL: Record<WasmReduceOp, number> = { sum: 0, max: -Infinity, min: Infinity };

/** Lanes 2 and 3 moved to 0 and 1, for promoting a vector's high half to f64x2. */
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/** The locals and prologue every row kernel shares: lane numbers and the mask of a vector. */
export function rowFn(name: string, params: Param[]): { f: Fn; k: Splats; mask: (len: string, j: string) => Code } {
  const f = new Fn(name, params).locals('i32', 'r', 'j', 'row').locals('v128', 'lanes');
  const k = new Splats(f);
  // lanes < len − j: the vector's lanes that lie inside the row
  const mask = (len: string, j: string): Code => [...f.get('lanes'), ...f.get(len), ...f.get(j), ...i32.sub, ...i32x4.splat, ...i32x4.lt_s];
  return { f, k, mask };
}
export const lanesInit = (f: Fn): Code => f.set('lanes', v128.const_i32x4([0, 1, 2, 3]));

/** acc (f64x2 low) and acc2 (high) += the f32x4 local `x`, widened. */
export function addWidened(f: Fn, x: string, acc: string, acc2: string): Code {
  return [
    ...f.set(acc, f.get(acc), f.get(x), f64x2.promote_low_f32x4, f64x2.add),
    ...f.set(acc2, f.get(acc2), f.get(x), f.get(x), i8x16.shuffle(HIGH_HALF), f64x2.promote_low_f32x4, f64x2.add),
  ];
}

/** The sum of the four f64 lanes of acc and acc2, as an f32. */
export function sumLanes(f: Fn, acc: string, acc2: string): Code {
  return [
    ...f.get(acc), ...f64x2.extract_lane(0), ...f.get(acc), ...f64x2.extract_lane(1), ...f64.add,
    ...f.get(acc2), ...f64x2.extract_lane(0), ...f64.add, ...f.get(acc2), ...f64x2.extract_lane(1), ...f64.add,
    ...f32.demote_f64,
  ];
}

/** The max (or min) of the four lanes of the f32x4 local `v`, as an f32. */
function foldLanes(f: Fn, v: string, op: 'max' | 'min'): Code {
  const lane = (i: number) => [...f.get(v), ...f32x4.extract_lane(i)];
  return [...lane(0), ...lane(1), ...f32[op], ...lane(2), ...lane(3), ...f32[op], ...f32[op]];
}

/** `<op>_rows(src, rows, len, stride, dst)`: dst[r] = op over row r (f32). */
function reduceRows(op: WasmReduceOp): { fn: Fn; body: Code } {
  const { f, k, mask } = rowFn(`${op}_rows`, ['src', 'rows', 'len', 'stride', 'dst']);
  f.locals('v128', 'x', 'acc', 'acc2');
  const load = [...f.get('row'), ...f.get('j'), ...i32.const(4), ...i32.mul, ...i32.add, ...v128.load()];
  const step = op === 'sum'
    ? [...f.set('x', load, k.of(0), mask('len', 'j'), v128.bitselect), ...addWidened(f, 'x', 'acc', 'acc2')]
    : f.set('acc', f.get('acc'), load, k.of(NEUTRAL[op]), mask('len', 'j'), v128.bitselect, f32x4[op]);
  const rows = forLoop(f, 'r', i32.const(0), f.get('rows'), 1, [
    ...f.set('row', f.get('src'), f.get('r'), f.get('stride'), i32.mul, i32.const(4), i32.mul, i32.add),
    ...f.set('acc', k.of(NEUTRAL[op])),
    ...(op === 'sum' ? f.set('acc2', k.of(0)) : []),
    ...forLoop(f, 'j', i32.const(0), f.get('len'), 4, step),
    ...f.get('dst'), ...f.get('r'), ...i32.const(4), ...i32.mul, ...i32.add,
    ...(op === 'sum' ? sumLanes(f, 'acc', 'acc2') : foldLanes(f, 'acc', op)),
    ...f32.store(),
  ]);
  return { fn: f, body: [...lanesInit(f), ...k.prologue, ...rows] };
}

/**
 * `<op>_cols(src, rows, len, stride, acc)`: acc[j] = op(acc[j], row[j]) for every row, in row
 * order: f64 accumulators for sum (so each column sums exactly as the JavaScript path does), the
 * f32 result for max and min. The caller sets acc to the neutral value, padded to whole vectors.
 */
function reduceCols(op: WasmReduceOp): { fn: Fn; body: Code } {
  const f = new Fn(`${op}_cols`, ['src', 'rows', 'len', 'stride', 'acc']).locals('i32', 'r', 'j', 'row', 'a').locals('v128', 'x');
  const width = op === 'sum' ? 8 : 4;
  const step = [
    ...f.set('x', f.get('row'), f.get('j'), i32.const(4), i32.mul, i32.add, v128.load()),
    ...f.set('a', f.get('acc'), f.get('j'), i32.const(width), i32.mul, i32.add),
    ...(op === 'sum'
      ? [
        ...f.get('a'), ...f.get('a'), ...v128.load(), ...f.get('x'), ...f64x2.promote_low_f32x4, ...f64x2.add, ...v128.store(),
        ...f.get('a'), ...f.get('a'), ...v128.load(16), ...f.get('x'), ...f.get('x'), ...i8x16.shuffle(HIGH_HALF), ...f64x2.promote_low_f32x4, ...f64x2.add, ...v128.store(16),
      ]
      : [...f.get('a'), ...f.get('a'), ...v128.load(), ...f.get('x'), ...f32x4[op], ...v128.store()]),
  ];
  const body = forLoop(f, 'r', i32.const(0), f.get('rows'), 1, [
    ...f.set('row', f.get('src'), f.get('r'), f.get('stride'), i32.mul, i32.const(4), i32.mul, i32.add),
    ...forLoop(f, 'j', i32.const(0), f.get('len'), 4, step),
  ]);
  return { fn: f, body };
}

/**
 * softmax_stats(src, rows, len, stride, dst, stats): for each row, m = its max, dst's row (rows of
 * len floats) = e^(x − m), and stats[r] = (m, Σ e^(x − m)) as two f32.
 */
function softmaxStats(): { fn: Fn; body: Code } {
  const { f, k, mask } = rowFn('softmax_stats', ['src', 'rows', 'len', 'stride', 'dst', 'stats']);
  f.locals('i32', 'drow').locals('v128', 'x', 'm', 'acc', 'acc2', 'n', 'r4', 'p').locals('f32', 'max');
  const at = (base: string) => [...f.get(base), ...f.get('j'), ...i32.const(4), ...i32.mul, ...i32.add];
  const maxStep = f.set('m', f.get('m'), at('row'), v128.load(), k.of(-Infinity), mask('len', 'j'), v128.bitselect, f32x4.max);
  const expStep = [
    ...f.set('x', at('row'), v128.load(), f.get('m'), f32x4.sub, expInto(f, k, { n: 'n', r: 'r4', p: 'p' }), k.of(0), mask('len', 'j'), v128.bitselect),
    ...addWidened(f, 'x', 'acc', 'acc2'),
    ...at('drow'), ...f.get('x'), ...at('drow'), ...v128.load(), ...mask('len', 'j'), ...v128.bitselect, ...v128.store(),
  ];
  const stat = (offset: number, value: Code) => [...f.get('stats'), ...f.get('r'), ...i32.const(8), ...i32.mul, ...i32.add, ...value, ...f32.store(offset)];
  const rows = forLoop(f, 'r', i32.const(0), f.get('rows'), 1, [
    ...f.set('row', f.get('src'), f.get('r'), f.get('stride'), i32.mul, i32.const(4), i32.mul, i32.add),
    ...f.set('drow', f.get('dst'), f.get('r'), f.get('len'), i32.mul, i32.const(4), i32.mul, i32.add),
    ...f.set('m', k.of(-Infinity)),
    ...forLoop(f, 'j', i32.const(0), f.get('len'), 4, maxStep),
    ...f.set('max', foldLanes(f, 'm', 'max')),
    ...f.set('m', f.get('max'), f32x4.splat),
    ...f.set('acc', k.of(0)),
    ...f.set('acc2', k.of(0)),
    ...forLoop(f, 'j', i32.const(0), f.get('len'), 4, expStep),
    ...stat(0, f.get('max')),
    ...stat(4, sumLanes(f, 'acc', 'acc2')),
  ]);
  return { fn: f, body: [...lanesInit(f), ...k.prologue, ...rows] };
}

/**
 * The second pass, from softmax_stats' rows: `softmax_div(src, rows, len, stride, dst, stats)`
 * sets dst = dst / s, and `logsoftmax_sub(...)` sets dst = (x − m) − L, where the caller has
 * replaced each row's s in stats by L = log s.
 */
function softmaxFinish(log: boolean): { fn: Fn; body: Code } {
  const { f, k, mask } = rowFn(log ? 'logsoftmax_sub' : 'softmax_div', ['src', 'rows', 'len', 'stride', 'dst', 'stats']);
  f.locals('i32', 'drow').locals('v128', 'm', 's');
  const at = (base: string) => [...f.get(base), ...f.get('j'), ...i32.const(4), ...i32.mul, ...i32.add];
  const value = log
    ? [...at('row'), ...v128.load(), ...f.get('m'), ...f32x4.sub, ...f.get('s'), ...f32x4.sub]
    : [...at('drow'), ...v128.load(), ...f.get('s'), ...f32x4.div];
  const step = [...at('drow'), ...value, ...at('drow'), ...v128.load(), ...mask('len', 'j'), ...v128.bitselect, ...v128.store()];
  const stat = (offset: number) => [...f.get('stats'), ...f.get('r'), ...i32.const(8), ...i32.mul, ...i32.add, ...v128.load32_splat(offset)];
  const rows = forLoop(f, 'r', i32.const(0), f.get('rows'), 1, [
    ...f.set('row', f.get('src'), f.get('r'), f.get('stride'), i32.mul, i32.const(4), i32.mul, i32.add),
    ...f.set('drow', f.get('dst'), f.get('r'), f.get('len'), i32.mul, i32.const(4), i32.mul, i32.add),
    ...f.set('m', stat(0)),
    ...f.set('s', stat(4)),
    ...forLoop(f, 'j', i32.const(0), f.get('len'), 4, step),
  ]);
  return { fn: f, body: [...lanesInit(f), ...k.prologue, ...rows] };
}

/** The reductions and softmax (a module of their own, see runtime.ts). */
export function reduceFunctions(): { fn: Fn; body: Code }[] {
  const ops: WasmReduceOp[] = ['sum', 'max', 'min'];
  return [...ops.map(reduceRows), ...ops.map(reduceCols), softmaxStats(), softmaxFinish(false), softmaxFinish(true)];
}
