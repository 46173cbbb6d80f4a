/**
 * Stateless layer and loss functions (PyTorch's torch.nn.functional).
 *
 * @example
 * nn.functional.crossEntropy(logits, targets);
 * @module
 */
import { fromTypedArray } from '../core/creation.js';
import { isHalf } from '../core/dtype.js';
import { check, fmt } from '../core/errors.js';
import { layerNorm as fusedLayerNorm } from '../core/ops/layerNorm.js';
import { nextUniform } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { assertIndexRange, assertSameBackend, assertTensor, checkArgs, describeValue } from '../core/validate.js';
import { type TensorLike, asTensor, castForCompute, checkIndexValues, computeDType } from './inputs.js';

export { scaledDotProductAttention, type AttentionOptions } from '../core/ops/attention.js';
export { maskedFill } from '../core/ops/maskedFill.js';
export { conv2d, convTranspose2d, type Conv2dOptions, type ConvTranspose2dOptions, type Size2d } from '../core/ops/conv.js';
export { avgPool2d, maxPool2d, type AvgPool2dOptions, type MaxPool2dOptions } from '../core/ops/pool.js';
export { interpolate, type InterpolateOptions } from '../core/ops/interpolate.js';
export { groupNorm } from '../core/ops/groupNorm.js';
export { silu } from '../core/ops/silu.js';
export { pad } from '../core/ops/pad.js';

export {
  crossEntropy, nllLoss, binaryCrossEntropyWithLogits,
  type CrossEntropyOptions, type NllLossOptions, type Reduction,
} from './losses.js';

/** Checks an optional tensor argument (null and undefined mean "none"). */
function optionalTensor(op: string, v: unknown, name: string): void {
  if (v !== null && v !== undefined) assertTensor(op, v, name);
}

/**
 * y = x·Wᵀ + b with weight [out, in] (PyTorch's layout). Wᵀ is a strided view, never a copy.
 *
 * @example
 * linear(x, weight, bias); // x [batch, in] → [batch, out]
 */
export function linear(input: TensorLike, weight: Tensor, bias?: Tensor | null): Tensor {
  assertTensor('linear', weight, 'weight');
  optionalTensor('linear', bias, 'bias');
  const x = asTensor('linear', input, computeDType(weight.dtype), weight);
  check(x.ndim >= 1, 'linear', () => `input must have a feature dim, got a 0-d tensor`);
  assertSameBackend('linear', x, weight, ...(bias ? [bias] : []));
  // A float16/bfloat16 weight is read in place by a float32 (or float64) input: mixed precision.
  check(x.dtype === weight.dtype || (isHalf(weight.dtype) && (x.dtype === 'float32' || x.dtype === 'float64')), 'linear', () =>
    `input is ${x.dtype} but weight is ${weight.dtype}; cast one first${isHalf(x.dtype) ? ' (16-bit inputs: t.float())' : ''}`);
  check(weight.ndim === 2, 'linear', () => `weight must be [out, in], got ${fmt(weight.shape)}`);
  check(x.shape[x.ndim - 1] === weight.shape[1], 'linear', () =>
    `input ${fmt(x.shape)} has ${x.shape[x.ndim - 1]} features but weight ${fmt(weight.shape)} expects ${weight.shape[1]}`);
  check(!bias || bias.ndim === 0 || (bias.ndim === 1 && bias.shape[0] === weight.shape[0]), 'linear', () =>
    `bias must be [${weight.shape[0]}] (one per output feature of weight ${fmt(weight.shape)}), got ${fmt(bias!.shape)}`);
  const y = x.matmul(weight.transpose(0, 1));
  return bias ? y.add(castForCompute(bias, y.dtype)) : y;
}

/**
 * GELU, x·Φ(x): exact (erf) by default, or PyTorch's tanh approximation (GPT-2's `gelu_new`).
 *
 * @example
 * gelu(x, { approximate: 'tanh' });
 */
export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  checkArgs('gelu', [x, opts], ['input:tensor', 'options:object?']);
  return x.gelu(opts);
}

/** Mean squared error. @example mseLoss(pred, target) */
export function mseLoss(pred: TensorLike, expected: TensorLike): Tensor {
  const input = asTensor('mseLoss', pred, 'float32');
  const target = asTensor('mseLoss', expected, input.dtype, input);
  checkArgs('mseLoss', [input, target], ['input:tensor', 'target:tensor']);
  assertSameBackend('mseLoss', input, target);
  check(input.shape.length === target.shape.length && input.shape.every((d, i) => d === target.shape[i]), 'mseLoss', () =>
    `input ${fmt(input.shape)} and target ${fmt(target.shape)} must have one shape`);
  check(input.size > 0, 'mseLoss', () => `input and target ${fmt(input.shape)} are empty, and the mean of no elements is undefined`);
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
  optionalTensor('layerNorm', weight, 'weight');
  optionalTensor('layerNorm', bias, 'bias');
  const x = asTensor('layerNorm', input, computeDType(weight?.dtype ?? 'float32'), weight);
  check(x.ndim >= 1 && x.shape[x.ndim - 1]! > 0, 'layerNorm', () => `input ${fmt(x.shape)} needs a non-empty last dim to normalize over`);
  check(x.dtype !== 'int32', 'layerNorm', () => `needs a float input, got int32; cast first with t.cast('float32')`);
  const d = x.shape[x.ndim - 1]!;
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    check(!t || (t.ndim === 1 && t.shape[0] === d), 'layerNorm', () => `${name} must be [${d}] for input ${fmt(x.shape)}, got ${fmt(t!.shape)}`);
  }
  assertSameBackend('layerNorm', x, ...[weight, bias].filter((t): t is Tensor => !!t));
  check(Number.isFinite(eps) && eps >= 0, 'layerNorm', () => `eps must be a finite number ≥ 0, got ${describeValue(eps)}`);
  return fusedLayerNorm(x, weight ? castForCompute(weight, x.dtype) : null, bias ? castForCompute(bias, x.dtype) : null, eps);
}

/**
 * Looks up rows of `weight` [V, D] for int32 `indices` of any shape → [...indices.shape, D].
 * Like the other functional ops, it also takes `indices` as nested arrays of whole numbers
 * (`embedding([[1, 2]], table)`), made int32 on the weight's backend; non-integers are refused.
 *
 * @example
 * embedding(tensor([[1, 2]], { dtype: 'int32' }), table); // [1, 2, D]
 */
export function embedding(ids: TensorLike, weight: Tensor): Tensor {
  assertTensor('embedding', weight, 'weight');
  check(weight.ndim === 2, 'embedding', () => `weight must be [V, D], got ${fmt(weight.shape)}`);
  const rows = weight.shape[0]!;
  const outOfRange = (bad: number) => `index ${bad} is out of range for a table of ${rows} rows (weight ${fmt(weight.shape)}; valid: 0..${rows - 1})`;
  checkIndexValues('embedding', ids, (i) => !Number.isInteger(i) || (i >= 0 && i < rows), outOfRange);
  const indices = asTensor('embedding', ids, 'int32', weight);
  check(indices.dtype === 'int32', 'embedding', () => `indices must be int32, got ${indices.dtype}`);
  assertSameBackend('embedding', indices, weight);
  assertIndexRange('embedding', indices, rows, outOfRange);
  const picked = weight.indexSelect(0, indices.reshape([-1]));
  // A 16-bit table's rows come out float32: the activations of a 16-bit model are float32.
  return castForCompute(picked, 'float32').reshape([...indices.shape, weight.shape[1]!]);
}

/**
 * Zeroes elements with probability `p` and scales the rest by 1/(1−p) while training; the mask
 * comes from the seeded generator (`manualSeed`).
 *
 * @example
 * dropout(x, 0.1, true);
 */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  assertTensor('dropout', x, 'input');
  check(typeof training === 'boolean', 'dropout', () => `training must be a boolean, got ${describeValue(training)}`);
  check(typeof p === 'number' && p >= 0 && p < 1, 'dropout', () => `p must be in [0, 1), got ${typeof p === 'number' ? p : describeValue(p)}`);
  if (!training || p === 0) return x;
  check(x.dtype !== 'int32', 'dropout', () => `needs a float input while training, got int32; cast first with t.cast('float32')`);
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
  checkArgs('loraLinear', [x, weight, bias ?? undefined, loraA, loraB], ['input:tensor', 'weight:tensor', 'bias:tensor?', 'loraA:tensor', 'loraB:tensor']);
  check(Number.isFinite(scaling), 'loraLinear', () => `scaling must be a finite number, got ${describeValue(scaling)}`);
  check(weight.ndim === 2 && x.ndim >= 1 && x.shape[x.ndim - 1] === weight.shape[1], 'loraLinear', () =>
    `input ${fmt(x.shape)} must end in the ${weight.shape[1]} features of weight ${fmt(weight.shape)} (weight must be [out, in])`);
  assertSameBackend('loraLinear', x, weight, loraA, loraB, ...(bias ? [bias] : []));
  // A float16/bfloat16 base weight is read by a float32 or float64 input (mixed precision, see linear).
  const weightFits = isHalf(weight.dtype) ? x.dtype === 'float32' || x.dtype === 'float64' : weight.dtype === x.dtype;
  check(weightFits && loraA.dtype === x.dtype && loraB.dtype === x.dtype, 'loraLinear', () =>
    `input, weight, loraA and loraB must share a dtype (a float16/bfloat16 weight takes a float32 or float64 input and adapters), got ${[x, weight, loraA, loraB].map((t) => t.dtype).join(', ')}`);
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
