import type { BinaryOp, View } from '../../../core/backend.js';
import type { TypedArray } from '../../../core/dtype.js';
import { coalesce } from '../../shared/strided.js';
import type { Arena, Span } from './arena.js';
import { type Code, Fn, f32x4, forLoop, i32, i32x4, v128 } from './emitter.js';
import { type BinaryForm, Splats } from './elementwise.js';
import { elementwiseThresholds, span, worthWasm } from './kernels.js';

/*
 * Comparisons of float32 operands (int32 0/1 results) and `where` (an int32 condition picking
 * between float32 operands) in SIMD, each exactly its JavaScript definition in the shared op
 * table: a comparison with NaN is false but in `ne`, −0 equals 0, and `where` copies bits. Both
 * take the broadcast forms the causal mask uses: after coalescing at most an outer dim and a
 * contiguous inner one, a stride-0 operand read as one value splatted to every lane.
 */

/** The f32x4 comparison of each comparison op: all ones in a lane where true. */
const COMPARE = { eq: f32x4.eq, ne: f32x4.ne, lt: f32x4.lt, le: f32x4.le, gt: f32x4.gt, ge: f32x4.ge } as const satisfies Partial<Record<BinaryOp, Code>>;
export type WasmCompareOp = keyof typeof COMPARE;
/** `where`'s forms: a and b each a vector (v) or one value splatted (s); the condition is a vector. */
export type WhereForm = 'vv' | 'vs' | 'sv';

/** An operand read per step (a vector at base + i) or once (a splatted local). */
function reader(f: Fn, base: string, splat: boolean): { init: Code; read: Code } {
  if (!splat) return { init: [], read: [...f.get(base), ...f.get('i'), ...i32.add, ...v128.load()] };
  const local = `${base}4`;
  f.locals('v128', local);
  return { init: f.set(local, f.get(base), v128.load32_splat()), read: f.get(local) };
}

/** `<op>_<form>(a, b, out, bytes)`: out[i] = a[i] op b[i] ? 1 : 0 as int32, over `bytes` (a multiple of 16). */
function compare(op: WasmCompareOp, form: BinaryForm): { fn: Fn; body: Code } {
  const f = new Fn(`${op}_${form}`, ['a', 'b', 'out', 'bytes']).locals('i32', 'i');
  const k = new Splats(f);
  const a = reader(f, 'a', form === 'sv'), b = reader(f, 'b', form === 'vs');
  const one = k.ofI32(1);
  const step = [...f.get('out'), ...f.get('i'), ...i32.add, ...a.read, ...b.read, ...COMPARE[op], ...one, ...v128.and, ...v128.store()];
  return { fn: f, body: [...a.init, ...b.init, ...k.prologue, ...forLoop(f, 'i', i32.const(0), f.get('bytes'), 16, step)] };
}

/** `where_<form>(cond, a, b, out, bytes)`: out[i] = cond[i] !== 0 ? a[i] : b[i]. */
function where(form: WhereForm): { fn: Fn; body: Code } {
  const f = new Fn(`where_${form}`, ['cond', 'a', 'b', 'out', 'bytes']).locals('i32', 'i');
  const k = new Splats(f);
  const a = reader(f, 'a', form === 'sv'), b = reader(f, 'b', form === 'vs'), c = reader(f, 'cond', false);
  const zero = k.ofI32(0);
  const step = [...f.get('out'), ...f.get('i'), ...i32.add, ...a.read, ...b.read, ...c.read, ...zero, ...i32x4.ne, ...v128.bitselect, ...v128.store()];
  return { fn: f, body: [...a.init, ...b.init, ...k.prologue, ...forLoop(f, 'i', i32.const(0), f.get('bytes'), 16, step)] };
}

const FORMS: BinaryForm[] = ['vv', 'vs', 'sv'];

/** The comparison and `where` kernels. */
export function selectFunctions(): { fn: Fn; body: Code }[] {
  return [...(Object.keys(COMPARE) as WasmCompareOp[]).flatMap((op) => FORMS.map((form) => compare(op, form))), ...FORMS.map(where)];
}

export function isWasmCompare(op: string): op is WasmCompareOp {
  return op in COMPARE;
}

const align = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** A float32 view of an int32 storage's bytes, so the arena can stage it (copies keep the bits). */
const bitsOf = (s: TypedArray) => (s instanceof Float32Array ? s : new Float32Array(s.buffer, s.byteOffset, s.length));

/** Operands of one call after coalescing: rows of `inner` elements, and each operand's row step. */
interface Plan {
  n: number;
  rows: number;
  inner: number;
  spans: Span[];
  /** Per operand: its row stride (elements), and whether it is one value splatted. */
  outer: number[];
  splat: boolean[];
}

/**
 * The layout of `views` (one shape) for a row kernel, or null: at most two dims after coalescing,
 * inner strides 1, or 0 where `canSplat` allows.
 */
function plan(arena: Arena, views: View<TypedArray>[], canSplat: boolean[], minRow: number): Plan | null {
  const shape0 = views[0]!.shape;
  let n = 1;
  for (const d of shape0) n *= d;
  if (!worthWasm(arena, n, views.map((v) => v.storage))) return null;
  const outStrides: number[] = [];
  for (let d = shape0.length - 1, s = 1; d >= 0; d--) {
    outStrides[d] = s;
    s *= shape0[d]!;
  }
  const [shape, [, ...strides]] = coalesce(shape0, [outStrides, ...views.map((v) => v.strides)]);
  if (shape.length > 2 || shape.length === 0) return null;
  const inner = shape[shape.length - 1]!, rows = shape.length === 2 ? shape[0]! : 1;
  if (inner < minRow) return null;
  const splat = strides.map((s) => s[s.length - 1] === 0);
  if (strides.some((s, i) => s[s.length - 1] !== 1 && !(splat[i] && canSplat[i]))) return null;
  const spans: Span[] = [];
  for (let i = 0; i < views.length; i++) {
    const sp = span(views[i]!.offset, shape, strides[i]!);
    if (!sp) return null;
    spans.push({ data: bitsOf(views[i]!.storage), from: sp[0], to: sp[1] });
  }
  return { n, rows, inner, spans, outer: strides.map((s) => (shape.length === 2 ? s[0]! : 0)), splat };
}

/** Runs the comparison and `where` kernels on float32 views; null leaves a call to JavaScript. */
export class WasmSelect {
  constructor(private readonly arena: Arena) {}

  /** a op b ? 1 : 0 as int32, for float32 views of one shape. */
  compare(op: WasmCompareOp, a: View<TypedArray>, b: View<TypedArray>): Int32Array | null {
    if (a.dtype !== 'float32') return null;
    const p = plan(this.arena, [a, b], [true, true], elementwiseThresholds().minRow);
    if (!p || (p.splat[0] && p.splat[1])) return null;
    // The int32 result takes a block of the memory where storages live there (release() frees
    // it by its bytes like any other), else the scratch, copied out.
    const block = this.arena.float32(p.n);
    const s = this.arena.stage(p.spans, 0, block ? 0 : p.n * 4);
    if (!s) {
      if (block) this.arena.release(block);
      return null;
    }
    const outAt = block ? block.byteOffset : s.extraAt;
    const kernel = this.arena.rt.exports[`${op}_${p.splat[0] ? 'sv' : p.splat[1] ? 'vs' : 'vv'}`];
    this.rows(p, s.at, outAt, (at, out, bytes) => kernel(at[0]!, at[1]!, out, bytes));
    // Over the block's own buffer, which the arena recognises when the storage is freed.
    return block ? new Int32Array(block.buffer, block.byteOffset, p.n) : new Int32Array(this.arena.rt.memory.buffer, outAt, p.n).slice();
  }

  /** cond !== 0 ? a : b for an int32 condition and float32 values, all of one shape. */
  where(cond: View<TypedArray>, a: View<TypedArray>, b: View<TypedArray>): Float32Array | null {
    if (a.dtype !== 'float32' || cond.dtype !== 'int32') return null;
    const p = plan(this.arena, [cond, a, b], [false, true, true], elementwiseThresholds().minRow);
    if (!p || (p.splat[1] && p.splat[2])) return null;
    const s = this.arena.stage(p.spans, p.n);
    if (!s) return null;
    const kernel = this.arena.rt.exports[`where_${p.splat[1] ? 'sv' : p.splat[2] ? 'vs' : 'vv'}`];
    this.rows(p, s.at, s.outAt, (at, out, bytes) => kernel(at[0]!, at[1]!, at[2]!, out, bytes));
    return this.arena.result(s, p.n);
  }

  /** Calls `run` row by row, in order: a row's last vector may spill into the next row, which then overwrites it. */
  private rows(p: Plan, at: number[], outAt: number, run: (at: number[], out: number, bytes: number) => void): void {
    const bytes = align(p.inner * 4);
    for (let r = 0; r < p.rows; r++) run(at.map((base, i) => base + r * p.outer[i]! * 4), outAt + r * p.inner * 4, bytes);
  }
}
