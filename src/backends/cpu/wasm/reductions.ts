import type { ReduceOp, View } from '../../../core/backend.js';
import type { TypedArray } from '../../../core/dtype.js';
import { sizeOf } from '../../../core/shape.js';
import { coalesce, reducedStrides } from '../../shared/strided.js';
import type { Arena } from './arena.js';
import { span, worthWasm } from './kernels.js';

/*
 * Runs the module's reduction and softmax kernels (reduce.ts) on float32 views that coalesce to
 * rows: a reduction over the last dims (each row to one value) or over the leading dims (all
 * rows to one row), and a softmax along the last dim. Other layouts, other dtypes and small
 * tensors (see kernels.ts) stay on the JavaScript loops.
 */

const NEUTRAL: Record<ReduceOp, number> = { sum: 0, max: -Infinity, min: Infinity };

export class WasmReductions {
  constructor(private readonly arena: Arena) {}

  /** op over the sorted `axes` of a float32 view, or null to leave it to JavaScript. */
  reduce(op: ReduceOp, x: View<TypedArray>, axes: readonly number[]): Float32Array | null {
    const n = sizeOf(x.shape);
    if (x.dtype !== 'float32' || !worthWasm(this.arena, n, [x.storage])) return null;
    const keep = x.shape.filter((_, d) => !axes.includes(d));
    const [shape, [xs, os]] = coalesce(x.shape, [x.strides, reducedStrides(x.shape, axes)]);
    const sp = span(x.offset, shape, xs!);
    if (!sp || shape.length > 2) return null;
    const last = shape.length - 1, len = shape[last]!, rows = shape.length === 2 ? shape[0]! : 1;
    const rowStride = shape.length === 2 ? xs![0]! : 0;
    if (xs![last] !== 1) return null;
    const outElems = sizeOf(keep);
    const { rt } = this.arena;
    const input = { data: x.storage as Float32Array, from: sp[0], to: sp[1] };
    if (os![last] === 0 && (shape.length === 1 || os[0] !== 0)) {
      // Each row (the reduced dims, contiguous) to one value.
      const s = this.arena.stage([input], outElems);
      if (!s) return null;
      rt.exports[`${op}_rows`](s.at[0]!, rows, len, rowStride, s.outAt, 0);
      return this.arena.result(s, outElems);
    }
    // Two reduced dims that do not merge (padded rows), or none reduced, stay in JavaScript.
    if (shape.length !== 2 || os![0] !== 0 || os![1] === 0) return null;
    // Every row (the reduced leading dims) into one: the sum in float64 accumulators.
    const f64Bytes = op === 'sum' ? Math.ceil(len / 4) * 32 : 0;
    const s = this.arena.stage([input], outElems, f64Bytes);
    if (!s) return null;
    const acc = op === 'sum' ? s.extraAt : s.outAt;
    if (op === 'sum') new Float64Array(rt.memory.buffer, acc, len).fill(0);
    else rt.f32().fill(NEUTRAL[op], acc / 4, acc / 4 + len);
    rt.exports[`${op}_cols`](s.at[0]!, rows, len, rowStride, acc, 0);
    if (op !== 'sum') return this.arena.result(s, outElems);
    const out = s.out ?? new Float32Array(len);
    out.set(new Float64Array(rt.memory.buffer, acc, len));
    return out;
  }

  /**
   * Softmax (log-softmax when `log`) of a float32 view along its last non-trivial axis, or null
   * to leave it to JavaScript.
   */
  softmax(x: View<TypedArray>, axis: number, log: boolean): Float32Array | null {
    const n = sizeOf(x.shape), len = x.shape[axis]!;
    if (x.dtype !== 'float32' || !worthWasm(this.arena, n, [x.storage])) return null;
    // The output is contiguous: its rows run along the axis only when every later dim is 1.
    if (x.shape.slice(axis + 1).some((d) => d !== 1) || (len > 1 && x.strides[axis] !== 1)) return null;
    const [rowShape, [rowStrides]] = coalesce(x.shape.slice(0, axis), [x.strides.slice(0, axis)]);
    if (rowShape.length !== 1) return null;
    const rows = rowShape[0]!, rowStride = rowStrides![0]!;
    const sp = span(x.offset, [rows, len], [rowStride, 1]);
    if (!sp) return null;
    const s = this.arena.stage([{ data: x.storage as Float32Array, from: sp[0], to: sp[1] }], n, rows * 8);
    if (!s) return null;
    const { rt } = this.arena;
    rt.exports.softmax_stats(s.at[0]!, rows, len, rowStride, s.outAt, s.extraAt);
    if (log) {
      // Each row's sum s becomes log s, rounded to float32 as the composed ops round it.
      const stats = new Float32Array(rt.memory.buffer, s.extraAt, rows * 2);
      for (let r = 0; r < rows; r++) stats[2 * r + 1] = Math.log(stats[2 * r + 1]!);
    }
    rt.exports[log ? 'logsoftmax_sub' : 'softmax_div'](s.at[0]!, rows, len, rowStride, s.outAt, s.extraAt);
    return this.arena.result(s, n);
  }
}
