import { type DType, type StorageArray, isHalf } from './dtype.js';
import { TsgradError, check } from './errors.js';
import { refuseHalf } from './halfGuard.js';

/**
 * The options each backend takes, by name, so `setBackend('webgpu', { … })` is type-checked.
 * Core names no backend: each adds its entry by declaration merging, the built-in ones beside
 * their options, a backend of your own with
 * `declare module 'tsgrad' { interface BackendOptions { mine: MineOptions } }`.
 */
export interface BackendOptions {}

/** Options of backend `N`: its own type for a declared backend, any object otherwise. */
export type OptionsOf<N extends string> = N extends keyof BackendOptions ? BackendOptions[N] : Record<string, unknown>;

/**
 * What `getBackendInfo(name)` reports for each backend, by name. Each backend adds its entry by
 * declaration merging, as for `BackendOptions`:
 * `declare module 'tsgrad' { interface BackendInfos { mine: MineInfo } }`.
 */
export interface BackendInfos {}

/** The info of backend `N`, with its name: its own type for a known backend, any object otherwise. */
export type InfoOf<N extends string> = { name: N } & (N extends keyof BackendInfos ? BackendInfos[N] : Record<string, unknown>);

/** The info of any known backend, told apart by `name` (what `getBackendInfo()` returns). */
export type BackendInfo = { [N in keyof BackendInfos]: InfoOf<N> }[keyof BackendInfos];

/**
 * A strided window onto a backend's storage. Broadcasting is expressed with stride 0, so every
 * primitive sees operands that already have the output's shape.
 */
export interface View<S = unknown> {
  readonly storage: S;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
}

/**
 * The elementwise unary primitives. The GELUs and their derivatives (`geluGrad` is gelu'(x)) are
 * primitives so that each is one pass over memory; their higher derivatives are composed in core.
 */
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'sigmoid' | 'tanh' | 'erf' | 'relu' | 'sign'
  | 'gelu' | 'geluTanh' | 'geluGrad' | 'geluTanhGrad';
/** The elementwise binary primitives (comparisons return int32). */
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
/** The reductions over axes. */
export type ReduceOp = 'sum' | 'max' | 'min';
/** The index reductions along one axis. */
export type ArgReduceOp = 'argmax' | 'argmin';

/**
 * The operands of the fused attention kernels: query [...B, L, E], key [...B, S, E] and value
 * [...B, S, Ev] share the batch shape B (broadcast with stride 0). `mask`, null or of shape
 * [...B, L, S], is int32 (non-zero: may attend) or float (added to the scores); `isCausal` masks
 * key j > query i; `dropout`, null or [...B, L, S], multiplies the weights after the softmax. A
 * row that may attend nowhere gives zeros.
 */
export interface AttentionArgs<S> {
  query: View<S>; key: View<S>; value: View<S>; mask: View<S> | null;
  isCausal: boolean; scale: number; dropout: View<S> | null;
}

/** Optional fused kernels a backend may provide; core falls back to composed primitives. */
export interface FusedKernels<S> {
  /**
   * One Adam/AdamW update in place: param, m, v are contiguous float storages of `size` elements.
   * `decoupledDecay` is AdamW's `lr·wd`; `l2` is Adam's coupled weight decay.
   */
  adam?(args: {
    param: S; grad: View<S>; m: S; v: S; size: number;
    lr: number; beta1: number; beta2: number; eps: number;
    biasCorrection1: number; biasCorrection2: number; l2: number; decoupledDecay: number;
  }): void;
  /**
   * Softmax of float `x` along `axis` (log-softmax when `log`), subtracting the row max first so
   * large logits stay finite: a new contiguous storage with x's shape. Core records the gradient.
   */
  softmax?(x: View<S>, axis: number, log: boolean): S;
  /**
   * Softmax's backward, y·(g − Σ g·y) along `axis`, for the softmax output `y` and the gradient
   * `g` (same shape): a new contiguous storage, or null to leave it to core's composed form.
   */
  softmaxBackward?(y: View<S>, g: View<S>, axis: number): S | null;
  /**
   * Scaled dot-product attention's forward, softmax(q·kᵀ·scale + mask)·v (see `AttentionArgs`):
   * `out`, a new contiguous [...B, L, Ev] storage, and `logsumexp`, a new contiguous [...B, L]
   * storage of each row's log Σ exp(score) (+Infinity for a row that may attend nowhere), which
   * core saves for `attentionBackward`. Core records the gradient.
   */
  attention?(args: AttentionArgs<S>): { out: S; logsumexp: S };
  /**
   * Attention's first-order backward from the forward's `out` and `logsumexp` and the output's
   * gradient `grad` (all three contiguous): the gradients of query, key and value, new
   * contiguous storages of their [...B, …] shapes, recomputing the weights per tile (as
   * FlashAttention-2) instead of storing them. Core uses it only when the backward needs no
   * graph and the mask wants no gradient; its composed backward is the reference.
   */
  attentionBackward?(args: AttentionArgs<S> & { out: View<S>; logsumexp: View<S>; grad: View<S> }): { query: S; key: S; value: S };
  /**
   * `x · Wᵀ` (`transposed`) or `x · W` for float32 `x` [m, k] (contiguous from its offset) and a
   * block-quantized W (see core/quant.ts), dequantizing W on the fly: a new [m, n] float32
   * storage. Core records the gradient.
   */
  quantizedMatmul?(args: { x: View<S>; weight: QuantizedStorage<S>; transposed: boolean }): S;
  /**
   * Rows `indices` (int32, contiguous from its offset) of a block-quantized [rows, cols] table
   * whose rows are whole blocks, dequantized as core/quant.ts's `dequantizeRows`: a new
   * [indices, cols] float32 storage. Core records no gradient (the table is frozen).
   */
  quantizedEmbedding?(args: { indices: View<S>; weight: QuantizedStorage<S> }): S;
  /**
   * The matmul primitive's product when one operand is float16/bfloat16 and the other float32,
   * reading the 16-bit one as float32 without widening it whole: a new float32 storage, or null
   * to leave it to core (which widens the 16-bit operand for the product). Core records the gradient.
   */
  halfMatmul?(a: View<S>, b: View<S>): S | null;
  /**
   * LayerNorm over the last dim D of float `x`, y = (x − mean)·rstd·weight + bias with
   * rstd = 1/√(var + eps), the variance biased; `weight` and `bias` are [D] or null. New
   * contiguous storages: y (x's shape), and each row's mean and rstd (x's shape with D → 1).
   */
  layerNorm?(x: View<S>, weight: View<S> | null, bias: View<S> | null, eps: number): [y: S, mean: S, rstd: S];
  /**
   * LayerNorm's gradients given `g` (x's shape) and the forward's `mean` and `rstd`: with
   * x̂ = (x − mean)·rstd and ĝ = g·weight, dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), dweight = Σ g·x̂
   * and dbias = Σ g over the rows. New contiguous storages: dx (x's shape), dweight and dbias [D].
   */
  layerNormBackward?(g: View<S>, x: View<S>, mean: View<S>, rstd: View<S>, weight: View<S> | null): [dx: S, dweight: S, dbias: S];
  /**
   * Cross-entropy of each row of float `logits` [..., C] against int32 `target` [...]:
   * −(1 − ε)·logp[t] − (ε/C)·Σ logp with logp the log-softmax of the row and ε = `labelSmoothing`,
   * 0 where the target is `ignoreIndex`. New contiguous storages: the losses (target's shape) and logp.
   */
  crossEntropy?(logits: View<S>, target: View<S>, ignoreIndex: number, labelSmoothing: number): [loss: S, logp: S];
  /**
   * Cross-entropy's gradient with respect to the logits given `g` (target's shape) and the
   * forward's `logp`: g·(exp(logp) − (1 − ε)·onehot(t) − ε/C), 0 on ignored rows. A new
   * contiguous storage of logp's shape.
   */
  crossEntropyBackward?(g: View<S>, logp: View<S>, target: View<S>, ignoreIndex: number, labelSmoothing: number): S;
  /**
   * im2col: every window of `x` [N, C, H, W] (any strides) copied into a new contiguous
   * [N, C, kh, kw, OH, OW] storage of x's dtype. Core records the gradient (col2im).
   */
  im2col?(x: View<S>, window: Window2d): S;
  /**
   * col2im: the windows `cols` [N, C, kh, kw, OH, OW] summed into a new contiguous [N, C, H, W]
   * storage of `size` [H, W], each pixel's taps added in kernel order (i, then j) from zero, as
   * core's composed form adds them. Core records the gradient (im2col).
   */
  col2im?(cols: View<S>, size: readonly [number, number], window: Window2d): S;
}

/** A sliding window over the last two dims: kernel size, dilation, stride, and the window count along each. */
export interface Window2d {
  kernel: readonly [number, number];
  dilation: readonly [number, number];
  stride: readonly [number, number];
  /** Windows along H and W (the output's spatial size). */
  out: readonly [number, number];
}

/**
 * A block-quantized [rows, cols] matrix as a kernel sees it: int32 words of packed codes (NF4 two
 * per byte, high nibble first; int8 one per byte), and per block a float32 absmax, or (`nested`)
 * int32 words of 8-bit dynamic codes of absmax − offset with a float32 scale per `blockSize` of them.
 */
export interface QuantizedStorage<S> {
  format: 'int8' | 'nf4';
  rows: number;
  cols: number;
  blockSize: number;
  codes: S;
  absmax: S;
  nested: { absmax2: S; offset: number; blockSize: number } | null;
}

/**
 * The compute primitives of `Backend`, the methods that run a kernel: core counts every call of
 * each (`backendStats`). A new primitive joins the interface and this list: `satisfies` refuses a
 * name the interface lacks, and test/core/backend-primitives.test.ts a method missing here.
 */
export const PRIMITIVES = ['unary', 'cast', 'binary', 'where', 'reduce', 'argReduce', 'matmul', 'gather', 'scatterAdd', 'copy'] as const satisfies readonly (keyof Backend)[];

/** The name of a compute primitive. */
export type Primitive = (typeof PRIMITIVES)[number];

const COUNTED: ReadonlySet<PropertyKey> = new Set(PRIMITIVES);

/**
 * The primitives a backend implements. Every compute primitive returns a new contiguous storage
 * holding `sizeOf(outShape)` elements, except `copy`, which writes into an existing view.
 * Gradients never live here: core composes them from these primitives.
 */
export interface Backend<S = unknown> {
  readonly name: string;
  /** True when results can be read without awaiting (`readSync` exists). */
  readonly synchronous: boolean;
  readonly dtypes: readonly DType[];

  /** Copies host data into a new storage (a 16-bit float dtype's as its bit patterns, a Uint16Array). */
  upload(data: StorageArray): S;
  /** A new storage of `size` elements holding `value`. */
  fill(size: number, dtype: DType, value: number): S;
  /** Reads a view's elements in row-major order (a 16-bit float view's as its bit patterns). */
  read(x: View<S>): Promise<StorageArray>;
  /** Synchronous `read`, for synchronous backends. */
  readSync?(x: View<S>): StorageArray;
  /** Releases a storage. */
  free(storage: S): void;
  /** Bytes the backend holds for one storage. */
  bytes(storage: S): number;

  /** An elementwise op of the shared op table. */
  unary(op: UnaryOp, x: View<S>): S;
  /** Converts to `dtype`. */
  cast(x: View<S>, dtype: DType): S;
  /** `a` and `b` share one shape and dtype; comparisons return int32 0/1, the rest `a.dtype`. */
  binary(op: BinaryOp, a: View<S>, b: View<S>): S;
  /** `cond` is int32; `a`, `b` share a dtype; all three share one shape. */
  where(cond: View<S>, a: View<S>, b: View<S>): S;
  /** Reduces over sorted `axes`; the result drops those axes. */
  reduce(op: ReduceOp, x: View<S>, axes: readonly number[]): S;
  /** Index (int32) of the first max/min along `axis`; the result drops that axis. */
  argReduce(op: ArgReduceOp, x: View<S>, axis: number): S;
  /** `a` [...batch, m, k] times `b` [...batch, k, n]; both carry the same batch shape. */
  matmul(a: View<S>, b: View<S>): S;
  /** torch.gather: out[...i...] = x[... index[...i...] ...] along `axis`; out has index's shape. */
  gather(x: View<S>, axis: number, index: View<S>): S;
  /** Inverse of gather: a zeros tensor of `outShape` with `src` added at `index` along `axis`. */
  scatterAdd(src: View<S>, axis: number, index: View<S>, outShape: readonly number[]): S;
  /** Writes `src` into the view `dst` (same shape and dtype), in place. */
  copy(src: View<S>, dst: View<S>): void;

  /** Resolves when all queued work has finished (asynchronous backends). */
  sync?(): Promise<void>;
  /** Live storages and bytes held right now (counted by core: a backend leaves this out). */
  memory(): { buffers: number; bytes: number };
  /** Optional fused kernels. */
  readonly fused?: FusedKernels<S>;
  /** What the backend found: adapter, kernel type, limits (GPU backends). */
  readonly info?: object;
  /** Free the device and every storage. */
  destroy?(): void;
  /** Applies the options of a later `setBackend`/`initBackend` to this existing backend. */
  configure?(options: Record<string, unknown>): void;
}

/** Per-backend counters kept by core, so tests can prove which kernels ran. */
export interface BackendStats {
  /** Compute primitives dispatched (upload, fill, read and free are not kernels). */
  kernels: number;
  /** Dispatches by primitive and op, e.g. `matmul`, `binary:mul`. */
  byOp: Map<string, number>;
}

/**
 * A backend as written: every member of `Backend` but `memory`, which core answers itself by
 * counting the storages the backend's primitives return and the ones it frees.
 *
 * @example
 * class MineBackend implements BackendImplementation<Float32Array> { ... }
 */
export type BackendImplementation<S = unknown> = Omit<Backend<S>, 'memory'>;

/** Creates a backend (maybe asynchronously) from its options. */
export type BackendFactory = (options?: Record<string, unknown>) => BackendImplementation | Promise<BackendImplementation>;

/**
 * A backend as core registers it, the one shape every backend (built-in or your own) uses:
 * its name, a check of its options, and its factory. Core calls `checkOptions` before creating or
 * reconfiguring anything, so bad options change nothing.
 *
 * @example
 * registerBackend({ name: 'mine', checkOptions: () => {}, create: (o) => new MineBackend(o) });
 */
export interface BackendPlugin<N extends string = string> {
  readonly name: N;
  /** Throws a TsgradError naming each unknown option or bad value (never called with undefined). */
  checkOptions(options: unknown): void;
  /** Creates the backend from options that passed `checkOptions`. */
  create(options?: OptionsOf<N>): BackendImplementation | Promise<BackendImplementation>;
}

const plugins = new Map<string, BackendPlugin>();
const instances = new Map<string, Backend>();
/** The options each backend was created with, so a later call asking for others is refused. */
const createdWith = new Map<string, Record<string, unknown>>();
const stats = new WeakMap<Backend, BackendStats>();
let current: Backend | null = null;

/** One backend's live storages and their bytes, as core's wrapper sees them made and freed. */
interface StorageAccount {
  /** What `memory()` reports. */
  memory(): { buffers: number; bytes: number };
  /** Counts the storage a primitive returned (none from `copy` or an in-place fused kernel); returns it. */
  made(storage: unknown): unknown;
  /** The backend's member `prop` (bound to it), counting what `upload` and `fill` make, `free` and `destroy`. */
  member(prop: PropertyKey, fn: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown;
}

/**
 * Core counts every backend's storages, so no backend does: a storage counts, by the bytes the
 * backend reports for it, from the primitive that returns it (upload, fill, a compute primitive
 * other than `copy`, a fused kernel with a result) until `free`; none is left after `destroy`.
 */
function storageAccount(b: BackendImplementation): StorageAccount {
  let buffers = 0;
  let bytes = 0;
  let destroyed = false;
  // null or undefined is no storage: what `copy` and in-place fused kernels return.
  const made = (storage: unknown): unknown => {
    // A fused kernel with several results returns them as a list.
    if (Array.isArray(storage)) return storage.map(made);
    if (storage != null && !destroyed) {
      buffers++;
      bytes += b.bytes(storage);
    }
    return storage;
  };
  return {
    memory: () => ({ buffers, bytes }),
    made,
    member(prop, fn) {
      if (prop === 'upload' || prop === 'fill') return (...args) => made(fn(...args));
      if (prop === 'free') {
        return (storage) => {
          if (storage != null && !destroyed) {
            buffers--;
            bytes -= b.bytes(storage);
          }
          return fn(storage);
        };
      }
      if (prop === 'destroy') {
        return () => {
          fn();
          destroyed = true;
          buffers = bytes = 0;
        };
      }
      return fn;
    },
  };
}

/** The fused kernels that return a record of named storages rather than one. */
const RECORD_RESULTS: ReadonlySet<string> = new Set(['attention', 'attentionBackward']);

/** Counts what fused kernel `k` returned: one storage, none, or each storage of its record. */
function madeBy(account: StorageAccount, k: string, result: unknown): unknown {
  if (!RECORD_RESULTS.has(k)) return account.made(result);
  for (const storage of Object.values(result as Record<string, unknown>)) account.made(storage);
  return result;
}

/**
 * Wraps a backend so every compute primitive (and fused kernel) bumps its counters, and its
 * storages are counted (`storageAccount`). Other members pass through, bound to the backend itself.
 */
function counted(b: BackendImplementation): Backend {
  const s: BackendStats = { kernels: 0, byOp: new Map() };
  const account = storageAccount(b);
  // A backend that stores 16-bit floats gets them only in the kernels that take them (halfGuard.ts).
  const guardHalf = b.dtypes.some(isHalf);
  const bump = (key: string, args: readonly unknown[]) => {
    if (guardHalf) refuseHalf(key, args);
    s.kernels++;
    s.byOp.set(key, (s.byOp.get(key) ?? 0) + 1);
  };
  const methods = new Map<PropertyKey, unknown>();
  let fused: FusedKernels<unknown> | undefined;
  const wrapped = new Proxy(b as Backend, {
    get(target, prop) {
      if (prop === 'memory') return account.memory;
      if (prop === 'fused' && target.fused) {
        fused ??= Object.fromEntries(
          Object.entries(target.fused).map(([k, f]) => [k, (...args: unknown[]) => (bump(`fused:${k}`, args), madeBy(account, k, (f as (...a: unknown[]) => unknown).apply(target.fused, args)))]),
        );
        return fused;
      }
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      let m = methods.get(prop);
      if (!m) {
        const fn = (value as (...args: unknown[]) => unknown).bind(target);
        m = COUNTED.has(prop)
          ? (...args: unknown[]) => (bump(typeof args[0] === 'string' ? `${String(prop)}:${args[0]}` : String(prop), args), account.made(fn(...args)))
          : account.member(prop, fn);
        methods.set(prop, m);
      }
      return m;
    },
  });
  stats.set(wrapped, s);
  return wrapped;
}

function showOptions(o: Record<string, unknown>): string {
  const entries = Object.entries(o).filter(([, v]) => v !== undefined);
  return entries.length ? `{ ${entries.map(([k, v]) => `${k}: ${typeof v === 'string' ? `'${v}'` : typeof v === 'object' ? 'an object' : String(v)}`).join(', ')} }` : '{}';
}

/**
 * Makes a backend available under its name, to create with `setBackend`/`initBackend`. The
 * two-argument form registers a bare factory whose options go unchecked.
 *
 * @example
 * registerBackend({ name: 'mine', checkOptions: () => {}, create: () => new MineBackend() });
 * registerBackend('mine', () => new MineBackend());
 */
export function registerBackend<N extends string>(plugin: BackendPlugin<N>): void;
export function registerBackend(name: string, factory: BackendFactory): void;
export function registerBackend(what: BackendPlugin | string, factory?: BackendFactory): void {
  const plugin: BackendPlugin = typeof what === 'string' ? { name: what, checkOptions: () => {}, create: factory! } : what;
  check(typeof plugin?.name === 'string' && plugin.name !== '', 'registerBackend', () => 'give a backend { name, checkOptions, create } or a name and a factory');
  check(typeof plugin.create === 'function' && typeof plugin.checkOptions === 'function', 'registerBackend', () =>
    `backend '${plugin.name}' needs ${typeof what === 'string' ? 'a create function (the second argument)' : 'create and checkOptions functions'}`);
  plugins.set(plugin.name, plugin);
}

/** Names of the registered backends. */
export function listBackends(): string[] {
  return [...plugins.keys()];
}

/**
 * Creates (once) the backend `name` without making it current.
 *
 * @example
 * await initBackend('webgpu'); const t = x.to('webgpu');
 */
export async function initBackend<N extends string>(name: N, opts?: OptionsOf<N>): Promise<Backend> {
  const options = opts as Record<string, unknown> | undefined;
  const plugin = plugins.get(name);
  if (options !== undefined) plugin?.checkOptions(options);
  const existing = instances.get(name);
  if (existing) {
    // A backend that can change its settings in place (cpu: wasm on or off) takes new options;
    // any other refuses options that differ from the ones it was created with.
    if (existing.configure) {
      if (options) existing.configure(options);
    } else {
      const before = createdWith.get(name) ?? {};
      const same = (a: Record<string, unknown>, b: Record<string, unknown>) => Object.keys({ ...a, ...b }).every((k) => a[k] === b[k]);
      if (options !== undefined && !same(options, before)) {
        throw new TsgradError('setBackend', `backend '${name}' is already initialized with options ${showOptions(before)}, not ${showOptions(options)}; call removeBackend('${name}') first to create it again`);
      }
    }
    return existing;
  }
  if (!plugin) {
    throw new TsgradError('setBackend', `unknown backend '${name}'; registered: ${listBackends().join(', ')}`);
  }
  const backend = counted(await plugin.create(options));
  instances.set(name, backend);
  createdWith.set(name, { ...options });
  return backend;
}

/**
 * Makes `name` the backend new tensors are created on.
 *
 * @example
 * await setBackend('webgpu');
 */
export async function setBackend<N extends string>(name: N, options?: OptionsOf<N>): Promise<void> {
  current = await initBackend(name, options);
}

/** The current backend (the CPU backend until `setBackend` says otherwise). */
export function getBackend(): Backend {
  if (!current) {
    const cpu = instances.get('cpu');
    if (cpu) current = cpu;
    else throw new TsgradError('getBackend', `no backend is initialized; await setBackend('cpu')`);
  }
  return current;
}

/** An initialized backend by name; a clear error if it was never initialized. */
export function backendByName(name: string): Backend {
  const b = instances.get(name);
  if (!b) {
    throw new TsgradError(
      'backend',
      plugins.has(name)
        ? `backend '${name}' is not initialized; await setBackend('${name}') or await initBackend('${name}') first`
        : `unknown backend '${name}'; registered: ${listBackends().join(', ')}`,
    );
  }
  return b;
}

/** Registers an already-created backend instance (used for the synchronous CPU backend). */
export function installBackend(name: string, backend: BackendImplementation): Backend {
  const wrapped = counted(backend);
  instances.set(name, wrapped);
  return wrapped;
}

/**
 * What an initialized backend reports about itself, typed by the name passed: for webgpu the
 * adapter, Dawn backend, feature level and limits; for gpujs the kernel type gpu.js actually
 * gave; for cpu the kernel path, SIMD flavour and threads. Without a name, the current backend's,
 * told apart by `name`.
 *
 * @example
 * await setBackend('webgpu'); console.log(getBackendInfo('webgpu').limits);
 */
export function getBackendInfo<N extends string>(name: N): InfoOf<N>;
export function getBackendInfo(): BackendInfo;
export function getBackendInfo(name?: string): { name: string } {
  const b = name ? backendByName(name) : getBackend();
  return { name: b.name, ...b.info };
}

/** Kernel counters for a backend; `resetStats` zeroes them. */
export function backendStats(name?: string): BackendStats {
  const b = name ? backendByName(name) : getBackend();
  return stats.get(b)!;
}

/** Zeroes a backend's kernel counters. @example resetStats('webgpu') */
export function resetStats(name?: string): void {
  const s = backendStats(name);
  s.kernels = 0;
  s.byOp.clear();
}

/** Forgets an initialized backend (after destroying it); the current backend falls back to cpu. */
export function removeBackend(name: string): void {
  const b = instances.get(name);
  if (!b) return;
  b.destroy?.();
  instances.delete(name);
  createdWith.delete(name);
  if (current === b) current = instances.get('cpu') ?? null;
}
