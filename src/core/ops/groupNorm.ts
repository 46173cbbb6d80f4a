import { check, fmt } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { assertSameBackend, assertTensor, describeValue } from '../validate.js';

/**
 * Group normalization (Wu & He 2018), as PyTorch's `F.group_norm`: the channels of `input`
 * [N, C, ...] split into `numGroups` groups, each normalized over its channels and spatial
 * positions (biased variance), then scaled by `weight` [C] and shifted by `bias` [C]. Composed
 * from mean, subtraction and sqrt, so its gradient is theirs.
 *
 * @example
 * groupNorm(x, 8, gamma, beta); // x [N, 32, H, W]: 8 groups of 4 channels
 */
export function groupNorm(input: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  assertTensor(op, input, 'input');
  if (weight != null) assertTensor(op, weight, 'weight');
  if (bias != null) assertTensor(op, bias, 'bias');
  check(input.ndim >= 2, op, () => `input must be [N, C, ...], got ${fmt(input.shape)}`);
  check(input.dtype !== 'int32', op, () => `needs a float input, got int32; cast first with t.cast('float32')`);
  const [n, c] = input.shape as [number, number];
  check(Number.isInteger(numGroups) && numGroups > 0 && c % numGroups === 0, op, () =>
    `numGroups must be a positive integer dividing the ${c} channels of input ${fmt(input.shape)}, got ${describeValue(numGroups)}`);
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    check(!t || (t.ndim === 1 && t.shape[0] === c), op, () => `${name} must be [${c}] for input ${fmt(input.shape)}, got ${fmt(t!.shape)}`);
  }
  assertSameBackend(op, input, ...[weight, bias].filter((t): t is Tensor => !!t));
  check(typeof eps === 'number' && Number.isFinite(eps) && eps >= 0, op, () => `eps must be a finite number ≥ 0, got ${describeValue(eps)}`);
  const perGroup = (c / numGroups) * input.shape.slice(2).reduce((p, d) => p * d, 1);
  check(perGroup > 0, op, () => `input ${fmt(input.shape)} has no elements to normalize in a group`);
  const grouped = input.reshape([n, numGroups, perGroup]);
  const centered = grouped.sub(grouped.mean(-1, true));
  const variance = centered.mul(centered).mean(-1, true);
  let y = centered.div(variance.add(eps).sqrt()).reshape(input.shape);
  const perChannel = [c, ...input.shape.slice(2).map(() => 1)];
  if (weight) y = y.mul(weight.reshape(perChannel));
  if (bias) y = y.add(bias.reshape(perChannel));
  return y;
}
