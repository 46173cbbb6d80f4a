import type { TypedArray } from '../../core/dtype.js';

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

/**
 * 4×3 is the largest tile whose 12 accumulators plus the 7 values loaded per step fit in x64's
 * 16 float registers; 4×4 spills to the stack and runs slower.
 */
const MR = 4;
const NR = 3;
/** k-block: one A panel (KC·MR doubles, 8 KiB) stays in L1. */
const KC = 256;
/** Columns per block, a multiple of NR: KC·NC doubles of B (192 KiB) stay in L2. */
const NC = 96;

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

/**
 * c[ci.., 4 rows × 3 cols, row stride ldc] += A panel · B panel over `kLen` steps, reading the
 * A panel from `panels[pa..]` and the B panel from `panels[pb..]`. Both live in one array: V8
 * re-checks a typed array's map on every loop iteration, so one array means half the checks
 * (5–10% of matmul time).
 */
function microKernel(panels: Float64Array, pa: number, pb: number, kLen: number, c: Float64Array, ci: number, ldc: number): void {
  let c00 = 0, c01 = 0, c02 = 0;
  let c10 = 0, c11 = 0, c12 = 0;
  let c20 = 0, c21 = 0, c22 = 0;
  let c30 = 0, c31 = 0, c32 = 0;
  const end = pa + kLen * MR;
  for (; pa < end; pa += MR, pb += NR) {
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
 * c (mp × np, zeroed) = packed A (mp × k, at the start of `panels`) · packed B (k × np, from
 * `bStart`), where mp and np are the padded sizes (multiples of MR and NR).
 */
function gemm(panels: Float64Array, bStart: number, c: Float64Array, mp: number, np: number, k: number): void {
  for (let k0 = 0; k0 < k; k0 += KC) {
    const kLen = Math.min(KC, k - k0);
    for (let j0 = 0; j0 < np; j0 += NC) {
      const j1 = Math.min(np, j0 + NC);
      for (let i = 0; i < mp; i += MR) {
        const pa = i * k + k0 * MR;
        for (let j = j0; j < j1; j += NR) microKernel(panels, pa, bStart + j * k + k0 * NR, kLen, c, i * np + j, np);
      }
    }
  }
}

/** Scratch buffers reused across calls (grown, never shrunk), so a matmul allocates nothing per call. */
let scratch = [new Float64Array(0), new Float64Array(0)];
function scratchOf(i: number, size: number): Float64Array {
  if (scratch[i]!.length < size) {
    scratch = scratch.slice();
    scratch[i] = new Float64Array(size);
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
  const panels = scratchOf(0, bStart + np * k), c = scratchOf(1, mp * np);
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
    gemm(panels, bStart, c, mp, np, k);
    for (let i = 0; i < m; i++) out.set(c.subarray(i * np, i * np + n), (t * m + i) * n);
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++idx[d]! < batchShape[d]!) break;
      idx[d] = 0;
    }
  }
}
