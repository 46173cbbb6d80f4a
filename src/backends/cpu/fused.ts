import type { FusedKernels, View } from '../../core/backend.js';
import type { TypedArray } from '../../core/dtype.js';
import { contiguousStrides, sizeOf } from '../../core/shape.js';

type AdamArgs = Parameters<NonNullable<FusedKernels<TypedArray>['adam']>>[0];

/**
 * One Adam/AdamW step in place in plain JavaScript, for float64 and for what the WebAssembly
 * kernel leaves (see wasm/elementwise.ts for the formula). `grad` is read in row-major order
 * through its strides.
 */
export function adamJs(x: AdamArgs, grad: TypedArray): void {
  const { param, m, v, size, lr, beta1, beta2, eps, biasCorrection1, biasCorrection2, l2, decoupledDecay } = x;
  for (let i = 0; i < size; i++) {
    let p = param[i]!;
    const g = grad[i]! + l2 * p;
    p -= decoupledDecay * p;
    const mi = beta1 * m[i]! + (1 - beta1) * g;
    const vi = beta2 * v[i]! + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - (lr * (mi / biasCorrection1)) / (Math.sqrt(vi / biasCorrection2) + eps);
  }
}

/**
 * Softmax (log-softmax when `log`) of `x` along `axis` into the contiguous `out`, in plain
 * JavaScript, for what the WebAssembly kernel leaves. It rounds where core's composed ops round
 * (x − max, its exp, the float64 sum and the log of it are each stored in x's dtype), so it
 * gives their results bit for bit.
 */
export function softmaxJs(x: View<TypedArray>, axis: number, log: boolean, out: TypedArray): void {
  const round = x.dtype === 'float32' ? Math.fround : (v: number) => v;
  const n = x.shape[axis]!, step = x.strides[axis]!, outStep = contiguousStrides(x.shape)[axis]!;
  const keep = x.shape.filter((_, d) => d !== axis);
  const xKeep = x.strides.filter((_, d) => d !== axis), outKeep = contiguousStrides(x.shape).filter((_, d) => d !== axis);
  const idx = new Array<number>(keep.length).fill(0);
  const data = x.storage;
  for (let row = 0, rows = sizeOf(keep); row < rows; row++) {
    let xo = x.offset, oo = 0;
    for (let d = 0; d < keep.length; d++) {
      xo += idx[d]! * xKeep[d]!;
      oo += idx[d]! * outKeep[d]!;
    }
    // The max's NaN sticks, as in the reduction.
    let m = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = data[xo + i * step]!;
      if (v > m || v !== v) m = v;
    }
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const at = oo + i * outStep;
      out[at] = Math.exp(round(data[xo + i * step]! - m));
      sum += out[at]!; // the stored (rounded) value, as the composed sum reads it
    }
    const s = round(sum);
    if (log) {
      const l = round(Math.log(s));
      for (let i = 0; i < n; i++) out[oo + i * outStep] = round(data[xo + i * step]! - m) - l;
    } else {
      for (let i = 0; i < n; i++) out[oo + i * outStep] = out[oo + i * outStep]! / s;
    }
    for (let d = keep.length - 1; d >= 0; d--) {
      if (++idx[d]! < keep[d]!) break;
      idx[d] = 0;
    }
  }
}
