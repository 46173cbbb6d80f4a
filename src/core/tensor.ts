import { type BackwardOptions, type GradNode, defaultGrad, isGradEnabled, noGrad, runBackward } from './autograd.js';
import { type Backend, type View, backendByName } from './backend.js';
import { type DType, type TypedArray, isFloat } from './dtype.js';
import { TsgradError, check, fmt } from './errors.js';
import { formatTensor } from './format.js';
import { clamp } from './ops/clamp.js';
import { cumsum } from './ops/cumsum.js';
import * as ew from './ops/elementwise.js';
import { flatten, unflatten } from './ops/flatten.js';
import { isfinite, isinf, isnan } from './ops/predicates.js';
import { ceil, floor, round } from './ops/rounding.js';
import { type ValuesIndices, argsort, sort, topk } from './ops/sort.js';
import { chunk, split } from './ops/split.js';
import { type VarOptions, logsumexp, std, variance } from './ops/stats.js';
import { tril, triu } from './ops/triangular.js';
import { maskedFill } from './ops/maskedFill.js';
import { matmul } from './ops/matmul.js';
import * as red from './ops/reduce.js';
import { logSoftmax, softmax } from './ops/softmax.js';
import * as idx from './ops/indexing.js';
import * as vw from './ops/view.js';
import { track } from './scope.js';
import { broadcastShapes, contiguousStrides, isContiguous, shapesEqual, sizeOf } from './shape.js';
import { StorageRef, adopt, unadopt } from './storage.js';
import { yieldToEventLoop } from './yieldToEventLoop.js';
import { guardTensorMethods } from './validate.js';

/** Nested number arrays, as `toArray()` returns them. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array on one backend, with an optional place in the autograd graph.
 * Create tensors with `tensor`, `zeros`, `randn`...; every op returns a new tensor.
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

  /** A copy with its own storage; differentiable. */
  clone(): Tensor {
    return vw.clone(this);
  }

  /** The elements in row-major order as a typed array; settles on a later event-loop turn. */
  async data(): Promise<TypedArray> {
    const values = await this._backend.read(this._view('data'));
    await yieldToEventLoop();
    return values;
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
    const b = this._backend;
    check(b.readSync, op, () => `backend '${b.name}' is asynchronous; use await t.${op.replace('Sync', '')}()`);
    return b.readSync(this._view(op));
  }

  /** Synchronous `toArray()`, for synchronous backends (cpu). */
  arraySync(): NestedArray {
    return nest(this._readSync('arraySync'), this.shape);
  }

  /** Synchronous `item()`, for synchronous backends (cpu). */
  itemSync(): number {
    check(this.size === 1, 'itemSync', () => `only one-element tensors have an item, got shape ${fmt(this.shape)}`);
    return this._readSync('itemSync')[0]!;
  }

  /** Moves the data to another backend; the result is a new leaf. */
  async to(backend: string): Promise<Tensor> {
    const target = backendByName(backend);
    const out = Tensor._wrap(target, target.upload(await this.data()), this.shape, this.dtype);
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

  // Elementwise
  /** Elementwise `this + other`, broadcasting. @example x.add(1) */
  add(other: Tensor | number): Tensor { return ew.add(this, other); }
  /** Elementwise `this − other`, broadcasting. @example x.sub(y) */
  sub(other: Tensor | number): Tensor { return ew.sub(this, other); }
  /** Elementwise `this · other`, broadcasting. @example x.mul(2) */
  mul(other: Tensor | number): Tensor { return ew.mul(this, other); }
  /** Elementwise `this / other`, broadcasting (int ÷ int gives float32). @example x.div(y) */
  div(other: Tensor | number): Tensor { return ew.div(this, other); }
  /** Elementwise power; a tensor exponent gets a gradient too. @example x.pow(2) */
  pow(exponent: Tensor | number): Tensor { return ew.pow(this, exponent); }
  /** Elementwise maximum (ties share the gradient). @example x.maximum(0) */
  maximum(other: Tensor | number): Tensor { return ew.maximum(this, other); }
  /** Elementwise minimum (ties share the gradient). @example x.minimum(y) */
  minimum(other: Tensor | number): Tensor { return ew.minimum(this, other); }
  /** −x. @example x.neg() */
  neg(): Tensor { return ew.neg(this); }
  /** eˣ. @example x.exp() */
  exp(): Tensor { return ew.exp(this); }
  /** Natural logarithm. @example x.log() */
  log(): Tensor { return ew.log(this); }
  /** Square root. @example x.sqrt() */
  sqrt(): Tensor { return ew.sqrt(this); }
  /** |x|. @example x.abs() */
  abs(): Tensor { return ew.abs(this); }
  /** −1, 0 or 1 by sign; zero gradient. @example x.sign() */
  sign(): Tensor { return ew.sign(this); }
  /** max(x, 0). @example x.relu() */
  relu(): Tensor { return ew.relu(this); }
  /** 1 / (1 + e⁻ˣ). @example x.sigmoid() */
  sigmoid(): Tensor { return ew.sigmoid(this); }
  /** Hyperbolic tangent. @example x.tanh() */
  tanh(): Tensor { return ew.tanh(this); }
  /** The error function. @example x.erf() */
  erf(): Tensor { return ew.erf(this); }
  /** GELU: exact erf form by default, `{ approximate: 'tanh' }` as in PyTorch. */
  gelu(opts: { approximate?: 'none' | 'tanh' } = {}): Tensor { return ew.gelu(this, opts); }
  /** int32 1 where equal. @example x.eq(0) */
  eq(other: Tensor | number): Tensor { return ew.compare('eq', this, other); }
  /** int32 1 where not equal. @example x.ne(0) */
  ne(other: Tensor | number): Tensor { return ew.compare('ne', this, other); }
  /** int32 1 where less. @example x.lt(y) */
  lt(other: Tensor | number): Tensor { return ew.compare('lt', this, other); }
  /** int32 1 where less or equal. @example x.le(y) */
  le(other: Tensor | number): Tensor { return ew.compare('le', this, other); }
  /** int32 1 where greater. @example x.gt(0) */
  gt(other: Tensor | number): Tensor { return ew.compare('gt', this, other); }
  /** int32 1 where greater or equal. @example x.ge(0) */
  ge(other: Tensor | number): Tensor { return ew.compare('ge', this, other); }
  /** `value` where the int32 `mask` is non-zero, this elsewhere. @example x.maskedFill(x.lt(0), 0) */
  maskedFill(mask: Tensor, value: number): Tensor { return maskedFill(this, mask, value); }
  /** Converts to another dtype; differentiable between float dtypes. */
  cast(dtype: DType): Tensor { return ew.cast(this, dtype); }
  /** A tensor of ones with this tensor's shape, dtype and backend. */
  onesLike(): Tensor { return ew.fullLike(this, 1); }
  /** A tensor of zeros with this tensor's shape, dtype and backend. @example x.zerosLike() */
  zerosLike(): Tensor { return ew.fullLike(this, 0); }

  // Linear algebra
  /** Matrix product, batched and broadcast over leading dims (1-D operands as vectors). @example a.matmul(b) */
  matmul(other: Tensor): Tensor { return matmul(this, other); }

  // Reductions
  /** Sum over `axis` (one, several, or all when omitted). @example x.sum(0, true) */
  sum(axis?: number | number[], keepdim = false): Tensor { return red.sum(this, axis, keepdim); }
  /** Mean over `axis` (one, several, or all when omitted). @example x.mean(-1) */
  mean(axis?: number | number[], keepdim = false): Tensor { return red.mean(this, axis, keepdim); }
  /** Maximum over `axis` (all when omitted); ties share the gradient. @example x.max(1) */
  max(axis?: number | number[], keepdim = false): Tensor { return red.max(this, axis, keepdim); }
  /** Minimum over `axis` (all when omitted); ties share the gradient. @example x.min(1) */
  min(axis?: number | number[], keepdim = false): Tensor { return red.min(this, axis, keepdim); }
  /** int32 index of the first maximum along `axis`. @example logits.argmax(-1) */
  argmax(axis: number, keepdim = false): Tensor { return red.argReduce('argmax', this, axis, keepdim); }
  /** int32 index of the first minimum along `axis`. @example x.argmin(0) */
  argmin(axis: number, keepdim = false): Tensor { return red.argReduce('argmin', this, axis, keepdim); }
  /** Softmax along `axis`, stable for large values. @example logits.softmax(-1) */
  softmax(axis: number): Tensor { return softmax(this, axis); }
  /** log(softmax) along `axis`, computed stably. @example logits.logSoftmax(-1) */
  logSoftmax(axis: number): Tensor { return logSoftmax(this, axis); }

  // Shape and views
  /** New shape (one dim may be -1), as a list or as arguments: `reshape([2, 3])` or `reshape(2, 3)`. */
  reshape(...shape: number[] | [readonly number[]]): Tensor { return vw.reshape(this, dimsArg('reshape', shape)); }
  /** Merges dims `startDim..endDim` into one (all by default). @example randn([2, 3, 4]).flatten(1) // [2, 12] */
  flatten(startDim = 0, endDim = -1): Tensor { return flatten(this, startDim, endDim); }
  /** Reorders dims, as a list or as arguments: `permute([1, 0])` or `permute(1, 0)`. */
  permute(...dims: number[] | [readonly number[]]): Tensor { return vw.permute(this, dimsArg('permute', dims)); }
  /** Swaps two dims (a view). @example x.transpose(0, 1) */
  transpose(dim0: number, dim1: number): Tensor { return vw.transpose(this, dim0, dim1); }
  /** Broadcasts size-1 dims to `shape` without copying (-1 keeps a dim). @example x.expand([4, 3]) */
  expand(shape: readonly number[]): Tensor { return vw.expand(this, shape); }
  /** Per-dim `[start, end)` or `[start, end, step]` ranges (negative indices count from the end); missing dims are kept whole. */
  slice(ranges: readonly vw.SliceRange[]): Tensor { return vw.slice(this, ranges); }
  /** Drops size-1 dims (only `axis` when given). @example x.squeeze(0) */
  squeeze(axis?: number): Tensor { return vw.squeeze(this, axis); }
  /** Inserts a size-1 dim at `axis`. @example x.unsqueeze(0) */
  unsqueeze(axis: number): Tensor { return vw.unsqueeze(this, axis); }
  /** This tensor if contiguous, else a contiguous copy. @example x.transpose(0, 1).contiguous() */
  contiguous(): Tensor { return vw.contiguous(this); }

  // Indexing
  /** torch.gather: picks elements along `axis` named by an int32 `index` of the same rank. @example logits.gather(1, y.unsqueeze(1)) */
  gather(axis: number, index: Tensor): Tensor { return idx.gather(this, axis, index); }
  /** Whole slices along `axis` at a 1-D int32 index. @example table.indexSelect(0, ids) */
  indexSelect(axis: number, index: Tensor): Tensor { return idx.indexSelect(this, axis, index); }

  /**
   * Overwrites this tensor's elements with `src` (broadcast to this shape), in place, outside the
   * graph. For optimizer updates and weight merging; not allowed on tensors in a graph.
   */
  copy_(src: Tensor): this {
    vw.copyInto(this, src);
    return this;
  }

  // Ops added for PyTorch users: rounding, statistics, scans, sorting, splitting, masks,
  // predicates, views, in-place updates and moving storage between backends.
  /** Limits elements to `[min, max]`; either bound may be omitted (pass null). @example x.clamp(0, 1) */
  clamp(min?: Tensor | number | null, max?: Tensor | number | null): Tensor { return clamp(this, min, max); }
  /** Alias of `clamp`, as in PyTorch. @example x.clip(-1, 1) */
  clip(min?: Tensor | number | null, max?: Tensor | number | null): Tensor { return clamp(this, min, max); }
  /** Largest integer ≤ x; zero gradient. @example tensor([1.5]).floor() // [1] */
  floor(): Tensor { return floor(this); }
  /** Smallest integer ≥ x; zero gradient. @example tensor([1.5]).ceil() // [2] */
  ceil(): Tensor { return ceil(this); }
  /** Nearest integer, halves to even; zero gradient. @example tensor([2.5]).round() // [2] */
  round(): Tensor { return round(this); }
  /** Variance (unbiased by default) over `axis`, or all. @example x.var(0, { unbiased: false }) */
  var(axis?: number | number[], opts: VarOptions = {}): Tensor { return variance(this, axis, opts); }
  /** Standard deviation (unbiased by default) over `axis`, or all. @example x.std(-1, { keepdim: true }) */
  std(axis?: number | number[], opts: VarOptions = {}): Tensor { return std(this, axis, opts); }
  /** log Σ exp over `axis`, stable for large values. @example logits.logsumexp(-1) */
  logsumexp(axis: number | number[], keepdim = false): Tensor { return logsumexp(this, axis, keepdim); }
  /** Running sums along `axis`. @example tensor([1, 2, 3]).cumsum(0) // [1, 3, 6] */
  cumsum(axis: number): Tensor { return cumsum(this, axis); }
  /** Stable sort along `axis`: `[values, indices]` (also `.values`, `.indices`). @example const [v, i] = x.sort(-1, true) */
  sort(axis = -1, descending = false): ValuesIndices { return sort(this, axis, descending); }
  /** Indices (int32) that sort along `axis`. @example x.argsort() */
  argsort(axis = -1, descending = false): Tensor { return argsort(this, axis, descending); }
  /** The k largest (or smallest) along `axis`: `[values, indices]`. @example const [v, i] = logits.topk(3) */
  topk(k: number, axis = -1, largest = true): ValuesIndices { return topk(this, k, axis, largest); }
  /** Views of pieces of `size` (or of listed sizes) along `axis`. @example x.split(2) */
  split(sizes: number | readonly number[], axis = 0): Tensor[] { return split(this, sizes, axis); }
  /** `chunks` near-equal views along `axis`. @example x.chunk(4, -1) */
  chunk(chunks: number, axis = 0): Tensor[] { return chunk(this, chunks, axis); }
  /** Lower triangle of the last two dims. @example ones([3, 3]).tril() */
  tril(diagonal = 0): Tensor { return tril(this, diagonal); }
  /** Upper triangle of the last two dims. @example ones([3, 3]).triu(1) */
  triu(diagonal = 0): Tensor { return triu(this, diagonal); }
  /** int32 1 where NaN. @example x.isnan().sum() */
  isnan(): Tensor { return isnan(this); }
  /** int32 1 where ±∞. @example x.isinf() */
  isinf(): Tensor { return isinf(this); }
  /** int32 1 where finite. @example x.isfinite() */
  isfinite(): Tensor { return isfinite(this); }
  /** Splits dim `axis` into `sizes`. @example randn([2, 12]).unflatten(1, [3, 4]) */
  unflatten(axis: number, sizes: readonly number[]): Tensor { return unflatten(this, axis, sizes); }

  /**
   * A view with a new shape, refused (as in PyTorch) when the data is not contiguous; `reshape`
   * copies instead.
   *
   * @example
   * randn([2, 6]).view(3, 4);
   */
  view(...shape: number[] | [readonly number[]]): Tensor {
    check(this.isContiguous, 'view', () => `tensor of shape ${fmt(this.shape)} is not contiguous, so it has no view of another shape; use reshape() (which copies) or contiguous().view(...)`);
    return vw.reshape(this, dimsArg('view', shape));
  }

  /** Sets every element to 0, in place (see `add_`). @example noGrad(() => w.zero_()) */
  zero_(): this { return this.fill_(0); }
  /** Sets every element to `value`, in place (see `add_`). @example noGrad(() => w.fill_(0.5)) */
  fill_(value: number): this { return this._inPlace('fill_', [], () => ew.fullLike(this, value)); }
  /**
   * Adds `other` (broadcast to this shape) in place. In-place ops bump the version counter, so
   * a graph that saved this tensor refuses to run backward; on a tensor that requires grad they
   * are allowed only inside `noGrad`.
   *
   * @example
   * noGrad(() => w.add_(w.grad!.mul(-0.1)));
   */
  add_(other: Tensor | number): this { return this._inPlace('add_', [other], () => this.add(other)); }
  /** Multiplies by `other` in place (see `add_`). @example noGrad(() => w.mul_(0.9)) */
  mul_(other: Tensor | number): this { return this._inPlace('mul_', [other], () => this.mul(other)); }
  /** Clamps in place (see `add_`). @example noGrad(() => w.clamp_(-1, 1)) */
  clamp_(min?: Tensor | number | null, max?: Tensor | number | null): this {
    return this._inPlace('clamp_', [min, max], () => clamp(this, min, max));
  }

  /** Validates an in-place update of this tensor, computes it without a graph, then writes it. */
  private _inPlace(op: string, operands: (Tensor | number | null | undefined)[], compute: () => Tensor): this {
    this._storageRef(op);
    check(!this._gradFn, op, () => 'cannot change a tensor produced by a recorded op in place; detach() it first');
    check(!(this._requiresGrad && isGradEnabled()), op, () =>
      `tensor of shape ${fmt(this.shape)} requires grad, so it may change in place only inside noGrad(() => ...)`);
    for (const operand of operands) {
      if (!(operand instanceof Tensor)) continue;
      check(operand._backend === this._backend, op, () => `operand is on '${operand.backend}' but this tensor is on '${this.backend}'; move it with await t.to('${this.backend}')`);
      check(shapesEqual(broadcastShapes(op, this.shape, operand.shape), this.shape), op, () =>
        `operand of shape ${fmt(operand.shape)} does not broadcast to this tensor's shape ${fmt(this.shape)}`);
    }
    const value = noGrad(compute);
    this.copy_(value);
    value.dispose();
    return this;
  }

  /**
   * @internal Moves this leaf's storage to `backend` in place, keeping its identity (so modules
   * and optimizers holding it see the move); the data becomes contiguous. Outside core: `moveStorage_`.
   */
  _replaceStorage(backend: Backend, data: TypedArray): void {
    const old = this._storageRef('to');
    const ref = new StorageRef(backend, backend.upload(data));
    unadopt(this._token);
    old.release();
    this._ref = ref;
    this._token = adopt(this, ref);
    const self = this as { strides: readonly number[]; offset: number };
    self.strides = Object.freeze(contiguousStrides(this.shape));
    self.offset = 0;
  }
}

/** Dims given as one list or as separate numbers (`reshape([2, 3])`, `reshape(2, 3)`). */
function dimsArg(op: string, args: number[] | [readonly number[]]): readonly number[] {
  if (args.length === 1 && Array.isArray(args[0])) return args[0];
  check(args.every((d) => typeof d === 'number'), op, () => `pass the dims as numbers or one list of numbers, e.g. ${op}(2, 3) or ${op}([2, 3])`);
  return args as number[];
}

guardTensorMethods(Tensor.prototype);

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
