import type { Backend } from './backend.js';
import type { DType, StorageArray, TypedArray } from './dtype.js';
import type { StorageRef } from './storage.js';
import { noGrad } from './autograd.js';
import { isHalf } from './dtype.js';
import { Tensor, takeStorage } from './tensor.js';

// What nn, optim, data, io and models may know of a tensor's insides, and nothing more: its
// backend object, its storage (for sharing and counting), a tensor wrapped around a fresh
// storage, an in-place move between backends, and the fused parameter updates. Outside core,
// these functions are the only way in; Tensor's underscore members stay core's own (a test
// checks that no file above core uses them).

export { isTensor } from './validate.js';

/**
 * The backend object computing `t`: compare two tensors' backends, or read `readSync` to learn
 * whether `t` can be read at once.
 *
 * @example
 * if (backendOf(t).readSync) console.log(t.itemSync());
 */
export function backendOf(t: Tensor): Backend {
  return t._backend;
}

/**
 * The storage `t` reads, shared by every view of it: a new Parameter shares it, and memory
 * reports count each one once. Throws, naming `op`, when `t` was disposed.
 *
 * @example
 * const bytes = storageOf(t, 'memoryReport').bytes;
 */
export function storageOf(t: Tensor, op: string): StorageRef {
  return t._storageRef(op);
}

/**
 * A new contiguous tensor owning `storage`, a fresh storage of `backend` (from `upload`, `fill`
 * or a kernel).
 *
 * @example
 * const copy = wrapStorage(b, b.upload(await src.data()), src.shape, src.dtype);
 */
export function wrapStorage(backend: Backend, storage: unknown, shape: readonly number[], dtype: DType): Tensor {
  return Tensor._wrap(backend, storage, shape, dtype);
}

/**
 * Moves leaf `t`'s storage to `backend` in place, given its values (`await t.data()`): modules
 * and optimizers holding `t` see the move, as `Module.to` and `Optimizer.to` need.
 *
 * @example
 * moveStorage_(p, target, await p.data());
 */
export function moveStorage_(t: Tensor, backend: Backend, values: TypedArray): void {
  t._replaceStorage(backend, values);
}

/**
 * `t`'s elements as its backend stores them, in row-major order: `data()`'s values, except that a
 * float16/bfloat16 tensor gives its bit patterns (a Uint16Array), to write or move without rounding.
 *
 * @example
 * const bits = await storedData(w16); // Uint16Array
 */
export async function storedData(t: Tensor): Promise<StorageArray> {
  return t._backend.read(t._view('storedData'));
}

/**
 * Casts leaf `t` to `dtype` in place, keeping its identity (so modules and optimizers holding it
 * see the change), as `Module.to({ dtype })` needs; its gradient is cast too, or dropped for a
 * 16-bit dtype, which is frozen (`t` stops requiring grad).
 *
 * @example
 * castInPlace_(p, 'float16');
 */
export function castInPlace_(t: Tensor, dtype: DType): void {
  if (t.dtype === dtype) return;
  noGrad(() => {
    if (isHalf(dtype)) {
      t.requiresGrad = false;
      t.grad?.dispose();
      t.grad = null;
    } else if (t.grad) {
      castInPlace_(t.grad, dtype);
    }
    takeStorage(t, t.detach().cast(dtype));
  });
}

/** The hyperparameters of one Adam/AdamW step, as the backend's fused kernel takes them. */
export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  biasCorrection1: number;
  biasCorrection2: number;
  /** Adam's coupled weight decay (added to the gradient). */
  l2: number;
  /** AdamW's `lr·wd` (the parameter shrinks by it first). */
  decoupledDecay: number;
}

/**
 * One Adam/AdamW update of `param` and its moments `m`, `v` in place by the backend's fused
 * kernel, recording the write. Returns false, changing nothing, when the backend has no such
 * kernel or `param`, `m` or `v` is not a whole contiguous storage: the caller composes the step from ops.
 *
 * @example
 * if (!fusedAdam_(p, grad, m, v, step)) composedStep();
 */
export function fusedAdam_(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: AdamStep): boolean {
  const adam = param._backend.fused?.adam;
  if (!adam || ![param, m, v].every((t) => t.isContiguous && t.offset === 0)) return false;
  const op = 'Adam';
  adam({ param: param._view(op).storage, grad: grad._view(op), m: m._view(op).storage, v: v._view(op).storage, size: param.size, ...step });
  param._markModified();
  return true;
}
