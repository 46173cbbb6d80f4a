import type { TypedArray } from '../../core/dtype.js';

/**
 * Packs a strided [rows, cols] matrix into a contiguous row-major Float64Array scratch, so the
 * micro-kernel reads both operands along k with stride 1 whatever their layout (a transposed
 * weight is read in place, never materialised as a tensor).
 */
function pack(src: TypedArray, off: number, rs: number, cs: number, rows: number, cols: number, dst: Float64Array): void {
  let p = 0;
  for (let r = 0; r < rows; r++) {
    let q = off + r * rs;
    for (let c = 0; c < cols; c++, q += cs) dst[p++] = src[q]!;
  }
}

const KB = 256; // k-block: 4 rows of A and a 64-column panel of B^T stay in cache
const NB = 64;

/**
 * C[m,n] = A[m,k] · B[k,n] for one batch entry. A is packed row-major (m×k), B packed as
 * Bᵀ (n×k); a 4×4 register tile of dot products reads 8 values per 16 multiply-adds.
 */
function gemm(a: Float64Array, bt: Float64Array, c: Float64Array, m: number, n: number, k: number): void {
  c.fill(0, 0, m * n);
  for (let k0 = 0; k0 < k; k0 += KB) {
    const k1 = Math.min(k, k0 + KB);
    for (let j0 = 0; j0 < n; j0 += NB) {
      const j1 = Math.min(n, j0 + NB);
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        const a0 = i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
        let j = j0;
        for (; j + 4 <= j1; j += 4) {
          const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
          let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
          let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
          for (let p = k0; p < k1; p++) {
            const x0 = a[a0 + p]!, x1 = a[a1 + p]!, x2 = a[a2 + p]!, x3 = a[a3 + p]!;
            const y0 = bt[b0 + p]!, y1 = bt[b1 + p]!, y2 = bt[b2 + p]!, y3 = bt[b3 + p]!;
            c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
            c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
            c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
            c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
          }
          let o = i * n + j;
          c[o] += c00; c[o + 1] += c01; c[o + 2] += c02; c[o + 3] += c03; o += n;
          c[o] += c10; c[o + 1] += c11; c[o + 2] += c12; c[o + 3] += c13; o += n;
          c[o] += c20; c[o + 1] += c21; c[o + 2] += c22; c[o + 3] += c23; o += n;
          c[o] += c30; c[o + 1] += c31; c[o + 2] += c32; c[o + 3] += c33;
        }
        for (; j < j1; j++) dotRows(a, bt, c, i, 4, j, n, k, k0, k1);
      }
      for (let j = j0; j < j1; j++) dotRows(a, bt, c, i, m - i, j, n, k, k0, k1);
    }
  }
}

/** Edge columns/rows that do not fill a 4×4 tile. */
function dotRows(a: Float64Array, bt: Float64Array, c: Float64Array, i0: number, rows: number, j: number, n: number, k: number, k0: number, k1: number): void {
  for (let i = i0; i < i0 + rows; i++) {
    let s = 0;
    const ao = i * k, bo = j * k;
    for (let p = k0; p < k1; p++) s += a[ao + p]! * bt[bo + p]!;
    c[i * n + j] += s;
  }
}

export interface MatOperand {
  data: TypedArray;
  offset: number;
  shape: readonly number[]; // [...batch, rows, cols]
  strides: readonly number[];
}

/** Batched matmul over operands with one shared batch shape; returns row-major results in `out`. */
export function batchedMatmul(a: MatOperand, b: MatOperand, out: TypedArray): void {
  const r = a.shape.length;
  const m = a.shape[r - 2]!, k = a.shape[r - 1]!, n = b.shape[r - 1]!;
  const batchShape = a.shape.slice(0, r - 2);
  const batches = batchShape.reduce((x, y) => x * y, 1);
  const pa = new Float64Array(m * k), pbt = new Float64Array(n * k), c = new Float64Array(m * n);
  const idx = new Array<number>(batchShape.length).fill(0);
  for (let t = 0; t < batches; t++) {
    let ao = a.offset, bo = b.offset;
    for (let d = 0; d < batchShape.length; d++) {
      ao += idx[d]! * a.strides[d]!;
      bo += idx[d]! * b.strides[d]!;
    }
    pack(a.data, ao, a.strides[r - 2]!, a.strides[r - 1]!, m, k, pa);
    pack(b.data, bo, b.strides[r - 1]!, b.strides[r - 2]!, n, k, pbt); // Bᵀ: rows are b's columns
    gemm(pa, pbt, c, m, n, k);
    out.set(c, t * m * n);
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++idx[d]! < batchShape[d]!) break;
      idx[d] = 0;
    }
  }
}
