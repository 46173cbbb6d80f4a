import { type Backend, backendByName, getBackend } from './backend.js';
import { type DType, type TypedArray, assertDType, dtypeOfArray, isFloat, toTypedArray } from './dtype.js';
import { TsgradError, check, fmt } from './errors.js';
import { nextNormal, nextUniform } from './random.js';
import { checkShape, sizeOf } from './shape.js';
import { Tensor } from './tensor.js';

/** Where and how a new tensor is created: dtype, requiresGrad, backend. */
export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  /** Backend name; the current backend by default. */
  backend?: string;
}

/** Nested arrays of numbers (or one number), as `tensor()` takes them. */
export type Nested = number | readonly Nested[];

function resolveBackend(opts: TensorOptions): Backend {
  return opts.backend ? backendByName(opts.backend) : getBackend();
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let d: Nested = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = (d as readonly Nested[])[0]!;
    if (d === undefined) break;
  }
  return shape;
}

function flatten(data: Nested, shape: number[], out: number[], dim = 0): void {
  if (dim === shape.length) {
    if (typeof data !== 'number') throw new TsgradError('tensor', `expected a number at depth ${dim}, got ${Array.isArray(data) ? 'an array' : typeof data}: nested arrays must be rectangular`);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new TsgradError('tensor', `nested arrays are ragged: expected length ${shape[dim]} at depth ${dim}, got ${Array.isArray(data) ? data.length : typeof data}`);
  }
  for (const item of data as readonly Nested[]) flatten(item, shape, out, dim + 1);
}

/** Uploads a typed array of `shape` as a new leaf tensor. */
export function fromTypedArray(data: TypedArray, shape: readonly number[], opts: TensorOptions = {}): Tensor {
  checkShape('tensor', shape);
  const dtype = opts.dtype ?? dtypeOfArray(data);
  assertDType(dtype, 'tensor');
  check(sizeOf(shape) === data.length, 'tensor', () => `data has ${data.length} elements but shape ${fmt(shape)} needs ${sizeOf(shape)}`);
  const b = resolveBackend(opts);
  check(b.dtypes.includes(dtype), 'tensor', () => `backend '${b.name}' does not support ${dtype}; supported: ${b.dtypes.join(', ')}`);
  const typed = dtypeOfArray(data) === dtype ? data : toTypedArray(data, dtype);
  return finish(Tensor._wrap(b, b.upload(typed), shape, dtype), opts);
}

/**
 * Creates a tensor from nested arrays, a number, or a typed array with `{ shape }`.
 *
 * @example
 * tensor([[1, 2], [3, 4]]);                                   // float32 [2,2]
 * tensor(new Int32Array([0, 2]), { shape: [2] });            // int32
 * tensor(3, { dtype: 'float64', requiresGrad: true });       // 0-d
 */
export function tensor(data: Nested | TypedArray, opts: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    return fromTypedArray(data as TypedArray, opts.shape ?? [(data as TypedArray).length], opts);
  }
  const shape = inferShape(data as Nested);
  const flat: number[] = [];
  flatten(data as Nested, shape, flat);
  const dtype = opts.dtype ?? 'float32';
  assertDType(dtype, 'tensor');
  const values = toTypedArray(flat, dtype);
  if (opts.shape) {
    check(sizeOf(opts.shape) === flat.length, 'tensor', () => `data has ${flat.length} elements but shape ${fmt(opts.shape!)} needs ${sizeOf(opts.shape!)}`);
  }
  return fromTypedArray(values, opts.shape ?? shape, { ...opts, dtype });
}

/**
 * A tensor of `shape` filled with `value`.
 *
 * @example
 * full([2, 3], 0.5);
 */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  checkShape('full', shape);
  check(typeof value === 'number', 'full', () => `value must be a number, got ${typeof value}`);
  const dtype = opts.dtype ?? 'float32';
  assertDType(dtype, 'full');
  const b = resolveBackend(opts);
  return finish(Tensor._wrap(b, b.fill(sizeOf(shape), dtype, value), shape, dtype), opts);
}

/** A tensor of zeros. @example zeros([2, 3]) */
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}

/** A tensor of ones. @example ones([4]) */
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

function sample(op: string, shape: readonly number[], opts: TensorOptions, draw: () => number): Tensor {
  checkShape(op, shape);
  const dtype = opts.dtype ?? 'float32';
  check(isFloat(dtype), op, () => `needs a float dtype, got ${dtype}`);
  const data = toTypedArray(Array.from({ length: sizeOf(shape) }, draw), dtype);
  return fromTypedArray(data, shape, { ...opts, dtype });
}

/** Standard normal samples (seeded by `manualSeed`). @example randn([3, 4]) */
export function randn(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return sample('randn', shape, opts, nextNormal);
}

/** Uniform samples in [0, 1) (seeded by `manualSeed`). @example rand([3]) */
export function rand(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return sample('rand', shape, opts, nextUniform);
}

/** Uniform samples in [low, high). @example uniform([3], -1, 1) */
export function uniform(shape: readonly number[], low: number, high: number, opts: TensorOptions = {}): Tensor {
  return sample('uniform', shape, opts, () => low + (high - low) * nextUniform());
}

/**
 * Evenly spaced values in [start, end) (one argument: [0, end)).
 *
 * @example
 * arange(5);          // [0,1,2,3,4] float32
 * arange(0, 10, 2, { dtype: 'int32' });
 */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  check([start, end, step].every(Number.isFinite) && step !== 0, 'arange', () => `needs finite start, end and a non-zero step, got ${start}, ${end}, ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = opts.dtype ?? 'float32';
  return fromTypedArray(toTypedArray(Array.from({ length: n }, (_, i) => start + i * step), dtype), [n], { ...opts, dtype });
}

/**
 * An identity matrix `[n, m]` (square by default): ones on the diagonal.
 *
 * @example
 * eye(3); // 3×3 identity
 */
export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  check([n, m].every((d) => Number.isInteger(d) && d >= 0), 'eye', () => `sizes must be non-negative integers, got ${n} and ${m}`);
  const dtype = opts.dtype ?? 'float32';
  assertDType(dtype, 'eye');
  const values = toTypedArray(Array.from({ length: n * m }, (_, k) => Number(k % m === Math.floor(k / m))), dtype);
  return fromTypedArray(values, [n, m], { ...opts, dtype });
}
