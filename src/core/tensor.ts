import { type BackwardOptions, type GradNode, defaultGrad, runBackward } from './autograd.js';
import { type Backend, type View, backendByName } from './backend.js';
import { type DType, type StorageArray, type TypedArray, isFloat, isHalf } from './dtype.js';
import { TsgradError, check, fmt } from './errors.js';
import { formatTensor } from './format.js';
import { narrowToHalf, widenHalf } from './half.js';
import { halfFrozen } from './halfGuard.js';
import { track } from './scope.js';
import { contiguousStrides, isContiguous, sizeOf } from './shape.js';
import { StorageRef, adopt, unadopt } from './storage.js';
import { yieldToEventLoop } from './yieldToEventLoop.js';

/** Nested number arrays, as `toArray()` returns them. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array on one backend, with an optional place in the autograd graph.
 * Create tensors with `tensor`, `zeros`, `randn`...; every op returns a new tensor. This class
 * holds the core (storage, shape, gradient, reading); each op's method is declared in its own
 * file of `ops/` (see `ops/define.ts`).
 *
 * @example
 * const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * x.mul(x).sum().backward(); // x.grad = 2x
 */
export class Tensor {
  /** @internal Lets `isTensor` recognise tensors without importing this class. */
  readonly _isTensor = true;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  /** The gradient accumulated by `backward()` (leaves, and non-leaves after `retainGrad()`); null until then. */
  grad: Tensor | null = null;
  /** @internal Set by a scope that left this tensor alive for a returned result's backward. */
  _freeWithGraph = false;
  private _ref: StorageRef | null;
  private _token: object;
  private _requiresGrad = false;
  private _gradFn: GradNode | null = null;
  /** @internal Set by `retainGrad()`: backward fills this non-leaf's `.grad` too. */
  _retainsGrad = false;

  /** @internal Use the creation functions (`tensor`, `zeros`...) instead. */
  constructor(ref: StorageRef, shape: readonly number[], dtype: DType, strides?: readonly number[], offset = 0) {
    this._ref = ref;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    this.dtype = dtype;
    this._token = adopt(this, ref);
    track(this);
  }

  /** @internal A new contiguous tensor owning a fresh backend storage (outside core: `wrapStorage` of seams.ts). */
  static _wrap(backend: Backend, storage: unknown, shape: readonly number[], dtype: DType): Tensor {
    return new Tensor(new StorageRef(backend, storage), shape, dtype);
  }

  /** @internal A view sharing this tensor's storage. */
  _viewAs(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    return new Tensor(this._storageRef('view'), shape, this.dtype, strides, offset);
  }

  /** @internal The storage this tensor reads; throws, naming `op`, once disposed (outside core: `storageOf`). */
  _storageRef(op: string): StorageRef {
    if (!this._ref) throw new TsgradError(op, `tensor of shape ${fmt(this.shape)} was disposed and cannot be used`);
    return this._ref;
  }

  /** @internal The strided view a backend primitive reads. */
  _view(op: string): View {
    const ref = this._storageRef(op);
    return { storage: ref.storage, shape: this.shape, strides: this.strides, offset: this.offset, dtype: this.dtype };
  }

  /** @internal The storage's in-place write count (see `copy_`). */
  get _version(): number {
    return this._storageRef('version').version;
  }

  /** @internal Records an in-place write (a graph that saved this storage must not use it). */
  _markModified(): void {
    this._storageRef('modify').version++;
  }

  /** @internal True when this tensor is the only user of its whole, contiguous storage. */
  get _ownsStorage(): boolean {
    return !!this._ref && !this._ref.shared && this.offset === 0 && this.isContiguous;
  }

  /** @internal Called by `record`: this tensor is the output of `node`. */
  _setGradFn(node: GradNode): void {
    this._gradFn = node;
    this._requiresGrad = true;
  }

  /** @internal The backend object computing this tensor (outside core: `backendOf`). */
  get _backend(): Backend {
    return this._storageRef('backend').backend;
  }

  /** Name of the backend holding the data (`'cpu'`, `'webgpu'`, `'gpujs'`). */
  get backend(): string {
    return this._backend.name;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  get isDisposed(): boolean {
    return this._ref === null;
  }

  /** The graph node (op, inputs, backward) that produced this tensor; null for leaves. */
  get gradFn(): GradNode | null {
    return this._gradFn;
  }

  /** True for tensors created by the user rather than by an op that records a graph. */
  get isLeaf(): boolean {
    return this._gradFn === null;
  }

  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  set requiresGrad(value: boolean) {
    check(this._gradFn === null, 'requiresGrad', () => 'only leaf tensors can change requiresGrad; use detach() for a new leaf');
    check(!value || isFloat(this.dtype), 'requiresGrad', () => `only float tensors can require gradients, got ${this.dtype}`);
    check(!value || !isHalf(this.dtype), 'requiresGrad', () => halfFrozen(this.dtype));
    this._requiresGrad = value;
  }

  /** Sets requiresGrad in place and returns this tensor (PyTorch's `requires_grad_`). */
  requiresGrad_(value = true): this {
    this._storageRef('requiresGrad_');
    check(typeof value === 'boolean', 'requiresGrad_', () => `expects a boolean, got ${typeof value}`);
    this.requiresGrad = value;
    return this;
  }

  /**
   * Makes backward fill this non-leaf tensor's `.grad` too (PyTorch's `retain_grad`); on a leaf
   * it does nothing, since leaves get `.grad` anyway. Returns this tensor.
   *
   * @example
   * const h = x.mul(2).retainGrad(); h.sum().backward(); // h.grad = ones
   */
  retainGrad(): this {
    check(this._requiresGrad, 'retainGrad', () => `tensor of shape ${fmt(this.shape)} does not require grad, so it gets no gradient; compute it from a tensor with requiresGrad: true`);
    if (this._gradFn) this._retainsGrad = true;
    return this;
  }

  /** Releases the storage now (for GPU backends, at once rather than at garbage collection). */
  dispose(): void {
    if (!this._ref) return;
    unadopt(this._token);
    this._ref.release();
    this._ref = null;
  }

  /** Computes gradients of this (scalar, unless `grad` is given) tensor into the leaves' `.grad`. */
  backward(grad?: Tensor, opts: BackwardOptions = {}): void {
    check(this._requiresGrad, 'backward', () => `tensor of shape ${fmt(this.shape)} does not require grad and has no graph`);
    if (grad !== undefined) {
      check(grad instanceof Tensor, 'backward', () => `the gradient must be a Tensor, got ${Array.isArray(grad) ? 'an array (wrap it with tensor())' : typeof grad}`);
      check(grad.shape.length === this.shape.length && grad.shape.every((d, i) => d === this.shape[i]), 'backward', () =>
        `gradient of shape ${fmt(grad.shape)} does not match output of shape ${fmt(this.shape)}`);
      check(grad.dtype === this.dtype && grad.backend === this.backend, 'backward', () =>
        `gradient is ${grad.dtype} on '${grad.backend}' but the output is ${this.dtype} on '${this.backend}'`);
    }
    const g = grad ?? defaultGrad('backward', this);
    runBackward([this], [g], opts);
    if (!grad) g.dispose();
  }

  /** A new leaf sharing this tensor's data, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this._storageRef('detach'), this.shape, this.dtype, this.strides, this.offset);
  }

  /**
   * The elements in row-major order as a typed array; settles on a later event-loop turn. A
   * float16 or bfloat16 tensor reads as a Float32Array of its values (exact: every 16-bit float
   * is a float32), as PyTorch's `tolist()` gives them.
   */
  async data(): Promise<TypedArray> {
    const values = this._host(await this._backend.read(this._view('data')));
    await yieldToEventLoop();
    return values;
  }

  /** @internal A backend's read as values: 16-bit patterns widened to float32. */
  _host(stored: StorageArray): TypedArray {
    return isHalf(this.dtype) ? widenHalf(stored as Uint16Array, this.dtype) : (stored as TypedArray);
  }

  /** The elements as nested arrays. */
  async toArray(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    check(this.size === 1, 'item', () => `only one-element tensors have an item, got shape ${fmt(this.shape)}`);
    return (await this.data())[0]!;
  }

  /** Synchronous `data()`, for synchronous backends (cpu). */
  dataSync(): TypedArray {
    return this._readSync('dataSync');
  }

  /** A synchronous read, refused under `op`'s name on asynchronous backends. */
  private _readSync(op: string): TypedArray {
    const b = this._storageRef(op).backend;
    check(b.readSync, op, () => `backend '${b.name}' is asynchronous; use await t.${op.replace('Sync', '')}()`);
    return this._host(b.readSync(this._view(op)));
  }

  /** Synchronous `toArray()`, for synchronous backends (cpu). */
  arraySync(): NestedArray {
    return nest(this._readSync('arraySync'), this.shape);
  }

  /** Synchronous `item()`, for synchronous backends (cpu). */
  itemSync(): number {
    this._storageRef('itemSync');
    check(this.size === 1, 'itemSync', () => `only one-element tensors have an item, got shape ${fmt(this.shape)}`);
    return this._readSync('itemSync')[0]!;
  }

  /**
   * Moves the data to another backend (the result is a new leaf), or with `{ dtype }` casts it
   * as `cast` does (and `{ backend, dtype }` both).
   *
   * @example
   * const w16 = await w.to({ dtype: 'float16' });
   */
  async to(target: string | { backend?: string; dtype?: DType }): Promise<Tensor> {
    if (typeof target === 'object' && target !== null) {
      const { backend, dtype } = target;
      const moved = backend === undefined ? this : await this.to(backend);
      return dtype === undefined ? moved : moved.cast(dtype);
    }
    return this._toBackend(target);
  }

  private async _toBackend(backend: string): Promise<Tensor> {
    const target = backendByName(backend);
    check(target.dtypes.includes(this.dtype), 'to', () => `backend '${target.name}' does not support ${this.dtype}; supported: ${target.dtypes.join(', ')}`);
    const out = Tensor._wrap(target, target.upload(await this._backend.read(this._view('to'))), this.shape, this.dtype);
    out._requiresGrad = this._requiresGrad && this.isLeaf;
    return out;
  }

  /**
   * The values as PyTorch prints them (`tensor([[0.1000, 0.2000]], requiresGrad=true)`),
   * summarised past 1000 elements; on asynchronous backends, where the values are and how to
   * read them. `console.log(t)` in Node prints the same.
   *
   * @example
   * String(tensor([1, 2])); // 'tensor([1., 2.])'
   */
  toString(): string {
    return formatTensor(this);
  }

  /** Node's `util.inspect` (and so `console.log`) prints `toString()` rather than the internals. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /**
   * @internal Moves this leaf's storage to `backend` in place, keeping its identity (so modules
   * and optimizers holding it see the move); the data (its values, as `data()` reads them) becomes
   * contiguous. Outside core: `moveStorage_`.
   */
  _replaceStorage(backend: Backend, data: TypedArray): void {
    const old = this._storageRef('to');
    check(backend.dtypes.includes(this.dtype), 'to', () => `backend '${backend.name}' does not support ${this.dtype}; supported: ${backend.dtypes.join(', ')}`);
    const ref = new StorageRef(backend, backend.upload(isHalf(this.dtype) ? narrowToHalf(data, this.dtype) : data));
    unadopt(this._token);
    old.release();
    this._ref = ref;
    this._token = adopt(this, ref);
    const self = this as { strides: readonly number[]; offset: number };
    self.strides = Object.freeze(contiguousStrides(this.shape));
    self.offset = 0;
  }

  /** @internal See `takeStorage`. */
  _takeStorage(src: Tensor): void {
    const ref = src._storageRef('to'), old = this._storageRef('to');
    unadopt(this._token);
    this._token = adopt(this, ref);
    old.release();
    this._ref = ref;
    const self = this as { dtype: DType; strides: readonly number[]; offset: number };
    self.dtype = src.dtype;
    self.strides = src.strides;
    self.offset = src.offset;
    src.dispose();
  }
}

/** @internal A leaf taking over `src`'s storage, dtype and layout in place (`castInPlace_`); `src` is disposed. */
export function takeStorage(t: Tensor, src: Tensor): void {
  t._takeStorage(src);
}

function nest(data: TypedArray, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return data[0]!;
  const build = (dim: number, off: number): NestedArray[] => {
    const n = shape[dim]!;
    if (dim === shape.length - 1) return Array.from(data.subarray(off, off + n));
    const step = sizeOf(shape.slice(dim + 1));
    return Array.from({ length: n }, (_, i) => build(dim + 1, off + i * step));
  };
  return build(0, 0);
}
