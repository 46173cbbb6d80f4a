import type { View } from '../../../core/backend.js';
import type { TypedArray } from '../../../core/dtype.js';
import { sizeOf } from '../../../core/shape.js';
import { coalesce } from '../../shared/strided.js';
import type { Arena } from './arena.js';
import { type Code, type Fn, f32, f32x4, forLoop, i32, v128 } from './emitter.js';
import { span, worthWasm } from './kernels.js';
import { addWidened, lanesInit, rowFn, sumLanes } from './reduce.js';

/*
 * Softmax's backward in one pass per row, y·(g − Σ g·y), as core composes it: the products
 * rounded to float32, summed in float64 and rounded once (as the sum kernels do), then
 * y·(g − s) in float32, so the fused result equals the composed one up to the order of the
 * float64 sum.
 */

/**
 * `softmax_bwd(y, g, rows, len, ystride, gstride, dst)`: dst's row r (rows of len floats) =
 * y_r·(g_r − Σ g_r·y_r), rows of y and g at y + r·ystride·4 and g + r·gstride·4.
 */
export function softmaxBackwardFunction(): { fn: Fn; body: Code } {
  const { f, k, mask } = rowFn('softmax_bwd', ['y', 'g', 'rows', 'len', 'ystride', 'gstride', 'dst']);
  f.locals('i32', 'grow', 'drow').locals('v128', 'x', 'acc', 'acc2', 's');
  const at = (base: string) => [...f.get(base), ...f.get('j'), ...i32.const(4), ...i32.mul, ...i32.add];
  const dot = [...f.set('x', at('row'), v128.load(), at('grow'), v128.load(), f32x4.mul, k.of(0), mask('len', 'j'), v128.bitselect), ...addWidened(f, 'x', 'acc', 'acc2')];
  const out = [
    ...at('drow'),
    ...at('row'), ...v128.load(), ...at('grow'), ...v128.load(), ...f.get('s'), ...f32x4.sub, ...f32x4.mul,
    ...at('drow'), ...v128.load(), ...mask('len', 'j'), ...v128.bitselect, ...v128.store(),
  ];
  const rowAt = (base: string, stride: Code) => [...f.get(base), ...f.get('r'), ...stride, ...i32.mul, ...i32.const(4), ...i32.mul, ...i32.add];
  const rows = forLoop(f, 'r', i32.const(0), f.get('rows'), 1, [
    ...f.set('row', rowAt('y', f.get('ystride'))),
    ...f.set('grow', rowAt('g', f.get('gstride'))),
    ...f.set('drow', rowAt('dst', f.get('len'))),
    ...f.set('acc', k.of(0)),
    ...f.set('acc2', k.of(0)),
    ...forLoop(f, 'j', i32.const(0), f.get('len'), 4, dot),
    ...f.set('s', sumLanes(f, 'acc', 'acc2'), f32x4.splat),
    ...forLoop(f, 'j', i32.const(0), f.get('len'), 4, out),
  ]);
  return { fn: f, body: [...lanesInit(f), ...k.prologue, ...rows] };
}

/** The rows of a view along `axis` when it is the last non-trivial dim, of stride 1: [rows, row stride], or null. */
function rowsOf(x: View<TypedArray>, axis: number): [number, number] | null {
  const len = x.shape[axis]!;
  if (x.shape.slice(axis + 1).some((d) => d !== 1) || (len > 1 && x.strides[axis] !== 1)) return null;
  const [rowShape, [rowStrides]] = coalesce(x.shape.slice(0, axis), [x.strides.slice(0, axis)]);
  if (rowShape.length !== 1) return null;
  return [rowShape[0]!, rowStrides![0]!];
}

/** y·(g − Σ g·y) along `axis` for float32 views laid out in rows along it, or null to leave it to core. */
export function softmaxBackwardWasm(arena: Arena, y: View<TypedArray>, g: View<TypedArray>, axis: number): Float32Array | null {
  const n = sizeOf(y.shape), len = y.shape[axis]!;
  if (y.dtype !== 'float32' || g.dtype !== 'float32' || len === 0 || !worthWasm(arena, n, [y.storage, g.storage])) return null;
  const ry = rowsOf(y, axis), rg = rowsOf(g, axis);
  if (!ry || !rg) return null;
  const sy = span(y.offset, [ry[0], len], [ry[1], 1]), sg = span(g.offset, [rg[0], len], [rg[1], 1]);
  if (!sy || !sg) return null;
  const s = arena.stage([{ data: y.storage as Float32Array, from: sy[0], to: sy[1] }, { data: g.storage as Float32Array, from: sg[0], to: sg[1] }], n);
  if (!s) return null;
  arena.rt.exports.softmax_bwd(s.at[0]!, s.at[1]!, ry[0], len, ry[1], rg[1], s.outAt);
  return arena.result(s, n);
}
