/**
 * Stateless layer and loss functions (PyTorch's torch.nn.functional).
 *
 * @example
 * nn.functional.crossEntropy(logits, targets);
 * @module
 */
import { fromTypedArray } from '../core/creation.js';
import { check, fmt } from '../core/errors.js';
import { nextUniform } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { type TensorLike, asTensor } from './inputs.js';

export {
  crossEntropy, nllLoss, binaryCrossEntropyWithLogits,
  type CrossEntropyOptions, type NllLossOptions, type Reduction,
} from './losses.js';

/**
 * y = x·Wᵀ + b with weight [out, in] (PyTorch's layout). Wᵀ is a strided view, never a copy.
 *
 * @example
 * linear(x, weight, bias); // x [batch, in] → [batch, out]
 */
export function linear(input: TensorLike, weight: Tensor, bias?: Tensor | null): Tensor {
  const x = asTensor('linear', input, weight.dtype, weight);
  check(weight.ndim === 2, 'linear', () => `weight must be [out, in], got ${fmt(weight.shape)}`);
  check(x.shape[x.ndim - 1] === weight.shape[1], 'linear', () =>
    `input ${fmt(x.shape)} has ${x.shape[x.ndim - 1]} features but weight ${fmt(weight.shape)} expects ${weight.shape[1]}`);
  const y = x.matmul(weight.transpose(0, 1));
  return bias ? y.add(bias) : y;
}

/** Mean squared error. @example mseLoss(pred, target) */
export function mseLoss(pred: TensorLike, expected: TensorLike): Tensor {
  const input = asTensor('mseLoss', pred, 'float32');
  const target = asTensor('mseLoss', expected, input.dtype, input);
  check(input.shape.length === target.shape.length && input.shape.every((d, i) => d === target.shape[i]), 'mseLoss', () =>
    `input ${fmt(input.shape)} and target ${fmt(target.shape)} must have one shape`);
  const d = input.sub(target);
  return d.mul(d).mean();
}

/**
 * Normalizes over the last dim, then scales and shifts.
 *
 * @example
 * layerNorm(x, gamma, beta, 1e-5);
 */
export function layerNorm(input: TensorLike, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const x = asTensor('layerNorm', input, weight?.dtype ?? 'float32', weight);
  const mu = x.mean(-1, true);
  const centered = x.sub(mu);
  const variance = centered.mul(centered).mean(-1, true);
  let y = centered.div(variance.add(eps).sqrt());
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}

/**
 * Looks up rows of `weight` [V, D] for int32 `indices` of any shape → [...indices.shape, D].
 *
 * @example
 * embedding(tensor([[1, 2]], { dtype: 'int32' }), table); // [1, 2, D]
 */
export function embedding(ids: TensorLike, weight: Tensor): Tensor {
  const indices = asTensor('embedding', ids, 'int32', weight);
  check(weight.ndim === 2, 'embedding', () => `weight must be [V, D], got ${fmt(weight.shape)}`);
  check(indices.dtype === 'int32', 'embedding', () => `indices must be int32, got ${indices.dtype}`);
  const rows = weight.indexSelect(0, indices.reshape([-1]));
  return rows.reshape([...indices.shape, weight.shape[1]!]);
}

/**
 * Zeroes elements with probability `p` and scales the rest by 1/(1−p) while training; the mask
 * comes from the seeded generator (`manualSeed`).
 *
 * @example
 * dropout(x, 0.1, true);
 */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  check(p >= 0 && p < 1, 'dropout', () => `p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const mask = new Float64Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = nextUniform() >= p ? 1 / (1 - p) : 0;
  const m = fromTypedArray(mask, x.shape, { backend: x.backend, dtype: x.dtype });
  return x.mul(m);
}

/**
 * A LoRA layer: `linear(x, W, b) + scaling · (dropout(x) Aᵀ) Bᵀ` with A [rank, in], B [out, rank].
 * The low-rank path is two thin matmuls; B·A is never formed, so a frozen W costs no gradient.
 *
 * @example
 * loraLinear(x, w0, b0, a, b, alpha / rank);
 */
export function loraLinear(
  x: Tensor, weight: Tensor, bias: Tensor | null | undefined, loraA: Tensor, loraB: Tensor, scaling: number,
  opts: { dropout?: number; training?: boolean } = {},
): Tensor {
  check(loraA.ndim === 2 && loraA.shape[1] === weight.shape[1], 'loraLinear', () =>
    `loraA must be [rank, ${weight.shape[1]}] for weight ${fmt(weight.shape)}, got ${fmt(loraA.shape)}`);
  check(loraB.ndim === 2 && loraB.shape[0] === weight.shape[0] && loraB.shape[1] === loraA.shape[0], 'loraLinear', () =>
    `loraB must be [${weight.shape[0]}, ${loraA.shape[0]}] for weight ${fmt(weight.shape)} and loraA ${fmt(loraA.shape)}, got ${fmt(loraB.shape)}`);
  const base = linear(x, weight, bias);
  const h = dropout(x, opts.dropout ?? 0, opts.training ?? false);
  // Scaling the [batch, rank] intermediate is the cheapest place for it.
  const update = h.matmul(loraA.transpose(0, 1)).mul(scaling).matmul(loraB.transpose(0, 1));
  return base.add(update);
}
