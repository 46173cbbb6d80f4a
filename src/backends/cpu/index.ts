import type { ArgReduceOp, BackendImplementation, BinaryOp, FusedKernels, ReduceOp, UnaryOp, View } from '../../core/backend.js';
import { type DType, type StorageArray, type TypedArray, isHalf, storageArrayFor } from '../../core/dtype.js';
import { bfloat16Bits, float16Bits } from '../../core/half.js';
import { contiguousStrides, isContiguous, sizeOf } from '../../core/shape.js';
import { BINARY, UNARY, erf, gelu, geluGrad, geluTanh, geluTanhGrad } from '../shared/opTable.js';
import { type Operand, reducedStrides, runMap } from '../shared/strided.js';
import { adamJs, softmaxJs } from './fused.js';
import { attentionBackwardJs, attentionJs } from './attention.js';
import { layerNormBackward, layerNormForward } from './layerNorm.js';
import { type AddRow, gatherRows, scatterAddRows } from './gatherRows.js';
import { crossEntropyGradient, crossEntropyLoss } from './crossEntropy.js';
import { col2imJs, im2colJs } from './unfold.js';
import { batchedMatmul } from './matmul.js';
import { quantizedEmbeddingCpu, quantizedMatmulCpu } from './quantized.js';
import { castHalf, halfMatmulCpu } from './halfMatmul.js';
import { matmulThreads } from './threads.js';
import { Arena } from './wasm/arena.js';
import { WasmElementwise, isWasmBinary, isWasmUnary } from './wasm/kernels.js';
import { WasmMatmul } from './wasm/matmul.js';
import { wasmAttention } from './wasm/attentionKernels.js';
import { WasmReductions } from './wasm/reductions.js';
import { WasmSelect, isWasmCompare } from './wasm/select.js';
import { softmaxBackwardWasm } from './wasm/softmaxBackward.js';
import { layerNormBackwardWasm, layerNormForwardWasm } from './wasm/layerNorm.js';
import { copyWasm } from './wasm/copy.js';
import { crossEntropyGradientWasm } from './wasm/crossEntropy.js';
import { fastFills } from './wasm/random.js';
import { setFastFills } from '../../core/random.js';
import { type WasmRuntime, startWasm } from './wasm/runtime.js';
import { type CpuInfo, type CpuOptions, checkCpuOptions } from './options.js';

export type { CpuInfo, CpuOptions };

const helpers = { erf, gelu, geluGrad, geluTanh, geluTanhGrad };
/** Elements from which a float32 storage in the module's memory is filled by the WebAssembly loop (below, the call costs more). */
const MIN_WASM_FILL = 256;

function operand(v: View<TypedArray>): Operand {
  return { data: v.storage, offset: v.offset, strides: v.strides };
}

function contiguous(data: TypedArray, shape: readonly number[]): Operand {
  return { data, offset: 0, strides: contiguousStrides(shape) };
}

/**
 * A new storage of `dtype` on the JavaScript heap. A float16/bfloat16 storage is a Uint16Array of
 * bit patterns typed as the others: core's half guard (core/halfGuard.ts) lets such a view reach
 * only `cast`, `copy`, `gather` and the fused `halfMatmul`, which treat it as bits.
 */
function heapArray(dtype: DType, size: number): TypedArray {
  return storageArrayFor(dtype, size) as TypedArray;
}

/** A view's elements in row-major order: the storage itself when contiguous, else a copy. */
function dense(v: View<TypedArray>): TypedArray {
  const n = sizeOf(v.shape);
  if (isContiguous(v.shape, v.strides)) return v.offset === 0 && v.storage.length === n ? v.storage : v.storage.subarray(v.offset, v.offset + n);
  const out = contiguous(heapArray(v.dtype, n), v.shape);
  runMap('v0', v.shape, out, [operand(v)]);
  return out.data;
}

/** Visits the offsets of a strided view in row-major order. */
function forEachOffset(shape: readonly number[], strides: readonly number[], offset: number, f: (off: number, i: number) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  let off = offset;
  for (let i = 0; i < n; i++) {
    f(off, i);
    for (let d = shape.length - 1; d >= 0; d--) {
      off += strides[d]!;
      if (++idx[d]! < shape[d]!) break;
      off -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/**
 * One reduction step as an accumulating map expression (see `mapKernel`). NaN sticks in max/min,
 * as in PyTorch: once `acc` is NaN every comparison is false and it is kept.
 */
const REDUCE_STEP: Record<ReduceOp, { expr: string; init: number }> = {
  sum: { expr: 'acc + v0', init: 0 },
  max: { expr: 'v0 > acc || v0 !== v0 ? v0 : acc', init: -Infinity },
  min: { expr: 'v0 < acc || v0 !== v0 ? v0 : acc', init: Infinity },
};

interface WasmKernels {
  rt: WasmRuntime;
  arena: Arena;
  matmul: WasmMatmul;
  elementwise: WasmElementwise;
  reductions: WasmReductions;
  select: WasmSelect;
}

/** The module is built once per process and shared by every CpuBackend. */
let wasmRuntime: WasmKernels | null | undefined;
function wasm(): WasmKernels | null {
  if (wasmRuntime === undefined) {
    const rt = startWasm({ relaxed: relaxedWanted() });
    const arena = rt ? new Arena(rt) : null;
    wasmRuntime = rt && arena && { rt, arena, matmul: new WasmMatmul(arena), elementwise: new WasmElementwise(arena), reductions: new WasmReductions(arena), select: new WasmSelect(arena) };
  }
  return wasmRuntime;
}

/** False where the environment variable `name` (one of the backend's switches) is 0 or false. */
function envAllows(name: string): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return env !== '0' && env !== 'false';
}

/** Relaxed SIMD where the engine has it, unless TSGRAD_CPU_RELAXED is 0 (read once, when the module starts). */
const relaxedWanted = () => envAllows('TSGRAD_CPU_RELAXED');

function wasmWanted(options: CpuOptions): boolean {
  return options.wasm ?? envAllows('TSGRAD_CPU_WASM');
}

/**
 * The CPU backend: typed-array storages (float32 ones inside the WebAssembly module's memory
 * where it is shared), with float32 matmuls, large float32 elementwise ops, reductions, softmax
 * and Adam in WebAssembly SIMD (see docs/cpu.md), and everything else (all of it with
 * `{ wasm: false }`) in compiled strided JavaScript loops and a cache-blocked JavaScript matmul.
 *
 * @example
 * const cpu = new CpuBackend({ wasm: false }); // cpu.info.path === 'js'
 */
export class CpuBackend implements BackendImplementation<TypedArray> {
  readonly name = 'cpu';
  readonly synchronous = true;
  readonly dtypes: readonly DType[] = ['float32', 'float64', 'int32', 'float16', 'bfloat16'];
  private kernels: WasmKernels | null = null;
  readonly fused: FusedKernels<TypedArray> = {
    adam: (args) => {
      if (this.kernels?.elementwise.adam(args)) return;
      adamJs(args, isContiguous(args.grad.shape, args.grad.strides) ? args.grad.storage.subarray(args.grad.offset) : this.readSync(args.grad));
    },
    softmax: (x, axis, log) => {
      const fast = this.kernels?.reductions.softmax(x, axis, log);
      if (fast) return fast;
      const out = this.allocate(x.dtype, sizeOf(x.shape));
      softmaxJs(x, axis, log, out);
      return out;
    },
    halfMatmul: (a, b) => halfMatmulCpu(a, b, this.kernels?.arena ?? null, (x, y) => this.matmul(x, y), (n) => this.allocate('float32', n) as Float32Array, (t) => this.free(t)),
    quantizedMatmul: (args) =>
      quantizedMatmulCpu(args, this.kernels?.arena ?? null, (a, b) => this.matmul(a, b), (n) => this.allocate('float32', n) as Float32Array, (t) => this.free(t)),
    quantizedEmbedding: (args) => quantizedEmbeddingCpu(args, this.readSync(args.indices) as Int32Array, (n) => this.allocate('float32', n) as Float32Array),
    attention: (args) => (this.kernels && wasmAttention(this.kernels.arena).forward(args)) || attentionJs(args),
    attentionBackward: (args) => (this.kernels && wasmAttention(this.kernels.arena).backward(args)) || attentionBackwardJs(args),
    softmaxBackward: (y, g, axis) => (this.kernels ? softmaxBackwardWasm(this.kernels.arena, y, g, axis) : null),
    layerNorm: (x, w, b, eps) => {
      const d = x.shape[x.shape.length - 1]!, n = sizeOf(x.shape), rows = n / d;
      const [y, mean, rstd] = [this.allocate(x.dtype, n), this.allocate(x.dtype, rows), this.allocate(x.dtype, rows)];
      const args = [dense(x), w && dense(w), b && dense(b), rows, d, eps, y, mean, rstd] as const;
      if (!(this.kernels && layerNormForwardWasm(this.kernels.arena, ...args))) layerNormForward(...args);
      return [y, mean, rstd];
    },
    layerNormBackward: (g, x, mean, rstd, w) => {
      const d = x.shape[x.shape.length - 1]!, n = sizeOf(x.shape), rows = n / d;
      const [dx, dw, db] = [this.allocate(x.dtype, n), this.allocate(x.dtype, d), this.allocate(x.dtype, d)];
      const args = [dense(g), dense(x), dense(mean), dense(rstd), w && dense(w), rows, d, dx, dw, db] as const;
      if (!(this.kernels && layerNormBackwardWasm(this.kernels.arena, ...args))) layerNormBackward(...args);
      return [dx, dw, db];
    },
    crossEntropy: (x, target, ignoreIndex, smoothing) => {
      const c = x.shape[x.shape.length - 1]!, rows = sizeOf(x.shape) / c;
      const logp = this.fused.softmax!(x, x.shape.length - 1, true);
      const loss = this.allocate(x.dtype, rows);
      crossEntropyLoss(logp, dense(target), rows, c, ignoreIndex, smoothing, loss);
      return [loss, logp];
    },
    crossEntropyBackward: (g, logp, target, ignoreIndex, smoothing) => {
      const c = logp.shape[logp.shape.length - 1]!, n = sizeOf(logp.shape);
      const p = this.unary('exp', logp);
      const args = [p, dense(g), dense(target), n / c, c, ignoreIndex, smoothing] as const;
      if (!(this.kernels && crossEntropyGradientWasm(this.kernels.arena, ...args))) crossEntropyGradient(...args);
      return p;
    },
    im2col: (x, w) => {
      const out = this.allocate(x.dtype, x.shape[0]! * x.shape[1]! * w.kernel[0] * w.kernel[1] * w.out[0] * w.out[1]);
      im2colJs(x, w, out);
      return out;
    },
    col2im: (cols, size, w) => {
      const out = this.fill(cols.shape[0]! * cols.shape[1]! * size[0] * size[1], cols.dtype, 0);
      col2imJs(cols, size, w, out);
      return out;
    },
  };

  constructor(options: CpuOptions = {}) {
    this.configure(options as Record<string, unknown>);
  }

  /**
   * Switches between the WebAssembly and JavaScript paths. Both use the same storages, so
   * existing tensors stay valid. Invalid options change nothing.
   */
  configure(options: Record<string, unknown>): void {
    checkCpuOptions(options);
    this.kernels = wasmWanted(options) ? wasm() : null;
    // rand's and randn's float32 draws through the module too (the same bits either way).
    setFastFills(this.kernels && fastFills(this.kernels.arena));
  }

  get info(): CpuInfo {
    return { path: this.kernels ? 'wasm' : 'js', simd: this.kernels?.rt.simd ?? null, threads: matmulThreads(), wasmBytes: this.kernels?.arena.usedBytes ?? 0 };
  }

  /**
   * A new storage, its contents undefined: on the WebAssembly path a float32 one lives in the
   * module's memory where it can, so the kernels use it in place.
   */
  private allocate(dtype: DType, size: number): TypedArray {
    return (dtype === 'float32' && this.kernels?.arena.float32(size)) || heapArray(dtype, size);
  }

  upload(data: StorageArray): TypedArray {
    const inMemory = data instanceof Float32Array && this.kernels?.arena.float32(data.length);
    if (!inMemory) return data.slice() as TypedArray;
    inMemory.set(data);
    return inMemory;
  }

  fill(size: number, dtype: DType, value: number): TypedArray {
    const stored = dtype === 'float16' ? float16Bits(value) : dtype === 'bfloat16' ? bfloat16Bits(value) : value;
    const out = this.allocate(dtype, size);
    // In the module's memory a vector loop fills it; TypedArray fill there goes element by element.
    const at = dtype === 'float32' && size >= MIN_WASM_FILL ? (this.kernels?.arena.addressOf(out) ?? -1) : -1;
    if (at < 0) return out.fill(stored);
    this.kernels!.rt.exports.fill(at, Math.ceil(size / 4) * 16, value);
    return out;
  }

  readSync(x: View<TypedArray>): TypedArray {
    // A contiguous view is one block, copied into an ordinary array: by slice(), or by set() from
    // shared memory (the module's), where slice() goes element by element, about 10× slower.
    if (isContiguous(x.shape, x.strides)) {
      const block = x.storage.subarray(x.offset, x.offset + sizeOf(x.shape));
      if (typeof SharedArrayBuffer !== 'function' || !(block.buffer instanceof SharedArrayBuffer)) return block.slice();
      const out = heapArray(x.dtype, block.length);
      out.set(block);
      return out;
    }
    const out = contiguous(heapArray(x.dtype, sizeOf(x.shape)), x.shape);
    runMap('v0', x.shape, out, [operand(x)]);
    return out.data;
  }

  read(x: View<TypedArray>): Promise<TypedArray> {
    return Promise.resolve(this.readSync(x));
  }

  free(storage: TypedArray): void {
    // Whichever path is on now: a storage made on the WebAssembly path goes back to its arena.
    wasmRuntime?.arena.release(storage);
  }

  bytes(storage: TypedArray): number {
    return storage.byteLength;
  }

  private map(expr: string, dtype: DType, shape: readonly number[], ins: View<TypedArray>[]): TypedArray {
    const out = contiguous(this.allocate(dtype, sizeOf(shape)), shape);
    runMap(expr, shape, out, ins.map(operand), helpers);
    return out.data;
  }

  unary(op: UnaryOp, x: View<TypedArray>): TypedArray {
    const fast = this.kernels && isWasmUnary(op) ? this.kernels.elementwise.unary(op, x) : null;
    if (fast) return fast;
    return this.map(UNARY[op].js('v0'), x.dtype, x.shape, [x]);
  }

  cast(x: View<TypedArray>, dtype: DType): TypedArray {
    if (isHalf(x.dtype) || isHalf(dtype)) return castHalf(dense(x), x.dtype, dtype, (n) => this.allocate('float32', n) as Float32Array) as TypedArray;
    return this.map(dtype === 'int32' ? 'Math.trunc(v0)' : 'v0', dtype, x.shape, [x]);
  }

  binary(op: BinaryOp, a: View<TypedArray>, b: View<TypedArray>): TypedArray {
    const fast = !this.kernels ? null
      : isWasmBinary(op) ? this.kernels.elementwise.binary(op, a, b)
      : isWasmCompare(op) ? this.kernels.select.compare(op, a, b) : null;
    if (fast) return fast;
    const def = BINARY[op];
    return this.map(def.js('v0', 'v1'), def.compare ? 'int32' : a.dtype, a.shape, [a, b]);
  }

  where(cond: View<TypedArray>, a: View<TypedArray>, b: View<TypedArray>): TypedArray {
    const fast = this.kernels?.select.where(cond, a, b);
    if (fast) return fast;
    return this.map('v0 !== 0 ? v1 : v2', a.dtype, a.shape, [cond, a, b]);
  }

  reduce(op: ReduceOp, x: View<TypedArray>, axes: readonly number[]): TypedArray {
    const fast = this.kernels?.reductions.reduce(op, x, axes);
    if (fast) return fast;
    const { expr, init } = REDUCE_STEP[op];
    // Walk x in its own order and accumulate into an output that has stride 0 along the reduced
    // axes. The accumulator is Float64 so float32 sums (and int32 ±Infinity starts) stay exact.
    const acc = new Float64Array(sizeOf(x.shape.filter((_, d) => !axes.includes(d)))).fill(init);
    runMap(expr, x.shape, { data: acc, offset: 0, strides: reducedStrides(x.shape, axes) }, [operand(x)]);
    const out = this.allocate(x.dtype, acc.length);
    out.set(acc);
    return out;
  }

  argReduce(op: ArgReduceOp, x: View<TypedArray>, axis: number): TypedArray {
    const keepShape = x.shape.filter((_, d) => d !== axis), keepStrides = x.strides.filter((_, d) => d !== axis);
    const n = x.shape[axis]!, step = x.strides[axis]!, data = x.storage;
    const out = new Int32Array(sizeOf(keepShape));
    const max = op === 'argmax';
    if (n > 0)
      forEachOffset(keepShape, keepStrides, x.offset, (base, o) => {
        let best = data[base]!, bestI = 0;
        // The first NaN wins and ends the search, as in PyTorch.
        for (let i = 1, off = base + step; i < n && best === best; i++, off += step) {
          const v = data[off]!;
          if ((max ? v > best : v < best) || v !== v) {
            best = v;
            bestI = i;
          }
        }
        out[o] = bestI;
      });
    return out;
  }

  matmul(a: View<TypedArray>, b: View<TypedArray>): TypedArray {
    const r = a.shape.length;
    const outShape = [...a.shape.slice(0, r - 1), b.shape[r - 1]!];
    const out = this.allocate(a.dtype, sizeOf(outShape));
    if (out.length > 0) {
      const ao = { data: a.storage, offset: a.offset, shape: a.shape, strides: a.strides };
      const bo = { data: b.storage, offset: b.offset, shape: b.shape, strides: b.strides };
      // float64 and int32 stay on the JavaScript kernel, as does a scratch too large for the module.
      const done = a.dtype === 'float32' && this.kernels !== null && this.kernels.matmul.run(ao, bo, out as Float32Array);
      if (!done) batchedMatmul(ao, bo, out);
    }
    return out;
  }

  /**
   * Rows of a float32 scatter-add added by the module's vector add, where both storages live in
   * its memory and rows are whole vectors (a partial last vector would spill into the next row):
   * an element loop over the shared memory costs about 10 ns an element.
   */
  private wasmAddRow(src: View<TypedArray>, index: View<TypedArray>, out: TypedArray): AddRow | undefined {
    const len = index.shape.at(-1)!;
    if (!this.kernels || src.dtype !== 'float32' || len % 4 !== 0) return undefined;
    const { arena, rt } = this.kernels;
    const oAt = arena.addressOf(out), sAt = arena.addressOf(src.storage);
    if (oAt < 0 || sAt < 0) return undefined;
    const add = rt.exports.add_vv;
    return (oo, so, n) => add(oAt + oo * 4, sAt + so * 4, oAt + oo * 4, n * 4);
  }

  gather(x: View<TypedArray>, axis: number, index: View<TypedArray>): TypedArray {
    const out = this.allocate(x.dtype, sizeOf(index.shape));
    if (gatherRows(x, axis, index, out)) return out;
    const rank = index.shape.length;
    const idx = new Array<number>(rank).fill(0);
    const n = out.length;
    for (let i = 0; i < n; i++) {
      let io = index.offset, xo = x.offset;
      for (let d = 0; d < rank; d++) io += idx[d]! * index.strides[d]!;
      const j = index.storage[io]!;
      for (let d = 0; d < rank; d++) xo += (d === axis ? j : idx[d]!) * x.strides[d]!;
      out[i] = x.storage[xo]!;
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d]! < index.shape[d]!) break;
        idx[d] = 0;
      }
    }
    return out;
  }

  scatterAdd(src: View<TypedArray>, axis: number, index: View<TypedArray>, outShape: readonly number[]): TypedArray {
    const out = this.fill(sizeOf(outShape), src.dtype, 0);
    const os = contiguousStrides(outShape);
    if (scatterAddRows(src, axis, index, out, os, this.wasmAddRow(src, index, out))) return out;
    const rank = index.shape.length;
    const idx = new Array<number>(rank).fill(0);
    const n = sizeOf(index.shape);
    for (let i = 0; i < n; i++) {
      let io = index.offset, so = src.offset, oo = 0;
      for (let d = 0; d < rank; d++) {
        io += idx[d]! * index.strides[d]!;
        so += idx[d]! * src.strides[d]!;
      }
      const j = index.storage[io]!;
      for (let d = 0; d < rank; d++) oo += (d === axis ? j : idx[d]!) * os[d]!;
      out[oo] += src.storage[so]!;
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d]! < index.shape[d]!) break;
        idx[d] = 0;
      }
    }
    return out;
  }

  copy(src: View<TypedArray>, dst: View<TypedArray>): void {
    if (this.kernels && copyWasm(this.kernels.arena, src, dst)) return;
    runMap('v0', src.shape, operand(dst), [operand(src)]);
  }
}
