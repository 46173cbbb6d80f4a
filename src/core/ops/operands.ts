import type { Backend } from '../backend.js';
import { type DType, isHalf, promote } from '../dtype.js';
import { TsgradError, check, fmt } from '../errors.js';
import { halfUnsupported } from '../halfGuard.js';
import { broadcastShapes, shapesEqual } from '../shape.js';
import { Tensor } from '../tensor.js';
import { assertTensor } from '../validate.js';

export { assertTensor };

/** Errors unless `v` is a tensor or a JS number. */
function assertOperand(op: string, v: unknown): asserts v is Tensor | number {
  if (typeof v === 'number') return;
  assertTensor(op, v);
}

/** Wraps a primitive's fresh contiguous storage as a tensor. */
export function wrap(backend: Backend, storage: unknown, shape: readonly number[], dtype: DType): Tensor {
  return Tensor._wrap(backend, storage, shape, dtype);
}

/** Turns a JS number into a 0-d tensor beside `like` (integers stay int32 for int tensors). */
export function scalarLike(value: number, like: Tensor, op = 'scalar'): Tensor {
  if (like.dtype === 'int32' && Number.isInteger(value)) {
    check(value >= -(2 ** 31) && value < 2 ** 31, op, () => `${value} does not fit in int32; cast the tensor first with t.cast('float32')`);
  }
  return scalarOn(like._backend, value, like.dtype === 'int32' && !Number.isInteger(value) ? 'float32' : like.dtype);
}

/** A 0-d tensor holding `value` on backend `b`. */
export function scalarOn(b: Backend, value: number, dtype: DType): Tensor {
  return Tensor._wrap(b, b.fill(1, dtype, value), [], dtype);
}

/** Errors unless every tensor lives on one backend; returns it. */
export function sameBackend(op: string, ...ts: Tensor[]): Backend {
  const b = ts[0]!._storageRef(op).backend;
  for (const t of ts) {
    if (t._storageRef(op).backend !== b) {
      throw new TsgradError(op, `tensors are on different backends ('${b.name}' and '${t.backend}'); move one with await t.to('${b.name}')`);
    }
  }
  return b;
}

/** A broadcast view of `t` with `shape` (stride 0 on expanded dims), without copying. */
export function broadcastTo(t: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(t.shape, shape)) return t;
  const lead = shape.length - t.shape.length;
  const strides = shape.map((d, i) => {
    const j = i - lead;
    if (j < 0) return 0;
    return t.shape[j] === 1 && d !== 1 ? 0 : t.strides[j]!;
  });
  return t._viewAs(shape, strides, t.offset);
}

/**
 * Prepares two operands of a binary op: scalars become tensors, both get one backend, one
 * dtype (promoted) and one broadcast shape.
 */
export function binaryOperands(op: string, a: Tensor, b: Tensor | number): { a: Tensor; b: Tensor; shape: number[]; dtype: DType } {
  assertTensor(op, a, 'input');
  assertOperand(op, b);
  sameBackend(op, a);
  const bt = typeof b === 'number' ? scalarLike(b, a, op) : b;
  sameBackend(op, a, bt);
  // Promotion would cast a 16-bit operand to float32 here, a silent widening: refused instead.
  for (const t of [a, bt]) check(!isHalf(t.dtype), op, () => halfUnsupported(op, t.dtype));
  const shape = broadcastShapes(op, a.shape, bt.shape);
  const dtype = promote(a.dtype, bt.dtype);
  return { a, b: bt, shape, dtype };
}

export function describe(...ts: Tensor[]): string {
  return ts.map((t) => `${fmt(t.shape)} ${t.dtype}`).join(' and ');
}

