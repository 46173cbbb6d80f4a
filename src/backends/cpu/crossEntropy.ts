import type { TypedArray } from '../../core/dtype.js';

// Cross-entropy's fused kernels over contiguous rows of c log-probabilities, in plain
// JavaScript. The backend computes the log-softmax and its exp with its WebAssembly kernels
// where it can; these loops then read each row once, with nothing allocated but the results
// (see core/ops/crossEntropy.ts for the formulas). The gradient has a WebAssembly twin
// (wasm/crossEntropy.ts) for float32 without label smoothing.

/** Each row's loss from its log-probabilities `logp`: −(1 − ε)·logp[t] − (ε/C)·Σ logp, 0 where ignored. */
export function crossEntropyLoss(logp: TypedArray, target: TypedArray, rows: number, c: number, ignoreIndex: number, smoothing: number, loss: TypedArray): void {
  for (let r = 0, o = 0; r < rows; r++, o += c) {
    const t = target[r]!;
    if (t === ignoreIndex) {
      loss[r] = 0;
      continue;
    }
    let sum = 0;
    if (smoothing !== 0) for (let i = 0; i < c; i++) sum += logp[o + i]!;
    loss[r] = -(1 - smoothing) * logp[o + t]! - (smoothing / c) * sum;
  }
}

/**
 * Turns `p`, the softmax of each row, into the gradient of the rows' losses in place, given g (one
 * per row): g·(p − (1 − ε)·onehot − ε/C), 0 where ignored.
 */
export function crossEntropyGradient(p: TypedArray, g: TypedArray, target: TypedArray, rows: number, c: number, ignoreIndex: number, smoothing: number): void {
  const spread = smoothing / c;
  for (let r = 0, o = 0; r < rows; r++, o += c) {
    const t = target[r]!;
    if (t === ignoreIndex) {
      p.fill(0, o, o + c);
      continue;
    }
    const gr = g[r]!;
    for (let i = 0; i < c; i++) p[o + i] = gr * (p[o + i]! - spread);
    p[o + t] -= gr * (1 - smoothing);
  }
}
