import type { FusedKernels } from '../../core/backend.js';
import type { TypedArray } from '../../core/dtype.js';

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
