import type { TypedArray } from '../../core/dtype.js';

// Cross-entropy's fused kernels over contiguous rows of c logits, in plain JavaScript: each row
// is read twice (its max, then Σ exp) for the loss and twice for the gradient, with nothing
// allocated but the results. Sums are taken in float64 (see core/ops/crossEntropy.ts for the formulas).

/** Each row's loss (0 where ignored) and log Σ exp of its logits. */
export function crossEntropyForward(
  x: TypedArray, target: TypedArray, rows: number, c: number, ignoreIndex: number, smoothing: number,
  loss: TypedArray, lse: TypedArray,
): void {
  for (let r = 0, o = 0; r < rows; r++, o += c) {
    // The max's NaN sticks, as in the reduction, and makes the row's loss NaN.
    let m = -Infinity, sum = 0;
    for (let i = 0; i < c; i++) {
      const v = x[o + i]!;
      if (v > m || v !== v) m = v;
      sum += v;
    }
    let s = 0;
    for (let i = 0; i < c; i++) s += Math.exp(x[o + i]! - m);
    const l = m + Math.log(s);
    lse[r] = l;
    const t = target[r]!;
    loss[r] = t === ignoreIndex ? 0 : l - (1 - smoothing) * x[o + t]! - (smoothing / c) * sum;
  }
}

/** The gradient of the rows' losses given g (one per row): g·(softmax − (1 − ε)·onehot − ε/C), 0 where ignored. */
export function crossEntropyBackward(
  g: TypedArray, x: TypedArray, target: TypedArray, lse: TypedArray, rows: number, c: number, ignoreIndex: number, smoothing: number,
  dx: TypedArray,
): void {
  const spread = smoothing / c;
  for (let r = 0, o = 0; r < rows; r++, o += c) {
    const t = target[r]!;
    if (t === ignoreIndex) {
      dx.fill(0, o, o + c);
      continue;
    }
    const gr = g[r]!, l = lse[r]!;
    for (let i = 0; i < c; i++) dx[o + i] = gr * (Math.exp(x[o + i]! - l) - spread);
    dx[o + t] -= gr * (1 - smoothing);
  }
}
