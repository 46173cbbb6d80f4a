import { type Backend, backendByName, getBackend } from './backend.js';
import { type DType, type TypedArray, assertDType, isFloat, isHalf, typedArrayFor } from './dtype.js';
import { type HalfDType, narrowToHalf } from './half.js';
import { TsgradError, check, fmt } from './errors.js';
import { halfFrozen } from './halfGuard.js';
import { defaultGenerator } from './random.js';
import { sizeOf } from './shape.js';
import { Tensor } from './tensor.js';
import { assertNewShape, describeValue, isPlainObject } from './validate.js';

/** Where and how a new tensor is created: dtype, requiresGrad, backend. */
export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  /** Backend name; the current backend by default. */
  backend?: string;
}

/** Nested arrays of numbers (or one number), as `tensor()` takes them. */
export type Nested = number | readonly Nested[];

/** Any numeric typed array a tensor can be made from; 1- and 2-byte ones (and Uint32) become int32. */
export type NumericArray = TypedArray | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Uint32Array;

const INT_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array];

/** The dtype a typed array holds, or null for one tsgrad cannot store (BigInt64Array...). */
function dtypeOfData(a: ArrayBufferView): DType | null {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  return INT_ARRAYS.some((C) => a instanceof C) ? 'int32' : null;
}

/** Checks the options every creation function takes. */
function checkOptions(op: string, opts: unknown): asserts opts is TensorOptions {
  check(isPlainObject(opts), op, () => `options must be an object such as { dtype: 'float32' }, got ${describeValue(opts)}`);
  const o = opts as TensorOptions;
  if (o.dtype !== undefined) assertDType(o.dtype, op);
  check(o.backend === undefined || typeof o.backend === 'string', op, () => `backend must be a backend name such as 'cpu', got ${describeValue(o.backend)}`);
  check(o.requiresGrad === undefined || typeof o.requiresGrad === 'boolean', op, () => `requiresGrad must be a boolean, got ${describeValue(o.requiresGrad)}`);
  check(!o.requiresGrad || isFloat(o.dtype ?? 'float32'), op, () => `only float tensors can require gradients, got ${o.dtype}`);
  check(!o.requiresGrad || !isHalf(o.dtype!), op, () => halfFrozen(o.dtype!));
}

/** The backend `opts` names (or the current one); its lookup errors carry the creating op's name. */
function resolveBackend(op: string, opts: TensorOptions): Backend {
  try {
    return opts.backend ? backendByName(opts.backend) : getBackend();
  } catch (e) {
    if (e instanceof TsgradError) throw new TsgradError(op, e.message.slice(e.op.length + 2));
    throw e;
  }
}

/**
 * Copies `data` into a typed array of `dtype`. Int32 takes PyTorch's truncation of fractions,
 * but refuses values it cannot hold (NaN, ±Infinity, beyond ±2³¹) instead of wrapping them.
 */
function convert(op: string, data: ArrayLike<number>, dtype: DType): TypedArray {
  const out = typedArrayFor(dtype, data.length);
  if (dtype === 'int32') {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      check(v > -(2 ** 31) - 1 && v < 2 ** 31, op, () => `value ${v} at flat index ${i} does not fit in int32 (range -2147483648..2147483647); use dtype 'float32' or 'float64'`);
    }
  }
  out.set(data);
  return out;
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
    if (typeof data !== 'number') throw new TsgradError('tensor', `expected a number at depth ${dim}, got ${describeValue(data)}: nested arrays must be rectangular and hold numbers`);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new TsgradError('tensor', `nested arrays are ragged: expected length ${shape[dim]} at depth ${dim}, got ${Array.isArray(data) ? data.length : typeof data}`);
  }
  for (const item of data as readonly Nested[]) flatten(item, shape, out, dim + 1);
}

/** Uploads a typed array of `shape` as a new leaf tensor. */
export function fromTypedArray(data: NumericArray, shape: readonly number[], opts: TensorOptions = {}): Tensor {
  check(ArrayBuffer.isView(data), 'tensor', () => `data must be a typed array, got ${describeValue(data)}`);
  const own = dtypeOfData(data);
  check(own, 'tensor', () => `cannot make a tensor from a ${data.constructor.name}; use a Float32Array, Float64Array or an integer array`);
  assertNewShape('tensor', shape);
  checkOptions('tensor', opts);
  const dtype = opts.dtype ?? own;
  check(sizeOf(shape) === data.length, 'tensor', () => `data has ${data.length} elements but shape ${fmt(shape)} needs ${sizeOf(shape)}`);
  const b = resolveBackend('tensor', opts);
  check(b.dtypes.includes(dtype), 'tensor', () => `backend '${b.name}' does not support ${dtype}; supported: ${b.dtypes.join(', ')}`);
  // Only an array of exactly the dtype's type is uploaded as is; narrower ones are widened, so
  // no backend ever holds 1- or 2-byte storage.
  const exact = own === dtype && (dtype !== 'int32' || data instanceof Int32Array);
  const typed = exact ? (data as TypedArray) : convert('tensor', data, dtype);
  // The 16-bit floats are stored as their bit patterns, rounded once from the values given.
  return finish(Tensor._wrap(b, b.upload(isHalf(dtype) ? narrowToHalf(typed, dtype) : typed), shape, dtype), opts);
}

/**
 * A float16 or bfloat16 tensor holding `bits`, the 16-bit patterns as stored (PyTorch's
 * `frombuffer(…, dtype=torch.float16)`), without rounding anything.
 *
 * @example
 * fromHalfBits(Uint16Array.of(0x3c00, 0xc000), [2], { dtype: 'float16' }); // [1, -2]
 */
export function fromHalfBits(bits: Uint16Array, shape: readonly number[], opts: { dtype: HalfDType; backend?: string }): Tensor {
  check(bits instanceof Uint16Array, 'fromHalfBits', () => `bits must be a Uint16Array, got ${describeValue(bits)}`);
  assertNewShape('fromHalfBits', shape);
  checkOptions('fromHalfBits', opts);
  check(isHalf(opts.dtype), 'fromHalfBits', () => `dtype must be 'float16' or 'bfloat16', got ${describeValue(opts.dtype)}`);
  check(sizeOf(shape) === bits.length, 'fromHalfBits', () => `bits has ${bits.length} elements but shape ${fmt(shape)} needs ${sizeOf(shape)}`);
  const b = resolveBackend('fromHalfBits', opts);
  check(b.dtypes.includes(opts.dtype), 'fromHalfBits', () => `backend '${b.name}' does not support ${opts.dtype}; supported: ${b.dtypes.join(', ')}`);
  return Tensor._wrap(b, b.upload(bits), shape, opts.dtype);
}

/**
 * Creates a tensor from nested arrays, a number, or a typed array with `{ shape }`.
 *
 * @example
 * tensor([[1, 2], [3, 4]]);                                   // float32 [2,2]
 * tensor(new Int32Array([0, 2]), { shape: [2] });            // int32
 * tensor(3, { dtype: 'float64', requiresGrad: true });       // 0-d
 */
export function tensor(data: Nested | NumericArray, opts: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  checkOptions('tensor', opts);
  if (ArrayBuffer.isView(data)) {
    return fromTypedArray(data as NumericArray, opts.shape ?? [(data as NumericArray).length], opts);
  }
  check(typeof data === 'number' || Array.isArray(data), 'tensor', () => `data must be a number, nested arrays of numbers or a typed array, got ${describeValue(data)}`);
  const shape = inferShape(data as Nested);
  const flat: number[] = [];
  flatten(data as Nested, shape, flat);
  const dtype = opts.dtype ?? 'float32';
  if (opts.shape) {
    assertNewShape('tensor', opts.shape);
    check(sizeOf(opts.shape) === flat.length, 'tensor', () => `data has ${flat.length} elements but shape ${fmt(opts.shape!)} needs ${sizeOf(opts.shape!)}`);
  }
  return fromTypedArray(convert('tensor', flat, dtype), opts.shape ?? shape, { ...opts, dtype });
}

/**
 * A tensor of `shape` filled with `value`.
 *
 * @example
 * full([2, 3], 0.5);
 */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  assertNewShape('full', shape);
  check(typeof value === 'number', 'full', () => `value must be a number, got ${describeValue(value)}`);
  checkOptions('full', opts);
  const dtype = opts.dtype ?? 'float32';
  if (dtype === 'int32') convert('full', [value], dtype);
  const b = resolveBackend('full', opts);
  check(b.dtypes.includes(dtype), 'full', () => `backend '${b.name}' does not support ${dtype}; supported: ${b.dtypes.join(', ')}`);
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

function sample(op: string, shape: readonly number[], opts: TensorOptions, fill: (data: TypedArray) => void): Tensor {
  assertNewShape(op, shape);
  checkOptions(op, opts);
  const dtype = opts.dtype ?? 'float32';
  check(isFloat(dtype), op, () => `needs a float dtype, got ${dtype}`);
  const b = resolveBackend(op, opts);
  check(b.dtypes.includes(dtype), op, () => `backend '${b.name}' does not support ${dtype}; supported: ${b.dtypes.join(', ')}`);
  const data = typedArrayFor(dtype, sizeOf(shape));
  fill(data);
  return fromTypedArray(data, shape, { ...opts, dtype });
}

/** Standard normal samples (seeded by `manualSeed`). @example randn([3, 4]) */
export function randn(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return sample('randn', shape, opts, (data) => defaultGenerator.fillNormal(data));
}

/** Uniform samples in [0, 1) (seeded by `manualSeed`). @example rand([3]) */
export function rand(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return sample('rand', shape, opts, (data) => defaultGenerator.fillUniform(data));
}

/** Uniform samples in [low, high). @example uniform([3], -1, 1) */
export function uniform(shape: readonly number[], low: number, high: number, opts: TensorOptions = {}): Tensor {
  check(Number.isFinite(low) && Number.isFinite(high) && low <= high, 'uniform', () => `needs finite low ≤ high, got ${describeValue(low)} and ${describeValue(high)}`);
  return sample('uniform', shape, opts, (data) => {
    // Scaled before rounding to the dtype, as one draw at a time would be.
    const u = new Float64Array(data.length);
    defaultGenerator.fillUniform(u);
    for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * u[i]!;
  });
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
  check([start, end, step].every(Number.isFinite) && step !== 0, 'arange', () => `needs finite start, end and a non-zero step, got ${[start, end, step].map(describeValue).join(', ')}`);
  checkOptions('arange', opts);
  resolveBackend('arange', opts);
  const n = Math.max(0, Math.ceil((end - start) / step));
  assertNewShape('arange', [n]);
  const dtype = opts.dtype ?? 'float32';
  return fromTypedArray(convert('arange', Array.from({ length: n }, (_, i) => start! + i * step), dtype), [n], { ...opts, dtype });
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
  const values = convert('eye', Array.from({ length: n * m }, (_, k) => Number(k % m === Math.floor(k / m))), dtype);
  return fromTypedArray(values, [n, m], { ...opts, dtype });
}
