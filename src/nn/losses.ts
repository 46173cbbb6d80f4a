import { check, fmt } from '../core/errors.js';
import { crossEntropyRows } from '../core/ops/crossEntropy.js';
import { where } from '../core/ops/elementwise.js';
import { backendOf } from '../core/seams.js';
import type { Tensor } from '../core/tensor.js';
import { assertSameBackend } from '../core/validate.js';
import { type TensorLike, asTensor, checkIndexValues } from './inputs.js';

/** How a loss combines its per-element values: their mean (default), their sum, or none. */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options of `nllLoss`: the ignored class and the reduction. */
export interface NllLossOptions {
  /** Targets equal to this contribute nothing and are left out of the mean (default -100). */
  ignoreIndex?: number;
  reduction?: Reduction;
}

/** Options of `crossEntropy`: those of `nllLoss` and label smoothing. */
export interface CrossEntropyOptions extends NllLossOptions {
  /** Mixes the target with the uniform distribution: (1 − ε)·one-hot + ε/C (default 0). */
  labelSmoothing?: number;
}

function checkReduction(op: string, r: string): asserts r is Reduction {
  check(r === 'mean' || r === 'sum' || r === 'none', op, () => `reduction must be 'mean', 'sum' or 'none', got '${r}'`);
}

/**
 * Scores [N, C, ...] (or [C]) with classes on axis 1 moved last, and targets [N, ...] (or []),
 * after checking they agree; index values are checked on synchronous backends.
 */
function classesLast(op: string, input: Tensor, target: Tensor, ignoreIndex: number): { scores: Tensor; target: Tensor } {
  check(input.ndim >= 1, op, () => `input must be [C], [N, C] or [N, C, d1, ...], got ${fmt(input.shape)}`);
  check(target.dtype === 'int32', op, () => `targets must be int32 class indices, got ${target.dtype}; create them with { dtype: 'int32' }`);
  const batched = input.ndim >= 2;
  const expected = batched ? input.shape.filter((_, i) => i !== 1) : [];
  const named = op === 'crossEntropy' ? 'logits' : 'input';
  check(target.ndim === expected.length && target.shape.every((d, i) => d === expected[i]), op, () =>
    `targets of shape ${fmt(target.shape)} must be [N] for ${named} ${fmt(input.shape)} ([N, C, d1, ...] takes [N, d1, ...] targets, here ${fmt(expected)}; [C] takes a 0-d target)`);
  const c = input.shape[batched ? 1 : 0]!;
  if (backendOf(target).readSync) {
    const bad = target.dataSync().find((v) => v !== ignoreIndex && (v < 0 || v >= c));
    check(bad === undefined, op, () => `target ${bad} is out of range for ${c} classes (${named} ${fmt(input.shape)}; valid: 0..${c - 1} or ignoreIndex ${ignoreIndex})`);
  }
  if (!batched) return { scores: input.unsqueeze(0), target: target.unsqueeze(0) };
  const dims = [0, ...input.shape.map((_, i) => i).slice(2), 1];
  return { scores: input.permute(dims), target };
}

function reduce(perItem: Tensor, kept: Tensor, reduction: Reduction, shape: readonly number[]): Tensor {
  if (reduction === 'none') return perItem.reshape(shape);
  if (reduction === 'sum') return perItem.sum();
  return perItem.sum().div(kept.sum());
}

/** −log p of each target (0 where ignored), the kept mask as floats, and the log-probabilities. */
function picked(logp: Tensor, target: Tensor, ignoreIndex: number): { nll: Tensor; kept: Tensor } {
  const keep = target.ne(ignoreIndex);
  const safe = where(keep, target, 0);
  const kept = keep.cast(logp.dtype);
  const nll = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1).neg().mul(kept);
  return { nll, kept };
}

/** Plain-array class targets checked against the classes of `x` [N, C, ...] (or [C]) before upload. */
function checkTargetValues(op: string, x: Tensor, targets: TensorLike, opts: { ignoreIndex?: number } | null | undefined): void {
  if (x.ndim === 0) return;
  const c = x.shape[x.ndim >= 2 ? 1 : 0]!;
  const ignoreIndex = opts?.ignoreIndex ?? -100;
  checkIndexValues(op, targets, (i) => !Number.isInteger(i) || i === ignoreIndex || (i >= 0 && i < c), (bad) =>
    `target ${bad} is out of range for ${c} classes (${op === 'crossEntropy' ? 'logits' : 'input'} ${fmt(x.shape)}; valid: 0..${c - 1} or ignoreIndex ${ignoreIndex})`);
}

/**
 * Negative log-likelihood of log-probabilities [N, C, ...] (or [C]) against int32 class indices
 * [N, ...], with PyTorch's `ignoreIndex` and `reduction`; the mean is over targets not ignored.
 *
 * @example
 * nllLoss(logits.logSoftmax(1), targets);
 */
export function nllLoss(input: TensorLike, target: TensorLike, opts: NllLossOptions = {}): Tensor {
  const x = asTensor('nllLoss', input, 'float32');
  checkTargetValues('nllLoss', x, target, opts);
  const t = asTensor('nllLoss', target, 'int32', x);
  const ignoreIndex = opts.ignoreIndex ?? -100, reduction = opts.reduction ?? 'mean';
  checkReduction('nllLoss', reduction);
  const { scores, target: tt } = classesLast('nllLoss', x, t, ignoreIndex);
  const { nll, kept } = picked(scores, tt, ignoreIndex);
  return reduce(nll, kept, reduction, t.shape);
}

/**
 * Cross-entropy of logits [N, C, ...] (or [C]) against int32 class indices [N, ...], stable for
 * large logits, with PyTorch's `ignoreIndex`, `labelSmoothing` and `reduction`.
 *
 * @example
 * crossEntropy(logits, tensor([2, 0], { dtype: 'int32' }));
 * crossEntropy(logits, targets, { labelSmoothing: 0.1, ignoreIndex: 0 });
 */
export function crossEntropy(logits: TensorLike, targets: TensorLike, opts: CrossEntropyOptions = {}): Tensor {
  const x = asTensor('crossEntropy', logits, 'float32');
  checkTargetValues('crossEntropy', x, targets, opts);
  const t = asTensor('crossEntropy', targets, 'int32', x);
  assertSameBackend('crossEntropy', x, t);
  check(x.dtype !== 'int32', 'crossEntropy', () => `logits must be float, got int32; cast first with t.cast('float32')`);
  check(x.ndim === 0 || x.shape[x.ndim >= 2 ? 1 : 0]! > 0, 'crossEntropy', () => `logits ${fmt(x.shape)} need at least one class`);
  const ignoreIndex = opts.ignoreIndex ?? -100, reduction = opts.reduction ?? 'mean', eps = opts.labelSmoothing ?? 0;
  checkReduction('crossEntropy', reduction);
  check(Number.isFinite(eps) && eps >= 0 && eps <= 1, 'crossEntropy', () => `labelSmoothing must be in [0, 1], got ${eps}`);
  const { scores, target: tt } = classesLast('crossEntropy', x, t, ignoreIndex);
  const perItem = crossEntropyRows(scores, tt, ignoreIndex, eps);
  return reduce(perItem, tt.ne(ignoreIndex).cast(perItem.dtype), reduction, t.shape);
}

/**
 * Binary cross-entropy of raw logits against targets in [0, 1] of the same shape, computed as
 * `max(x, 0) − x·y + log(1 + e^{−|x|})` so large logits stay finite (PyTorch's
 * `binary_cross_entropy_with_logits`); `posWeight` scales the positive term.
 *
 * @example
 * binaryCrossEntropyWithLogits(logits, labels);
 */
export function binaryCrossEntropyWithLogits(
  input: TensorLike, target: TensorLike, opts: { reduction?: Reduction; posWeight?: Tensor | number } = {},
): Tensor {
  const x = asTensor('binaryCrossEntropyWithLogits', input, 'float32');
  const y = asTensor('binaryCrossEntropyWithLogits', target, x.dtype, x);
  const reduction = opts.reduction ?? 'mean';
  checkReduction('binaryCrossEntropyWithLogits', reduction);
  check(x.ndim === y.ndim && x.shape.every((d, i) => d === y.shape[i]), 'binaryCrossEntropyWithLogits', () =>
    `input ${fmt(x.shape)} and target ${fmt(y.shape)} must have one shape`);
  const yf = y.dtype === x.dtype ? y : y.cast(x.dtype);
  // log(1 + e^{-x}) = log(1 + e^{-|x|}) + max(−x, 0), finite for every x.
  const softplusNeg = x.abs().neg().exp().add(1).log().add(x.neg().relu());
  const weight = opts.posWeight === undefined ? null : yf.mul(typeof opts.posWeight === 'number' ? opts.posWeight - 1 : opts.posWeight.sub(1)).add(1);
  const loss = yf.neg().add(1).mul(x).add(weight ? softplusNeg.mul(weight) : softplusNeg);
  if (reduction === 'none') return loss;
  return reduction === 'sum' ? loss.sum() : loss.mean();
}
