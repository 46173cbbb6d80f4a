import type { TypedArray } from '../../core/dtype.js';
import { matmulPool, runThreaded } from './threads.js';
import { type PoolKernel, type PoolProgram, compileKernel, sharedFloat64 } from './workerPool.js';

export { configureMatmulThreads } from './threads.js';

/*
 * C = A·B the way BLIS does it, in scalar JavaScript:
 *
 * 1. Pack A into panels of MR rows and B into panels of NR columns, each panel interleaved along
 *    k (`panel[p * MR + r]`), padded with zeros to a whole panel. Packing reads the operands
 *    through their strides, so a transposed weight is never materialised, and the kernel then
 *    reads both panels with stride 1 from one running index.
 * 2. An MR×NR register tile of C is accumulated over a block of k in local variables: each step
 *    loads MR + NR numbers and does MR·NR multiply-adds.
 * 3. Blocking over k and over columns keeps one A panel in L1 and one block of B panels in L2
 *    while the tiles that use them run.
 *
 * Packing into Float64 keeps float64 matmuls exact and float32 sums in double precision. A
 * Float32 scratch would halve the memory traffic but measured no faster: the kernel is bound by
 * the instructions V8 emits per load (bounds and map checks), not by memory.
 */

/** Rows and columns of the register tile (see microKernel). */
const MR = 4;
const NR = 3;

/**
 * Packs `lines` strided lines of `k` elements into panels of `width` lines, interleaved along k
 * and zero-padded to a whole panel: dst[dstOffset + (l / width) · k · width + p · width + l % width].
 * For A the lines are rows (lineStride = row stride); for B they are columns.
 */
function packPanels(
  src: TypedArray, offset: number, lineStride: number, elemStride: number,
  lines: number, k: number, width: number, dst: Float64Array, dstOffset: number,
): void {
  const padded = Math.ceil(lines / width) * width;
  for (let l = 0; l < padded; l++) {
    let q = dstOffset + Math.floor(l / width) * k * width + (l % width);
    if (l < lines) {
      for (let p = 0, s = offset + l * lineStride; p < k; p++, s += elemStride, q += width) dst[q] = src[s]!;
    } else {
      for (let p = 0; p < k; p++, q += width) dst[q] = 0;
    }
  }
}

/*
 * The kernel: three self-contained functions, which every thread compiles from their text (see
 * workerPool.ts), so they refer to nothing outside themselves; `gemmKernel` gets the other two
 * as parameters.
 */

/**
 * c[ci.., MR rows × NR cols, row stride ldc] += A panel · B panel over `kLen` steps.
 * 4×3 is the largest tile whose 12 accumulators plus the 7 values loaded per step fit in x64's
 * 16 float registers; 4×4 spills to the stack and runs slower. Both panels live in one array:
 * V8 re-checks a typed array's map on every loop iteration, so one array means half the checks
 * (5–10% of matmul time).
 */
function microKernel(panels: Float64Array, pa: number, pb: number, kLen: number, c: Float64Array, ci: number, ldc: number): void {
  let c00 = 0, c01 = 0, c02 = 0;
  let c10 = 0, c11 = 0, c12 = 0;
  let c20 = 0, c21 = 0, c22 = 0;
  let c30 = 0, c31 = 0, c32 = 0;
  const end = pa + kLen * 4;
  for (; pa < end; pa += 4, pb += 3) {
    const y0 = panels[pb]!, y1 = panels[pb + 1]!, y2 = panels[pb + 2]!;
    const x0 = panels[pa]!;
    c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2;
    const x1 = panels[pa + 1]!;
    c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2;
    const x2 = panels[pa + 2]!;
    c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2;
    const x3 = panels[pa + 3]!;
    c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2;
  }
  c[ci] += c00; c[ci + 1] += c01; c[ci + 2] += c02; ci += ldc;
  c[ci] += c10; c[ci + 1] += c11; c[ci + 2] += c12; ci += ldc;
  c[ci] += c20; c[ci + 1] += c21; c[ci + 2] += c22; ci += ldc;
  c[ci] += c30; c[ci + 1] += c31; c[ci + 2] += c32;
}

/**
 * c[rows i0..i1, columns j0..j1] += packed A · packed B, where c is mp × np (the padded sizes),
 * packed A (mp × k) starts the panels, packed B (k × np) starts at `bStart`. KC = 256 keeps one
 * A panel (KC·MR doubles, 8 KiB) in L1; NC = 96 columns keep KC·NC doubles of B (192 KiB) in L2.
 */
function gemmBlock(
  micro: typeof microKernel, panels: Float64Array, bStart: number, c: Float64Array, np: number, k: number, i0: number, i1: number, j0: number, j1: number,
): void {
  const MR = 4, NR = 3, KC = 256, NC = 96;
  for (let k0 = 0; k0 < k; k0 += KC) {
    const kLen = Math.min(KC, k - k0);
    for (let jb = j0; jb < j1; jb += NC) {
      const jbEnd = Math.min(j1, jb + NC);
      for (let i = i0; i < i1; i += MR) {
        const pa = i * k + k0 * MR;
        for (let j = jb; j < jbEnd; j += NR) micro(panels, pa, bStart + j * k + k0 * NR, kLen, c, i * np + j, np);
      }
    }
  }
}

/**
 * `part` of `parts` of one matmul: a block of whole row panels of C, or of column panels when C
 * has more of those. buffers = [panels, c]; args = [bStart, mp, np, k]. Every C tile is summed by
 * the same micro-kernel calls in the same k order whichever thread runs it, so the threaded
 * result equals the single-threaded one bit for bit. Its MR×NR (4×3) is the tile of microKernel.
 */
function gemmKernel(_setup: unknown, micro: typeof microKernel, block: typeof gemmBlock): PoolKernel {
  return (buffers, args, part, parts) => {
    const MR = 4, NR = 3;
    const panels = buffers[0]!, c = buffers[1]!;
    const bStart = args[0]!, mp = args[1]!, np = args[2]!, k = args[3]!;
    const rowPanels = mp / MR, colPanels = np / NR;
    if (rowPanels >= colPanels) {
      const i0 = Math.floor((part * rowPanels) / parts) * MR, i1 = Math.floor(((part + 1) * rowPanels) / parts) * MR;
      block(micro, panels, bStart, c, np, k, i0, i1, 0, np);
    } else {
      const j0 = Math.floor((part * colPanels) / parts) * NR, j1 = Math.floor(((part + 1) * colPanels) / parts) * NR;
      block(micro, panels, bStart, c, np, k, 0, mp, j0, j1);
    }
  };
}

const program: PoolProgram = { kernel: gemmKernel, helpers: [microKernel, gemmBlock] };
/** The same kernel on this thread, for matmuls too small to split. */
const gemmPart = compileKernel(program);
const args = new Int32Array(4);

/**
 * Scratch buffers reused across calls (grown, never shrunk), so a matmul allocates nothing per
 * call. They are shared memory while threads are in use, so the workers can read and write them.
 */
let scratch: Float64Array[] = [new Float64Array(0), new Float64Array(0)];
function scratchOf(i: number, size: number, shared: boolean): Float64Array {
  const s = scratch[i]!;
  if (s.length < size || (shared && !(s.buffer instanceof SharedArrayBuffer))) {
    scratch = scratch.slice();
    scratch[i] = shared ? sharedFloat64(size) : new Float64Array(size);
  }
  return scratch[i]!;
}

export interface MatOperand {
  data: TypedArray;
  offset: number;
  shape: readonly number[]; // [...batch, rows, cols]
  strides: readonly number[];
}

/** Batched matmul over operands with one shared batch shape; writes row-major results to `out`. */
export function batchedMatmul(a: MatOperand, b: MatOperand, out: TypedArray): void {
  const r = a.shape.length;
  const m = a.shape[r - 2]!, k = a.shape[r - 1]!, n = b.shape[r - 1]!;
  const mp = Math.ceil(m / MR) * MR, np = Math.ceil(n / NR) * NR;
  const batchShape = a.shape.slice(0, r - 2);
  const batches = batchShape.reduce((x, y) => x * y, 1);
  const bStart = mp * k;
  const threads = matmulPool(program, m, k, n);
  const panels = scratchOf(0, bStart + np * k, threads !== null), c = scratchOf(1, mp * np, threads !== null);
  const idx = new Array<number>(batchShape.length).fill(0);
  // A batch dim broadcast with stride 0 repeats the same matrix: pack it once.
  let packedA = -1, packedB = -1;
  for (let t = 0; t < batches; t++) {
    let ao = a.offset, bo = b.offset;
    for (let d = 0; d < batchShape.length; d++) {
      ao += idx[d]! * a.strides[d]!;
      bo += idx[d]! * b.strides[d]!;
    }
    if (ao !== packedA) packPanels(a.data, ao, a.strides[r - 2]!, a.strides[r - 1]!, m, k, MR, panels, 0);
    if (bo !== packedB) packPanels(b.data, bo, b.strides[r - 1]!, b.strides[r - 2]!, n, k, NR, panels, bStart);
    packedA = ao;
    packedB = bo;
    c.fill(0, 0, mp * np);
    if (threads) {
      try {
        runThreaded(threads, [panels, c], [bStart, mp, np, k]);
      } catch (e) {
        // A stuck worker may still write to the scratch buffers: drop them.
        scratch = [new Float64Array(0), new Float64Array(0)];
        throw e;
      }
    } else {
      args.set([bStart, mp, np, k]);
      gemmPart([panels, c], args, 0, 1);
    }
    for (let i = 0; i < m; i++) out.set(c.subarray(i * np, i * np + n), (t * m + i) * n);
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++idx[d]! < batchShape[d]!) break;
      idx[d] = 0;
    }
  }
}
