import { type KernelSource, LINEAR_ID, metaSize, prelude, unflatten } from './common.js';

/**
 * One fused Adam/AdamW step in place over contiguous param, m, v and a strided gradient.
 * Word layout: `[n, gradOffset, lr, beta1, beta2, eps, biasCorrection1, biasCorrection2, l2,
 * decoupledDecay, shape × r, gradStrides × r]` (the hyper-parameters as f32 bits).
 */
export function adamKernel(rank: number): KernelSource {
  const metaVec4 = metaSize(10 + 2 * rank);
  return {
    key: `adam|${rank}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;
${LINEAR_ID}
  if (i >= M(0u)) { return; }
  var rem = i;
  var og = S(1u);
${unflatten(rank, 10, [['og', 10 + rank]])}
  let lr = F(2u);
  let b1 = F(3u);
  let b2 = F(4u);
  var p = param[i];
  let g = grad[og] + F(8u) * p;
  p = p - F(9u) * p;
  let m = b1 * m1[i] + (1.0 - b1) * g;
  let v = b2 * m2[i] + (1.0 - b2) * g * g;
  m1[i] = m;
  m2[i] = v;
  param[i] = p - lr * (m / F(6u)) / (sqrt(v / F(7u)) + F(5u));
}`,
  };
}
