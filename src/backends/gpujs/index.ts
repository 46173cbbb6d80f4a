import type { ArgReduceOp, BackendImplementation, BinaryOp, ReduceOp, UnaryOp, View } from '../../core/backend.js';
import { type DType, type StorageArray, isHalf } from '../../core/dtype.js';
import { float16Bits, bfloat16Bits, narrowToHalf, widenHalf } from '../../core/half.js';
import { TsgradError, check, fmt } from '../../core/errors.js';
import { contiguousStrides, sizeOf } from '../../core/shape.js';
import { coalesce, runMap, splitReduced } from '../shared/strided.js';
import { BINARY, UNARY } from '../shared/opTable.js';
import {
  UPLOAD_SOURCE, FILL_SOURCE, argReduceSource, copySource, gatherSource, mapSource, matmulSource, reduceSource, scatterAddSource,
} from './codegen.js';
import { type GpuData, GpuRuntime, type GpuTexture } from './runtime.js';
import type { GpuJsInfo, GpuJsOptions } from './options.js';

export type { GpuJsInfo, GpuJsMode, GpuJsOptions } from './options.js';

/**
 * One storage: a mutable holder, so `copy` can swap in a new texture and every view sharing
 * the holder sees it. `data` is null for empty storages (GL has no 0-texel textures).
 */
export interface GpuStorage {
  data: GpuData | null;
  readonly size: number;
  freed: boolean;
}

/** Float32 holds every integer up to 2^24 exactly; GLSL index math is exact up to there. */
const MAX_ELEMENTS = 1 << 24;

const TEX = 'Texture' as const;
const F = 'Float' as const;
const floats = (n: number) => Array.from({ length: n }, () => F);

/** One strided operand after coalescing: its offset and a stride per loop dim. */
interface Strided {
  data: GpuData;
  offset: number;
  strides: number[];
}

/**
 * tsgrad on gpu.js: every primitive is a gpu.js kernel writing a fresh float32 texture
 * (`pipeline`, `immutable`), so results stay on the GPU until `read`. int32 is stored as float.
 * float16 and bfloat16 are widened to a float32 texel each, holding the 16-bit pattern as a
 * number (exact up to 2^24): copies and gathers move patterns untouched, and casts to or from
 * them convert on the host with core's conversions (GLSL ES 1.0 has no bit operations), so
 * they save no memory here but round exactly as on every other backend.
 */
export class GpuJsBackend implements BackendImplementation<GpuStorage> {
  readonly name = 'gpujs';
  /** No readSync: core would read index tensors back to check them, stalling the pipeline. */
  readonly synchronous = false;
  readonly dtypes: readonly DType[] = ['float32', 'int32', 'float16', 'bfloat16'];
  private destroyed = false;

  constructor(private readonly rt: GpuRuntime) {}

  get info(): GpuJsInfo {
    return {
      mode: this.rt.mode,
      kernelType: this.rt.kernelType,
      renderer: this.rt.renderer,
      maxTextureSize: this.rt.maxTextureSize,
      maxElements: this.rt.onGl ? MAX_ELEMENTS : Infinity,
    };
  }

  /** Live textures on the GL context, storages and kernels' own outputs alike (null off GL). */
  get glTextures(): number | null {
    return this.rt.glTextures;
  }

  private checkSize(op: string, size: number, shape?: readonly number[]): void {
    if (!this.rt.onGl) return;
    check(size <= MAX_ELEMENTS, op, () =>
      `gpujs holds at most 2^24 = ${MAX_ELEMENTS} elements per tensor (float32 index arithmetic in GLSL ES 1.0), got ${size}${shape ? ` for shape ${fmt(shape)}` : ''}; split the tensor or use the cpu or webgpu backend`);
    const side = Math.ceil(Math.sqrt(Math.ceil(size / 4)));
    check(side <= this.rt.maxTextureSize, op, () => `gpujs: ${size} elements need a ${side}×${side} texture, over this GL context's MAX_TEXTURE_SIZE ${this.rt.maxTextureSize}`);
  }

  private storage(data: GpuData | null, size: number): GpuStorage {
    return { data, size, freed: false };
  }

  private alive(op: string): void {
    if (this.destroyed) throw new TsgradError(op, 'the gpujs backend was destroyed; create tensors on a new one');
  }

  private data(op: string, s: GpuStorage): GpuData {
    this.alive(op);
    if (s.freed) throw new TsgradError(op, 'gpujs storage was already freed');
    if (!s.data) throw new TsgradError(op, 'gpujs: cannot read from an empty storage');
    return s.data;
  }

  /** Runs a kernel producing `size` elements into a new storage; empty outputs dispatch nothing. */
  private produce(op: string, size: number, shape: readonly number[], source: string, types: readonly ('Texture' | 'Float' | 'Array')[], args: () => unknown[]): GpuStorage {
    this.alive(op);
    if (size === 0) return this.storage(null, 0);
    this.checkSize(op, size, shape);
    return this.storage(this.rt.run(source, types, size, args()), size);
  }

  /** Uploads host data into a texture. */
  upload(data: StorageArray): GpuStorage {
    check(!(data instanceof Float64Array), 'upload', () => 'gpujs stores float32, int32 and the 16-bit floats only; cast float64 data first');
    const f = data instanceof Float32Array ? data : Float32Array.from(data);
    return this.produce('upload', f.length, [f.length], UPLOAD_SOURCE, ['Array'], () => [f]);
  }

  /** A new texture of `size` elements holding `value`. */
  fill(size: number, dtype: DType, value: number): GpuStorage {
    const stored = dtype === 'float16' ? float16Bits(value) : dtype === 'bfloat16' ? bfloat16Bits(value) : value;
    return this.produce('fill', size, [size], FILL_SOURCE, [F], () => [stored]);
  }

  /** Reads synchronously (gl.readPixels); kept off the Backend surface, see `synchronous`. */
  private readNow(x: View<GpuStorage>): StorageArray {
    const n = sizeOf(x.shape);
    let values: Float32Array;
    if (n === 0) values = new Float32Array(0);
    else {
      const src = this.data('read', x.storage);
      const whole = x.offset === 0 && n === x.storage.size && contiguousStrides(x.shape).every((s, i) => x.shape[i] === 1 || s === x.strides[i]);
      if (whole) values = toFloats(src).slice(0, n);
      else {
        const tmp = this.map('read', 'v', ['v'], x.shape, [x]);
        values = toFloats(tmp).slice(0, n);
        release(tmp);
      }
    }
    return x.dtype === 'int32' ? Int32Array.from(values) : isHalf(x.dtype) ? Uint16Array.from(values) : values;
  }

  read(x: View<GpuStorage>): Promise<StorageArray> {
    return Promise.resolve(this.readNow(x));
  }

  /** Releases a texture. */
  free(storage: GpuStorage): void {
    if (storage.freed) return;
    storage.freed = true;
    if (this.destroyed) return;
    if (storage.data) release(storage.data);
    storage.data = null;
  }

  bytes(storage: GpuStorage): number {
    return storage.size * 4;
  }

  /** Coalesces the loop over `shape` for strided views; returns the loop shape and operands. */
  private strided(op: string, shape: readonly number[], views: View<GpuStorage>[]): { shape: number[]; ops: Strided[] } {
    const [cs, cst] = coalesce(shape, [contiguousStrides(shape), ...views.map((v) => v.strides)]);
    return { shape: cs, ops: views.map((v, i) => ({ data: this.data(op, v.storage), offset: v.offset, strides: cst[i + 1]! })) };
  }

  /** Raw elementwise map: `expr` over `names` (one per view) into a new texture of `shape`. */
  private map(op: string, expr: string, names: string[], shape: readonly number[], views: View<GpuStorage>[]): GpuData {
    const { shape: cs, ops } = this.strided(op, shape, views);
    const source = mapSource(expr, names, cs.length);
    const types = [...ops.map(() => TEX), F, ...floats(cs.length), ...ops.flatMap(() => floats(cs.length + 1))];
    return this.rt.run(source, types, sizeOf(shape), [...ops.map((o) => o.data), 0, ...cs, ...ops.flatMap((o) => [o.offset, ...o.strides])]);
  }

  private elementwise(op: string, expr: string, names: string[], dtype: DType, shape: readonly number[], views: View<GpuStorage>[]): GpuStorage {
    const size = sizeOf(shape);
    this.alive(op);
    if (size === 0) return this.storage(null, 0);
    this.checkSize(op, size, shape);
    return this.storage(this.map(op, dtype === 'int32' ? `toInt32(${expr})` : expr, names, shape, views), size);
  }

  /** An elementwise op of the shared op table. */
  unary(op: UnaryOp, x: View<GpuStorage>): GpuStorage {
    const def = UNARY[op];
    return this.elementwise(op, (def.gpujs ?? def.js)('x'), ['x'], x.dtype, x.shape, [x]);
  }

  /** Converts to `dtype`. */
  cast(x: View<GpuStorage>, dtype: DType): GpuStorage {
    check(dtype !== 'float64', 'cast', () => 'gpujs stores float32, int32 and the 16-bit floats only');
    if (isHalf(x.dtype) || isHalf(dtype)) return this.castOnHost(x, dtype);
    return this.elementwise('cast', 'x', ['x'], dtype, x.shape, [x]);
  }

  /** A cast to or from a 16-bit float, through the host: read, convert exactly, upload. */
  private castOnHost(x: View<GpuStorage>, dtype: DType): GpuStorage {
    const raw = this.readNow(x);
    const values = isHalf(x.dtype) ? widenHalf(raw as Uint16Array, x.dtype) : raw;
    // As storing into an Int32Array, the other backends' cast: truncate; NaN and out-of-range values become 0.
    const out: StorageArray = isHalf(dtype) ? narrowToHalf(values, dtype)
      : dtype === 'int32' ? Int32Array.from(values, (v) => (Math.abs(v) < 2 ** 31 ? Math.trunc(v) : 0)) : Float32Array.from(values);
    return out.length ? this.upload(out) : this.storage(null, 0);
  }

  binary(op: BinaryOp, a: View<GpuStorage>, b: View<GpuStorage>): GpuStorage {
    const def = BINARY[op];
    return this.elementwise(op, (def.gpujs ?? def.js)('a', 'b'), ['a', 'b'], def.compare ? 'float32' : a.dtype, a.shape, [a, b]);
  }

  where(cond: View<GpuStorage>, a: View<GpuStorage>, b: View<GpuStorage>): GpuStorage {
    return this.elementwise('where', 'c != 0 ? a : b', ['c', 'a', 'b'], 'float32', a.shape, [cond, a, b]);
  }

  reduce(op: ReduceOp, x: View<GpuStorage>, axes: readonly number[]): GpuStorage {
    const { keptShape: keepShape, kept: { shape: ks, strides: kst }, reduced: { shape: rs, strides: rst } } = splitReduced(x.shape, x.strides, axes);
    const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
    if (sizeOf(x.shape) === 0) return this.fill(sizeOf(keepShape), x.dtype, init);
    const types = [TEX, ...floats(1 + 2 * ks.length + 1 + 2 * rs.length)];
    return this.produce(op, sizeOf(keepShape), keepShape, reduceSource(op, ks.length, rs.length), types, () => [
      this.data(op, x.storage), init, ...ks, x.offset, ...kst, ...rs, ...rst,
    ]);
  }

  argReduce(op: ArgReduceOp, x: View<GpuStorage>, axis: number): GpuStorage {
    const { keptShape: keepShape, kept: { shape: ks, strides: kst } } = splitReduced(x.shape, x.strides, [axis]);
    const types = [TEX, ...floats(2 * ks.length + 3)];
    return this.produce(op, sizeOf(keepShape), keepShape, argReduceSource(op, ks.length), types, () => [
      this.data(op, x.storage), ...ks, x.offset, ...kst, x.shape[axis]!, x.strides[axis]!,
    ]);
  }

  matmul(a: View<GpuStorage>, b: View<GpuStorage>): GpuStorage {
    const r = a.shape.length;
    const k = a.shape[r - 1]!;
    const outShape = [...a.shape.slice(0, r - 1), b.shape[r - 1]!];
    const size = sizeOf(outShape);
    if (size > 0 && k === 0) return this.fill(size, a.dtype, 0);
    // Loop over [...batch, m, n]: a walks rows (stride 0 on n), b walks columns (stride 0 on m).
    const aStrides = [...a.strides.slice(0, r - 1), 0];
    const bStrides = [...b.strides.slice(0, r - 2), 0, b.strides[r - 1]!];
    const [cs, [, ast, bst]] = coalesce(outShape, [contiguousStrides(outShape), aStrides, bStrides]);
    const rank = cs.length;
    const types = [TEX, TEX, ...floats(3 * rank + 2 + 3)];
    return this.produce('matmul', size, outShape, matmulSource(rank), types, () => [
      this.data('matmul', a.storage), this.data('matmul', b.storage), ...cs, a.offset, ...ast!, b.offset, ...bst!, k, a.strides[r - 1]!, b.strides[r - 2]!,
    ]);
  }

  gather(x: View<GpuStorage>, axis: number, index: View<GpuStorage>): GpuStorage {
    const rank = index.shape.length;
    const xStrides = x.strides.map((s, d) => (d === axis ? 0 : s));
    const types = [TEX, TEX, ...floats(1 + 3 * rank + 2 + 2)];
    return this.produce('gather', sizeOf(index.shape), index.shape, gatherSource(rank), types, () => [
      this.data('gather', x.storage), this.data('gather', index.storage), 0,
      ...index.shape, x.offset, ...xStrides, index.offset, ...index.strides, x.shape[axis]!, x.strides[axis]!,
    ]);
  }

  scatterAdd(src: View<GpuStorage>, axis: number, index: View<GpuStorage>, outShape: readonly number[]): GpuStorage {
    const rank = outShape.length;
    const size = sizeOf(outShape);
    if (size > 0 && sizeOf(index.shape) === 0) return this.fill(size, src.dtype, 0);
    const sStrides = src.strides.map((s, d) => (d === axis ? 0 : s));
    const iStrides = index.strides.map((s, d) => (d === axis ? 0 : s));
    const types = [TEX, TEX, ...floats(4 * rank + 4)];
    return this.produce('scatterAdd', size, outShape, scatterAddSource(rank, axis), types, () => [
      this.data('scatterAdd', src.storage), this.data('scatterAdd', index.storage),
      ...outShape, ...index.shape, src.offset, ...sStrides, index.offset, ...iStrides, src.strides[axis]!, index.strides[axis]!,
    ]);
  }

  copy(src: View<GpuStorage>, dst: View<GpuStorage>): void {
    const n = dst.storage.size;
    if (sizeOf(dst.shape) === 0) return;
    const old = this.data('copy', dst.storage);
    // Dims that move through memory, outermost (largest stride) first.
    const dims = dst.shape.map((_, d) => d).filter((d) => dst.shape[d]! > 1).sort((p, q) => dst.strides[q]! - dst.strides[p]!);
    if (!nested(dims.map((d) => dst.shape[d]!), dims.map((d) => dst.strides[d]!))) {
      this.copyOnHost(src, dst);
      return;
    }
    if (dims.length === 0) dims.push(-1);
    const shape = dims.map((d) => (d < 0 ? 1 : dst.shape[d]!));
    const dstStrides = dims.map((d) => (d < 0 ? 1 : dst.strides[d]!));
    const srcStrides = dims.map((d) => (d < 0 ? 0 : src.strides[d]!));
    const rank = dims.length;
    const types = [TEX, TEX, ...floats(1 + 3 * rank + 1)];
    const next = this.rt.run(copySource(rank), types, n, [old, this.data('copy', src.storage), dst.offset, ...shape, ...dstStrides, src.offset, ...srcStrides]);
    release(old);
    dst.storage.data = next;
  }

  /** Views whose elements interleave (not produced by tsgrad's view ops) are written on the host. */
  private copyOnHost(src: View<GpuStorage>, dst: View<GpuStorage>): void {
    const all = toFloats(this.data('copy', dst.storage)).slice(0, dst.storage.size);
    const values = this.readNow({ ...src, dtype: 'float32' }) as Float32Array;
    runMap('v0', dst.shape, { data: all, offset: dst.offset, strides: dst.strides }, [{ data: values, offset: 0, strides: contiguousStrides(dst.shape) }]);
    const next = this.rt.run(UPLOAD_SOURCE, ['Array'], all.length, [all]);
    release(this.data('copy', dst.storage));
    dst.storage.data = next;
  }

  /** Frees the context and with it every texture; storages freed later release nothing. */
  destroy(): void {
    this.destroyed = true;
    this.rt.destroy();
  }
}

/** True when each stride spans all the smaller-stride dims, so offsets map back to one index. */
function nested(shape: number[], strides: number[]): boolean {
  let extent = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (strides[i]! < extent) return false;
    extent = strides[i]! * (shape[i]! - 1) + extent;
  }
  return true;
}

function toFloats(d: GpuData): Float32Array {
  return d instanceof Float32Array ? d : d.toArray();
}

function release(d: GpuData): void {
  if (!(d instanceof Float32Array)) (d as GpuTexture).delete();
}

/**
 * Creates the gpu.js backend (what `setBackend('gpujs', options)` calls, once its plugin has
 * checked the options). The default mode needs a WebGL context (headless-gl under an X
 * display in Node) and fails with instructions otherwise; CPU modes are opt-in.
 *
 * @example
 * await setBackend('gpujs'); // or setBackend('gpujs', { mode: 'cpu' })
 */
export async function createGpuJsBackend(options: GpuJsOptions = {}): Promise<GpuJsBackend> {
  return new GpuJsBackend(await GpuRuntime.create(options.mode ?? 'gpu'));
}
