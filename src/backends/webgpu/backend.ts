import type { ArgReduceOp, BackendImplementation, BinaryOp, FusedKernels, ReduceOp, UnaryOp, View } from '../../core/backend.js';
import type { AttentionArgs } from '../../core/backend.js';
import { type DType, type StorageArray, isHalf, typedArrayFor } from '../../core/dtype.js';
import { float16Bits, bfloat16Bits } from '../../core/half.js';
import { TsgradError } from '../../core/errors.js';
import { contiguousStrides, isContiguous, sizeOf } from '../../core/shape.js';
import { coalesce, splitReduced } from '../shared/strided.js';
import { BINARY, UNARY } from '../shared/opTable.js';
import { BufferPool, GPUStorage, UniformArena, sizeClass } from './buffers.js';
import type { WebGPUInfo } from './options.js';
import { adamKernel } from './wgsl/adam.js';
import { type KernelSource, WG } from './wgsl/common.js';
import { elementwise4Kernel, elementwiseKernel, elementwiseMeta, fillKernel, opWgsl } from './wgsl/elementwise.js';
import { storedBytes } from './wgsl/half.js';
import { SCATTER_ROWS, gatherKernel, scatterAddKernel, scatterAddRowsKernel } from './wgsl/indexing.js';
import { DIRECT_LARGE, DIRECT_SMALL, type MatmulTile, directMatmulKernel, matmulKernel, matmulMeta } from './wgsl/matmul.js';
import { layerNormBackwardKernel, layerNormKernel } from './wgsl/layerNorm.js';
import { argReduceKernel, reduceKernel, reduceMeta } from './wgsl/reduce.js';
import { softmaxKernel, softmaxMeta } from './wgsl/softmax.js';
import { groupsFor, nestedAbsmaxKernel, nestedAbsmaxMeta, quantizedMeta } from './wgsl/quantized.js';
import { attentionBackwardKernel, attentionBackwardMeta, attentionForwardKernel, attentionMeta, attentionRows, backwardBindings, keyKernels } from './wgsl/attention.js';
import { registerAttentionBackwardKernel, registerAttentionFits, registerAttentionForwardKernel, registerAttentionInvocations } from './wgsl/attentionRegisters.js';

type GView = View<GPUStorage>;

const STORAGE_USAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
const READBACK_USAGE = 0x1 | 0x8; // MAP_READ | COPY_DST
/** Dispatches recorded before a batch is submitted even if nobody reads. */
const MAX_BATCH = 64;
/** Fills up to this many bytes are uploaded; larger ones run a kernel. */
const FILL_UPLOAD_BYTES = 64 * 1024;

const bitsF = new Float32Array(1);
const bitsU = new Uint32Array(bitsF.buffer);
/** The IEEE bits of `x` as float32, for passing floats through the u32 uniform. */
function f32Bits(x: number): number {
  bitsF[0] = x;
  return bitsU[0]!;
}

// Large tiles give each thread an 8×8 block (16 shared vec4 loads per 64 multiply-adds).
const TILE_LARGE: MatmulTile = { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8 };
const TILE_SMALL: MatmulTile = { bm: 32, bn: 32, bk: 16, tm: 4, tn: 4 };

/**
 * The WebGPU backend: every primitive is a WGSL kernel compiled once per key (op, dtypes, rank)
 * with shapes passed as uniforms. Dispatches are recorded into one command encoder and
 * submitted in batches; only `read` waits for the GPU (through a mapped staging buffer).
 *
 * Freeing is subtle: a storage freed while its batch is still being recorded may be read by a
 * dispatch that has not run yet, and `queue.writeBuffer` (used by upload/fill) runs before any
 * unsubmitted command. So such buffers return to the pool only after their batch is submitted.
 */
export class WebGPUBackend implements BackendImplementation<GPUStorage> {
  readonly name = 'webgpu';
  readonly synchronous = false;
  /** float16 and bfloat16 are stored two to a u32 word and computed on in f32 (wgsl/half.ts). */
  readonly dtypes: readonly DType[] = ['float32', 'int32', 'float16', 'bfloat16'];
  readonly fused: FusedKernels<GPUStorage>;
  private readonly pool: BufferPool;
  private readonly arena: UniformArena;
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batched = 0;
  private releaseAfterSubmit: GPUBuffer[] = [];
  private lostMessage: string | null = null;
  private errorMessage: string | null = null;
  private readonly lost: Promise<never>;
  private readonly maxGroups: number;
  /** The largest storage buffer a kernel can bind on this device. */
  private readonly maxBytes: number;
  /** Where checked gathers record an out-of-range index; created on the first checked gather. */
  private fault: GPUBuffer | null = null;
  /** A checked gather ran since the fault buffer was last read. */
  private faultArmed = false;

  constructor(
    readonly device: GPUDevice,
    /** The adapter, Dawn backend and limits in use. */
    readonly info: WebGPUInfo,
    private readonly ownsDevice: boolean,
    /**
     * Checked mode: gathers record an out-of-range index and the next read throws a TsgradError
     * naming it (one extra 16-byte readback per read); otherwise such an index gives NaN.
     */
    public checkIndices = false,
  ) {
    this.pool = new BufferPool(device);
    this.arena = new UniformArena(device, Math.max(device.limits.minUniformBufferOffsetAlignment, 16));
    this.maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    this.maxBytes = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
    this.lost = device.lost.then((i) => {
      this.lostMessage ??= i.reason === 'destroyed' ? 'the GPU device was destroyed' : `the GPU device was lost (${i.reason}: ${i.message})`;
      throw this.lostError('webgpu');
    });
    this.lost.catch(() => undefined);
    device.onuncapturederror = (e) => {
      this.errorMessage ??= (e as GPUUncapturedErrorEvent).error.message;
    };
    this.fused = { adam: (args) => this.adam(args), softmax: (x, axis, log) => this.softmax(x, axis, log) };
    this.fused.quantizedMatmul = (args) => this.quantizedMatmul(args);
    this.fused.attention = (args) => this.attention(args);
    this.fused.attentionBackward = (args) => this.attentionBackward(args);
    this.fused.halfMatmul = (a, b) => this.product(a, b);
    this.fused.layerNorm = (x, w, b, eps) => this.layerNorm(x, w, b, eps);
    this.fused.layerNormBackward = (g, x, mean, rstd, w) => this.layerNormBackward(g, x, mean, rstd, w);
  }

  private lostError(op: string): TsgradError {
    return new TsgradError(op, `${this.lostMessage}; tensors on it are gone: call removeBackend('webgpu') and setBackend('webgpu') again`);
  }

  private checkAlive(op: string): void {
    if (this.lostMessage) throw this.lostError(op);
  }

  private throwIfError(op: string): void {
    const msg = this.errorMessage;
    if (msg) {
      this.errorMessage = null;
      throw new TsgradError(op, `a WebGPU command failed (an internal error of the backend, please report it): ${msg}`);
    }
  }

  // Storage

  /** A storage of `size` elements of `dtype`: whole u32 words, so 16-bit elements pair up. */
  private alloc(size: number, dtype: DType = 'float32'): GPUStorage {
    this.checkAlive('webgpu');
    const used = Math.max(Math.ceil((size * storedBytes(dtype)) / 4) * 4, 4);
    // Refused here, at creation, rather than by Dawn when the tensor is first read.
    const bytes = sizeClass(used);
    if (bytes > this.maxBytes) {
      throw new TsgradError('webgpu', `a tensor of ${size} elements needs a ${bytes}-byte buffer, more than this device's largest (${this.maxBytes} bytes); use smaller tensors (split the batch) or the cpu backend`);
    }
    return new GPUStorage(this.pool.acquire(used, STORAGE_USAGE), size);
  }

  upload(data: StorageArray): GPUStorage {
    if (data instanceof Float64Array) throw new TsgradError('upload', `the webgpu backend has no float64; cast to float32 first`);
    const s = this.alloc(data.length, data instanceof Uint16Array ? 'float16' : 'float32');
    // writeBuffer copies whole words: an odd count of 16-bit patterns goes through a padded copy.
    const bytes = data.byteLength % 4 ? Uint16Array.from({ length: data.length + 1 }, (_, i) => data[i] ?? 0) : data;
    if (data.length) this.device.queue.writeBuffer(s.buffer, 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return s;
  }

  fill(size: number, dtype: DType, value: number): GPUStorage {
    const s = this.alloc(size, dtype);
    if (size === 0) return s;
    // A 16-bit value is written as a word holding its pattern twice.
    const half = dtype === 'float16' ? float16Bits(value) : dtype === 'bfloat16' ? bfloat16Bits(value) : null;
    const words = half === null ? size : Math.ceil(size / 2);
    if (words * 4 <= FILL_UPLOAD_BYTES) {
      const data = half === null ? typedArrayFor(dtype, size).fill(value) : new Uint32Array(words).fill((half | (half << 16)) >>> 0);
      this.device.queue.writeBuffer(s.buffer, 0, data.buffer, 0, data.byteLength);
    } else {
      const word = half !== null ? half | (half << 16) : dtype === 'int32' ? value | 0 : f32Bits(value);
      this.run(fillKernel(half === null ? dtype : 'int32'), [words, word], [s.buffer], Math.ceil(words / WG));
    }
    return s;
  }

  async read(x: GView): Promise<StorageArray> {
    this.checkAlive('read');
    const n = sizeOf(x.shape);
    const half = isHalf(x.dtype);
    const out = half ? new Uint16Array(n) : typedArrayFor(x.dtype, n);
    if (n === 0) return out;
    let src = x.storage;
    let offset = x.offset;
    let temp: GPUStorage | null = null;
    // Buffer copies move whole words: a 16-bit view starting mid-word is made contiguous first.
    if (!isContiguous(x.shape, x.strides) || (half && offset % 2)) {
      temp = src = this.contiguous(x);
      offset = 0;
    }
    const elem = storedBytes(x.dtype);
    const bytes = Math.ceil((n * elem) / 4) * 4;
    const staging = this.pool.acquire(bytes, READBACK_USAGE);
    this.endPass().copyBufferToBuffer(src.buffer, offset * elem, staging, 0, bytes);
    const faultStaging = this.faultArmed ? this.pool.acquire(16, READBACK_USAGE) : null;
    if (faultStaging) this.endPass().copyBufferToBuffer(this.fault!, 0, faultStaging, 0, 16);
    this.faultArmed = false;
    if (temp) this.free(temp);
    this.flush();
    let fault: Int32Array | null = null;
    try {
      await Promise.race([Promise.all([staging.mapAsync(1 /* GPUMapMode.READ */, 0, bytes), faultStaging?.mapAsync(1, 0, 16)]), this.lost]);
      const mapped = staging.getMappedRange(0, bytes);
      out.set(half ? new Uint16Array(mapped, 0, n) : new (x.dtype === 'int32' ? Int32Array : Float32Array)(mapped));
      staging.unmap();
      if (faultStaging) {
        fault = new Int32Array(faultStaging.getMappedRange(0, 16)).slice();
        faultStaging.unmap();
      }
    } finally {
      if (!this.lostMessage) {
        this.pool.release(staging);
        if (faultStaging) this.pool.release(faultStaging);
      }
    }
    this.throwIfError('read');
    if (fault?.[0]) {
      this.device.queue.writeBuffer(this.fault!, 0, new Int32Array(4));
      throw new TsgradError('gather', `index ${fault[1]} is out of range for an axis of size ${fault[2]} (found by the webgpu backend's checked mode when this result was read; the gather, embedding or crossEntropy before it got a bad index)`);
    }
    return out;
  }

  free(storage: GPUStorage): void {
    if (this.encoder) this.releaseAfterSubmit.push(storage.buffer);
    else this.pool.release(storage.buffer);
  }

  bytes(storage: GPUStorage): number {
    return storage.buffer.size;
  }

  /** Free buffers the pool keeps for reuse (core's `memory()` counts the storages alive). */
  poolMemory(): { buffers: number; bytes: number } {
    return { buffers: this.pool.buffers, bytes: this.pool.bytes };
  }

  /** Compute pipelines compiled so far (one per kernel key). */
  get compiledPipelines(): number {
    return this.pipelines.size;
  }

  /** Destroys the pooled free buffers (live storages are untouched). */
  emptyPool(): void {
    this.pool.clear();
  }

  async sync(): Promise<void> {
    this.checkAlive('sync');
    this.flush();
    await Promise.race([this.device.queue.onSubmittedWorkDone(), this.lost]);
    this.throwIfError('sync');
  }

  destroy(): void {
    if (this.lostMessage) return;
    this.flush();
    this.pool.clear();
    this.arena.destroy();
    this.lostMessage = 'the backend was destroyed';
    if (this.ownsDevice) this.device.destroy();
  }

  // Recording and submitting

  private pipeline(src: KernelSource): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    let p = this.pipelines.get(src.key);
    if (!p) {
      const module = this.device.createShaderModule({ code: src.code(), label: src.key });
      const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: src.key });
      p = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.pipelines.set(src.key, p);
    }
    return p;
  }

  private endPass(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = null;
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  /** Records one dispatch of `groups` workgroups (laid out 2-D past the per-dimension limit). */
  private run(src: KernelSource, words: number[], buffers: GPUBuffer[], groups: number): void {
    this.checkAlive('webgpu');
    const { pipeline, layout } = this.pipeline(src);
    const bytes = src.metaVec4 * 16;
    if (!this.arena.fits(bytes)) this.flush();
    const offset = this.arena.push(words, bytes);
    const bindGroup = this.device.createBindGroup({
      layout,
      entries: [
        { binding: 0, resource: { buffer: this.arena.buffer, offset, size: bytes } },
        ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
      ],
    });
    const gx = Math.min(groups, this.maxGroups);
    const gy = Math.ceil(groups / gx);
    if (gy > this.maxGroups) throw new TsgradError('webgpu', `a kernel needs ${groups} workgroups, more than this device can dispatch`);
    if (!this.pass) this.pass = (this.encoder ??= this.device.createCommandEncoder()).beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(gx, gy);
    if (++this.batched >= MAX_BATCH) this.flush();
  }

  /** Submits the recorded batch; buffers freed while recording it go back to the pool. */
  private flush(): void {
    if (!this.encoder) return;
    this.endPass();
    this.arena.upload(this.device.queue);
    this.device.queue.submit([this.encoder!.finish()]);
    this.encoder = null;
    this.batched = 0;
    for (const b of this.releaseAfterSubmit) this.pool.release(b);
    this.releaseAfterSubmit = [];
  }

  // Kernels

  /** Writes `expr` of `srcs` into the strided view `dst`, all of one shape. */
  private map(expr: string, srcs: GView[], dst: GView): void {
    const n = sizeOf(dst.shape);
    if (n === 0) return;
    const [shape, strides] = coalesce(dst.shape, [dst.strides, ...srcs.map((s) => s.strides)]);
    const buffers = [...srcs.map((s) => s.storage.buffer), dst.storage.buffer];
    const operands = [dst, ...srcs].map((v, i) => ({ offset: v.offset, strides: strides[i]! }));
    const splat = this.vec4Operands(shape, operands, [dst, ...srcs]);
    if (splat) {
      // The innermost dim counts fours; a vec4 operand's offset and outer strides count vec4s (its innermost stride stays 1).
      const quarter = (o: { offset: number; strides: number[] }, s: boolean) => (s ? o : { offset: o.offset / 4, strides: o.strides.map((st, d) => (d === o.strides.length - 1 ? st : st / 4)) });
      const [d, ...ss] = operands.map((o, i) => quarter(o, i > 0 && splat[i - 1]!));
      const words = elementwiseMeta(n / 4, [...shape.slice(0, -1), shape.at(-1)! / 4], d!, ss);
      this.run(elementwise4Kernel(expr, srcs.map((s) => s.dtype), dst.dtype, shape.length, splat), words, buffers, Math.ceil(n / 4 / WG));
      return;
    }
    const kernel = elementwiseKernel(expr, srcs.map((s) => s.dtype), dst.dtype, shape.length);
    const words = elementwiseMeta(n, shape, operands[0]!, operands.slice(1));
    this.run(kernel, words, buffers, Math.ceil(n / WG));
  }

  /**
   * Whether `map` runs four elements an invocation (wgsl/elementwise.ts's elementwise4Kernel),
   * and then which sources repeat one element along the innermost dim: float32 and int32 only,
   * the innermost dim a multiple of 4, the destination's innermost stride 1 and each source's
   * 1 or 0, every other stride and offset of a stride-1 operand a multiple of 4.
   */
  private vec4Operands(shape: number[], operands: { offset: number; strides: number[] }[], views: GView[]): boolean[] | null {
    const r = shape.length;
    if (r === 0 || shape[r - 1]! % 4 !== 0 || views.some((v) => isHalf(v.dtype))) return null;
    const inner = operands.map((o) => o.strides[r - 1]!);
    if (inner[0] !== 1 || inner.some((s) => s !== 0 && s !== 1)) return null;
    const aligned = (o: { offset: number; strides: number[] }) => o.offset % 4 === 0 && o.strides.slice(0, -1).every((s) => s % 4 === 0);
    if (!operands.every((o, i) => inner[i] === 0 || aligned(o))) return null;
    return inner.slice(1).map((s) => s === 0);
  }

  /** A new contiguous storage holding `expr` of `srcs`. */
  private elementwise(expr: string, srcs: GView[], dtype: DType): GPUStorage {
    const shape = srcs[0]!.shape;
    const out = this.alloc(sizeOf(shape), dtype);
    this.map(expr, srcs, { storage: out, shape, strides: contiguousStrides(shape), offset: 0, dtype });
    return out;
  }

  private contiguous(x: GView): GPUStorage {
    return this.elementwise('v0', [x], x.dtype);
  }

  unary(op: UnaryOp, x: GView): GPUStorage {
    return this.elementwise(opWgsl(UNARY[op], x.dtype)('v0'), [x], x.dtype);
  }

  cast(x: GView, dtype: DType): GPUStorage {
    if (dtype === 'float64') throw new TsgradError('cast', 'the webgpu backend has no float64');
    let expr = 'v0';
    // As storing into an Int32Array: truncate; NaN and out-of-range values become 0. The 16-bit
    // floats are read as f32 and rounded when written (elementwiseKernel).
    if (x.dtype !== 'int32' && dtype === 'int32') expr = 'select(i32(v0), 0, is_nan(v0) || abs(v0) >= 2147483648.0)';
    if (x.dtype === 'int32' && dtype !== 'int32') expr = 'f32(v0)';
    return this.elementwise(expr, [x], dtype);
  }

  binary(op: BinaryOp, a: GView, b: GView): GPUStorage {
    const def = BINARY[op];
    return this.elementwise(opWgsl(def, a.dtype)('v0', 'v1'), [a, b], def.compare ? 'int32' : a.dtype);
  }

  where(cond: GView, a: GView, b: GView): GPUStorage {
    return this.elementwise('select(v2, v1, v0 != 0)', [cond, a, b], a.dtype);
  }

  reduce(op: ReduceOp, x: GView, axes: readonly number[]): GPUStorage {
    const { keptShape, kept, reduced } = splitReduced(x.shape, x.strides, axes);
    const outN = sizeOf(keptShape);
    const block = sizeOf(axes.map((i) => x.shape[i]!));
    const out = this.alloc(outN);
    if (outN === 0) return out;
    if (block === 0) {
      const empty = op === 'sum' || x.dtype === 'int32' ? 0 : op === 'max' ? -Infinity : Infinity;
      this.run(fillKernel(x.dtype), [outN, x.dtype === 'int32' ? 0 : f32Bits(empty)], [out.buffer], Math.ceil(outN / WG));
      return out;
    }
    // Blocks of up to 256: a loop per output; larger ones: a workgroup per output element. A
    // workgroup and its barriers per short row cost SwiftShader about 250× the loop (a [2048, 64]
    // row sum: 598 ms against 2.3 ms), and a loop of 256 is short on any GPU. Column sums (a bias
    // gradient: neighbouring outputs neighbours in memory, so the loops' reads coalesce) loop too
    // when there are enough of them to fill the device's lanes.
    const columns = kept.strides.at(-1) === 1 && outN >= 64 && block <= 4096;
    const perThread = block <= 256 || columns || (outN >= 8192 && block <= 512);
    const kernel = reduceKernel(op, x.dtype, kept.shape.length, reduced.shape.length, perThread);
    this.run(kernel, reduceMeta(outN, block, x.offset, [kept.shape, kept.strides], [reduced.shape, reduced.strides]), [x.storage.buffer, out.buffer], perThread ? Math.ceil(outN / WG) : outN);
    return out;
  }

  argReduce(op: ArgReduceOp, x: GView, axis: number): GPUStorage {
    const { keptShape, kept } = splitReduced(x.shape, x.strides, [axis]);
    const outN = sizeOf(keptShape);
    const out = this.alloc(outN);
    if (outN === 0) return out;
    const words = [outN, x.shape[axis]!, x.offset, ...kept.shape, ...kept.strides, x.strides[axis]!];
    this.run(argReduceKernel(op, x.dtype, kept.shape.length), words, [x.storage.buffer, out.buffer], Math.ceil(outN / WG));
    return out;
  }

  matmul(a: GView, b: GView): GPUStorage {
    return this.product(a, b);
  }

  /**
   * The matmul primitive, and the fused `halfMatmul` when one operand is float16/bfloat16: that
   * one is widened as the kernel stages its tiles, and the product is float32.
   */
  private product(a: GView, b: GView): GPUStorage {
    const r = a.shape.length;
    const m = a.shape[r - 2]!, k = a.shape[r - 1]!, n = b.shape[r - 1]!;
    const batchShape = a.shape.slice(0, r - 2);
    const batches = sizeOf(batchShape);
    const out = this.alloc(batches * m * n);
    if (batches * m * n === 0) return out;
    const outBatchStrides = contiguousStrides(batchShape).map((s) => s * m * n);
    const [bs, bst] = coalesce(batchShape, [outBatchStrides, a.strides.slice(0, r - 2), b.strides.slice(0, r - 2)]);
    const aligned = (...xs: number[]) => xs.every((v) => v % 4 === 0);
    const direct = this.directLayout(a, b, bst[1]!, bst[2]!, m, n, k);
    if (direct) {
      const block = m >= 32 && n >= 32 ? DIRECT_LARGE : DIRECT_SMALL;
      const words = [...matmulMeta(m, n, k, block.tile, [bs, bst[1]!, bst[2]!], { offset: a.offset, rs: a.strides[r - 2]!, cs: a.strides[r - 1]! }, { offset: b.offset, rs: b.strides[r - 2]!, cs: b.strides[r - 1]! }), 4];
      const invocations = Math.ceil(m / block.tile.bm) * Math.ceil(n / block.tile.bn) * batches;
      this.run(directMatmulKernel(bs.length, direct.aT, direct.bT, block), words, [a.storage.buffer, b.storage.buffer, out.buffer], Math.ceil(invocations / block.wg));
      return out;
    }
    const tile = m >= 128 && n >= 128 ? TILE_LARGE : TILE_SMALL;
    const halves = { a: isHalf(a.dtype) ? a.dtype : undefined, b: isHalf(b.dtype) ? b.dtype : undefined };
    const dtype = halves.a ? b.dtype : a.dtype;
    const vec4 = !halves.a && !halves.b && a.strides[r - 1] === 1 && b.strides[r - 1] === 1 && aligned(k, n, a.offset, b.offset, a.strides[r - 2]!, b.strides[r - 2]!, ...bst[1]!, ...bst[2]!);
    const words = matmulMeta(m, n, k, tile, [bs, bst[1]!, bst[2]!], { offset: a.offset, rs: a.strides[r - 2]!, cs: a.strides[r - 1]! }, { offset: b.offset, rs: b.strides[r - 2]!, cs: b.strides[r - 1]! });
    const groups = Math.ceil(m / tile.bm) * Math.ceil(n / tile.bn) * batches;
    this.run(matmulKernel(dtype, bs.length, tile, vec4, halves), words, [a.storage.buffer, b.storage.buffer, out.buffer], groups);
    return out;
  }

  /**
   * Whether the direct matmul (no workgroup memory, wgsl/matmul.ts) takes a float32 product, and
   * which operands it reads down their columns: on a software adapter only (a GPU's own
   * workgroup memory and barriers are what the tiled kernel is built for), and each operand
   * needs a unit stride along one axis and every other offset and stride a multiple of 4, so
   * that axis loads as vec4s; k and n multiples of 4 (C is stored as vec4s).
   */
  private directLayout(a: GView, b: GView, aBatch: readonly number[], bBatch: readonly number[], m: number, n: number, k: number): { aT: boolean; bT: boolean } | null {
    if (!this.info.software || a.dtype !== 'float32' || b.dtype !== 'float32' || k % 4 !== 0 || n % 4 !== 0) return null;
    const r = a.shape.length;
    const aligned = (...xs: readonly number[]) => xs.every((v) => v % 4 === 0);
    const [ars, acs, brs, bcs] = [a.strides[r - 2]!, a.strides[r - 1]!, b.strides[r - 2]!, b.strides[r - 1]!];
    const aT = acs === 1 && aligned(ars) ? false : ars === 1 && aligned(acs) && m % 4 === 0 ? true : null;
    const bT = bcs === 1 && aligned(brs) ? false : brs === 1 && aligned(bcs) ? true : null;
    if (aT === null || bT === null || !aligned(a.offset, b.offset, ...aBatch, ...bBatch)) return null;
    return { aT, bT };
  }

  gather(x: GView, axis: number, index: GView): GPUStorage {
    const n = sizeOf(index.shape);
    const out = this.alloc(n, x.dtype);
    if (n === 0) return out;
    const rank = index.shape.length;
    const words = [n, x.offset, index.offset, x.shape[axis]!, ...index.shape, ...index.strides, ...x.strides];
    const checked = this.checkIndices;
    if (checked) {
      this.fault ??= this.device.createBuffer({ size: 16, usage: 0x80 | 0x4 | 0x8 /* STORAGE | COPY_SRC | COPY_DST */ });
      this.faultArmed = true;
    }
    this.run(gatherKernel(x.dtype, rank, axis, checked), words, [x.storage.buffer, index.storage.buffer, out.buffer, ...(checked ? [this.fault!] : [])], Math.ceil(n / WG));
    return out;
  }

  scatterAdd(src: GView, axis: number, index: GView, outShape: readonly number[]): GPUStorage {
    const n = sizeOf(outShape);
    const out = this.alloc(n);
    if (n === 0) return out;
    const rank = outShape.length;
    // An embedding's gradient: one index per output row, repeated across the columns.
    if (rank === 2 && axis === 0 && index.strides[1] === 0 && index.shape[1] === outShape[1] && !isHalf(src.dtype)) {
      const [rows, cols] = outShape as [number, number];
      const groups = Math.ceil(rows / SCATTER_ROWS) * cols;
      const words = [groups, src.offset, index.offset, index.shape[0]!, rows, cols, index.strides[0]!, src.strides[0]!, src.strides[1]!];
      this.run(scatterAddRowsKernel(src.dtype), words, [src.storage.buffer, index.storage.buffer, out.buffer], Math.ceil(groups / WG));
      return out;
    }
    const words = [n, src.offset, index.offset, index.shape[axis]!, ...outShape, ...index.shape, ...index.strides, ...src.strides];
    this.run(scatterAddKernel(src.dtype, rank, axis), words, [src.storage.buffer, index.storage.buffer, out.buffer], Math.ceil(n / WG));
    return out;
  }

  copy(src: GView, dst: GView): void {
    if (sizeOf(dst.shape) === 0) return;
    if (src.storage === dst.storage) {
      // A buffer cannot be bound for reading and writing in one dispatch (and the views may overlap).
      const tmp = this.contiguous(src);
      this.map('v0', [{ ...src, storage: tmp, strides: contiguousStrides(src.shape), offset: 0 }], dst);
      this.free(tmp);
      return;
    }
    this.map('v0', [src], dst);
  }

  private adam(args: Parameters<NonNullable<FusedKernels<GPUStorage>['adam']>>[0]): void {
    const { grad, size } = args;
    if (size === 0) return;
    const [shape, strides] = coalesce(grad.shape, [grad.strides, contiguousStrides(grad.shape)]);
    const hyper = [args.lr, args.beta1, args.beta2, args.eps, args.biasCorrection1, args.biasCorrection2, args.l2, args.decoupledDecay].map(f32Bits);
    const words = [size, grad.offset, ...hyper, ...shape, ...strides[0]!];
    this.run(adamKernel(shape.length), words, [args.param.buffer, grad.storage.buffer, args.m.buffer, args.v.buffer], Math.ceil(size / WG));
  }

  /** x·Wᵀ or x·W for a block-quantized W: the tiled matmul, dequantizing W's tiles as it stages them (wgsl/quantized.ts). */
  private quantizedMatmul(args: Parameters<NonNullable<FusedKernels<GPUStorage>['quantizedMatmul']>>[0]): GPUStorage {
    const { x, weight: w, transposed } = args;
    const m = x.shape[0]!, k = x.shape[1]!, n = transposed ? w.rows : w.cols;
    const out = this.alloc(m * n);
    if (m * n === 0) return out;
    const blocks = Math.ceil((w.rows * w.cols) / w.blockSize);
    let absmax = w.absmax;
    if (w.nested) {
      absmax = this.alloc(blocks);
      this.run(nestedAbsmaxKernel(), nestedAbsmaxMeta(blocks, w.nested.blockSize, w.nested.offset, f32Bits), [w.absmax.buffer, w.nested.absmax2.buffer, absmax.buffer], groupsFor(blocks));
    }
    // W' (k × n) is W [rows, cols] read through strides: Wᵀ when transposed, else W itself.
    const tile = m >= 128 && n >= 128 ? TILE_LARGE : TILE_SMALL;
    const b = transposed ? { offset: 0, rs: 1, cs: w.cols } : { offset: 0, rs: w.cols, cs: 1 };
    const words = [...matmulMeta(m, n, k, tile, [[], [], []], { offset: x.offset, rs: k, cs: 1 }, b), ...quantizedMeta(w.blockSize, w.format, f32Bits)];
    const groups = Math.ceil(m / tile.bm) * Math.ceil(n / tile.bn);
    this.run(matmulKernel('float32', 0, tile, false, {}, w.format), words, [x.storage.buffer, w.codes.buffer, out.buffer, absmax.buffer], groups);
    if (w.nested) this.free(absmax);
    return out;
  }

  /** Softmax along `axis` in one dispatch; the output is contiguous with x's shape. */
  private softmax(x: GView, axis: number, log: boolean): GPUStorage {
    const n = sizeOf(x.shape);
    const out = this.alloc(n);
    if (n === 0) return out;
    const len = x.shape[axis]!;
    const outStrides = contiguousStrides(x.shape);
    const keep = x.shape.map((_, i) => i).filter((i) => i !== axis);
    const [ks, kst] = coalesce(keep.map((i) => x.shape[i]!), [keep.map((i) => x.strides[i]!), keep.map((i) => outStrides[i]!)]);
    const rows = n / len;
    const words = softmaxMeta(rows, len, x.offset, [x.strides[axis]!, outStrides[axis]!], [ks, kst[0]!, kst[1]!]);
    // Rows of up to 256: a loop per row, as in `reduce`; longer ones: a workgroup per row.
    const perThread = len <= 256 || (rows >= 8192 && len <= 512);
    this.run(softmaxKernel(x.dtype, ks.length, log, perThread), words, [x.storage.buffer, out.buffer], perThread ? Math.ceil(rows / WG) : rows);
    return out;
  }

  /** A view's buffer and offset when it is contiguous, else a contiguous copy's (`temp`, for the caller to free). */
  private dense(v: GView): { buffer: GPUBuffer; offset: number; temp: GPUStorage | null } {
    if (isContiguous(v.shape, v.strides)) return { buffer: v.storage.buffer, offset: v.offset, temp: null };
    const temp = this.contiguous(v);
    return { buffer: temp.buffer, offset: 0, temp };
  }

  /** Runs `kernel` over the dense forms of `ins` and the new storages `outs` (offsets in the uniform after `words`). */
  private runDense(kernel: KernelSource, words: number[], ins: GView[], outs: GPUStorage[], groups: number): void {
    const dense = ins.map((v) => this.dense(v));
    this.run(kernel, [...words, ...dense.map((v) => v.offset), ...outs.map(() => 0)], [...dense.map((v) => v.buffer), ...outs.map((o) => o.buffer)], groups);
    for (const v of dense) if (v.temp) this.free(v.temp);
  }

  /** LayerNorm's forward in one dispatch, one invocation per row (wgsl/layerNorm.ts). */
  private layerNorm(x: GView, w: GView | null, b: GView | null, eps: number): [GPUStorage, GPUStorage, GPUStorage] {
    const n = sizeOf(x.shape), d = x.shape.at(-1)!, rows = d ? n / d : 0;
    const y = this.alloc(n), mean = this.alloc(rows), rstd = this.alloc(rows);
    if (rows === 0) return [y, mean, rstd];
    const ins = [x, w, b].filter((v): v is GView => v !== null);
    this.runDense(layerNormKernel(w !== null, b !== null, this.vec4Rows(d, ins)), [rows, d, f32Bits(eps)], ins, [y, mean, rstd], Math.ceil(rows / WG));
    return [y, mean, rstd];
  }

  /** Whether the LayerNorm kernels read rows of d floats of `views` (as runDense binds them) as vec4s. */
  private vec4Rows(d: number, views: GView[]): boolean {
    return d % 4 === 0 && views.every((v) => !isContiguous(v.shape, v.strides) || v.offset % 4 === 0);
  }

  /** LayerNorm's backward in two dispatches: dx per row, then dweight and dbias per column (per 4 with vec4 rows). */
  private layerNormBackward(g: GView, x: GView, mean: GView, rstd: GView, w: GView | null): [GPUStorage, GPUStorage, GPUStorage] {
    const n = sizeOf(x.shape), d = x.shape.at(-1)!, rows = d ? n / d : 0;
    const dx = this.alloc(n), dw = this.alloc(d), db = this.alloc(d);
    if (d === 0) return [dx, dw, db];
    const ins = [g, x, mean, rstd];
    const vec = this.vec4Rows(d, w ? [g, x, w] : [g, x]);
    this.runDense(layerNormBackwardKernel('columns', w !== null, vec), [rows, d, 0], ins, [dw, db], Math.ceil(d / (vec ? 4 : 1) / WG));
    if (rows > 0) this.runDense(layerNormBackwardKernel('rows', w !== null, vec), [rows, d, 0], w ? [...ins, w] : ins, [dx], Math.ceil(rows / WG));
    return [dx, dw, db];
  }

  /**
   * Fused attention's forward in one dispatch: wgsl/attentionRegisters.ts (an invocation per
   * block of query rows) for heads of up to 64 columns whose rows load as vec4s, else
   * wgsl/attention.ts (an invocation per query row).
   */
  private attention(a: AttentionArgs<GPUStorage>): { out: GPUStorage; logsumexp: GPUStorage } {
    const rows = attentionRows(a);
    const out = this.alloc(rows * a.value.shape.at(-1)!), logsumexp = this.alloc(rows);
    if (rows === 0) return { out, logsumexp };
    const mask = !a.mask ? 'none' : a.mask.dtype === 'int32' ? 'int' : 'float';
    const [kr, E, Ev] = [a.query.shape.length - 2, a.query.shape.at(-1)!, a.value.shape.at(-1)!];
    const registers = registerAttentionFits([a.query, a.key, a.value], E, Ev);
    const kernel = registers ? registerAttentionForwardKernel(kr, mask, a.dropout !== null, E, Ev) : attentionForwardKernel(kr, mask, a.dropout !== null);
    const invocations = registers ? registerAttentionInvocations(rows / a.query.shape.at(-2)!, a.query.shape.at(-2)!, E, Ev) : rows;
    const operands = [a.query, a.key, a.value, a.mask, a.dropout].flatMap((v) => (v ? [v.storage.buffer] : []));
    this.run(kernel, attentionMeta(a, invocations, f32Bits), [...operands, out.buffer, logsumexp.buffer], Math.ceil(invocations / WG));
    return { out, logsumexp };
  }

  /**
   * Fused attention's backward (wgsl/attention.ts) in three or four dispatches: each query row's
   * lse and D = rowsum(dO∘O) into a scratch buffer, then dQ per query row, dK and dV per key row
   * (one kernel for both unless a mask and dropout leave too few bindings). Heads of up to 64
   * columns whose rows load as vec4s take dQ and dK, dV from wgsl/attentionRegisters.ts.
   */
  private attentionBackward(a: AttentionArgs<GPUStorage> & { out: GView; logsumexp: GView; grad: GView }): { query: GPUStorage; key: GPUStorage; value: GPUStorage } {
    const batches = sizeOf(a.query.shape.slice(0, -2));
    const [L, E] = a.query.shape.slice(-2) as [number, number];
    const S = a.key.shape.at(-2)!, Ev = a.value.shape.at(-1)!;
    const dq = this.alloc(batches * L * E), dk = this.alloc(batches * S * E), dv = this.alloc(batches * S * Ev);
    const st = this.alloc(2 * batches * L);
    const mask = !a.mask ? 'none' : a.mask.dtype === 'int32' ? 'int' : 'float';
    const buffers: Record<string, GPUBuffer | undefined> = {
      q: a.query.storage.buffer, k: a.key.storage.buffer, v: a.value.storage.buffer, mask: a.mask?.storage.buffer, z: a.dropout?.storage.buffer,
      o: a.out.storage.buffer, g: a.grad.storage.buffer, lse: a.logsumexp.storage.buffer, st: st.buffer, dq: dq.buffer, dk: dk.buffer, dv: dv.buffer,
    };
    const kr = a.query.shape.length - 2, dropout = a.dropout !== null;
    const registers = registerAttentionFits([a.query, a.key, a.value, a.grad], E, Ev);
    for (const kind of ['stats', 'dq', ...keyKernels(mask, dropout)] as const) {
      // Every invocation writes its whole output row, so with no rows there is nothing to write.
      const rows = batches * (kind === 'stats' || kind === 'dq' ? L : S);
      if (rows === 0) continue;
      const fast = registers && (kind === 'dq' || kind === 'dkv');
      const kernel = fast ? registerAttentionBackwardKernel(kind, kr, mask, dropout, E, Ev) : attentionBackwardKernel(kind, kr, mask, dropout);
      const invocations = fast ? registerAttentionInvocations(batches, kind === 'dq' ? L : S, E, Ev) : rows;
      const bound = backwardBindings(kind, mask, a.dropout !== null).map((n) => buffers[n]!);
      this.run(kernel, attentionBackwardMeta(a, invocations, f32Bits), bound, Math.ceil(invocations / WG));
    }
    this.free(st);
    return { query: dq, key: dk, value: dv };
  }
}
