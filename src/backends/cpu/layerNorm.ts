import type { TypedArray } from '../../core/dtype.js';

// LayerNorm's fused kernels over contiguous rows of d elements, in plain JavaScript: each row
// is read twice (its sums, then the output) instead of once per composed op, and nothing but the
// results is allocated. Sums are taken in float64 and each result rounded once on store, so the
// float32 results are at least as accurate as the composed ops' (see core/ops/layerNorm.ts for
// the formulas).

/** y = (x − mean)·rstd·w + b for each row of `x`, keeping each row's mean and rstd. */
export function layerNormForward(
  x: TypedArray, w: TypedArray | null, b: TypedArray | null, rows: number, d: number, eps: number,
  y: TypedArray, mean: TypedArray, rstd: TypedArray,
): void {
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[o + i]!;
    const m = s / d;
    let v = 0;
    for (let i = 0; i < d; i++) {
      const c = x[o + i]! - m;
      v += c * c;
    }
    const rs = 1 / Math.sqrt(v / d + eps);
    mean[r] = m;
    rstd[r] = rs;
    if (w && b) for (let i = 0; i < d; i++) y[o + i] = (x[o + i]! - m) * rs * w[i]! + b[i]!;
    else if (w) for (let i = 0; i < d; i++) y[o + i] = (x[o + i]! - m) * rs * w[i]!;
    else if (b) for (let i = 0; i < d; i++) y[o + i] = (x[o + i]! - m) * rs + b[i]!;
    else for (let i = 0; i < d; i++) y[o + i] = (x[o + i]! - m) * rs;
  }
}

/**
 * dx, dw and db of LayerNorm in one pass over the rows: with x̂ = (x − mean)·rstd and ĝ = g·w,
 * dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)); dw and db sum g·x̂ and g over the rows.
 */
export function layerNormBackward(
  g: TypedArray, x: TypedArray, mean: TypedArray, rstd: TypedArray, w: TypedArray | null, rows: number, d: number,
  dx: TypedArray, dw: TypedArray, db: TypedArray,
): void {
  const accW = new Float64Array(d), accB = new Float64Array(d);
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    const m = mean[r]!, rs = rstd[r]!;
    let sg = 0, sgx = 0;
    for (let i = 0; i < d; i++) {
      const gi = g[o + i]!, xh = (x[o + i]! - m) * rs;
      const gy = w ? gi * w[i]! : gi;
      sg += gy;
      sgx += gy * xh;
      accW[i] += gi * xh;
      accB[i] += gi;
    }
    const a = sg / d, c = sgx / d;
    for (let i = 0; i < d; i++) {
      const xh = (x[o + i]! - m) * rs;
      const gy = w ? g[o + i]! * w[i]! : g[o + i]!;
      dx[o + i] = rs * (gy - a - xh * c);
    }
  }
  dw.set(accW);
  db.set(accB);
}
