// The loss options against values PyTorch 1.13 computed (float64) for the same inputs:
// torch.nn.functional.cross_entropy(x, t, ignore_index=1, label_smoothing=0.1, reduction=...),
// nll_loss and binary_cross_entropy_with_logits (with pos_weight).
import { describe, expect, it } from 'vitest';
import { nn, tensor } from '../../src/index.js';

const F = nn.functional;
const x = () => tensor([[[1.0, -0.5], [0.3, 2.0], [-1.2, 0.7]], [[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]], { dtype: 'float64', requiresGrad: true });
const t = () => tensor([[0, 2], [1, 1]], { dtype: 'int32' });
const close = (got: unknown, want: number[] | number[][] | number[][][]) =>
  expect((got as number[]).flat(3)).toEqual(want.flat(3).map((v) => expect.closeTo(v, 7)));

describe('crossEntropy', () => {
  it('[N, C, d] logits with ignoreIndex and labelSmoothing, each reduction', () => {
    const opts = { ignoreIndex: 1, labelSmoothing: 0.1 } as const;
    expect(F.crossEntropy(x(), t(), opts).itemSync()).toBeCloseTo(1.085731362948415, 10);
    expect(F.crossEntropy(x(), t(), { ...opts, reduction: 'sum' }).itemSync()).toBeCloseTo(2.17146272589683, 10);
    close(F.crossEntropy(x(), t(), { ...opts, reduction: 'none' }).arraySync(), [[0.5712774554815214, 1.6001852704153088], [0, 0]]);
  });

  it('has PyTorch gradients, zero for ignored targets', () => {
    const logits = x();
    F.crossEntropy(logits, t(), { ignoreIndex: 1, labelSmoothing: 0.1 }).backward();
    close(logits.grad!.arraySync(), [[[-0.15560309, 0.01363157], [0.13780293, 0.35244141], [0.01780016, -0.36607298]], [[0, 0], [0, 0], [0, 0]]]);
  });

  it('accepts [C] logits with a 0-d target, and plain arrays', () => {
    const one = F.crossEntropy(tensor([1, 2, 3]), tensor(2, { dtype: 'int32' })).itemSync();
    expect(one).toBeCloseTo(-Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3))), 5);
    expect(F.crossEntropy([[1, 2, 3]], [2]).itemSync()).toBeCloseTo(one, 6);
    expect(new nn.CrossEntropyLoss({ reduction: 'sum' }).forward([[1, 2, 3], [1, 2, 3]], [2, 2]).itemSync()).toBeCloseTo(2 * one, 5);
  });

  it('refuses bad targets and options with errors that say what to pass', () => {
    expect(() => F.crossEntropy(tensor([[1, 2]]), tensor([0]))).toThrow(/crossEntropy: targets must be int32 class indices, got float32/);
    expect(() => F.crossEntropy(tensor([[1, 2]]), tensor([2], { dtype: 'int32' }))).toThrow(/crossEntropy: target 2 is out of range for 2 classes/);
    expect(() => F.crossEntropy(tensor([[1, 2]]), tensor([0, 1], { dtype: 'int32' }))).toThrow(/targets of shape \[2\] must be \[N\] for logits \[1,2\].*here \[1\]/);
    expect(() => F.crossEntropy(tensor([[1, 2]]), [0], { reduction: 'avg' as 'mean' })).toThrow(/reduction must be 'mean', 'sum' or 'none'/);
    expect(() => F.crossEntropy(tensor([[1, 2]]), [0], { labelSmoothing: 2 })).toThrow(/labelSmoothing must be in \[0, 1\]/);
  });
});

describe('nllLoss and binaryCrossEntropyWithLogits', () => {
  it('nllLoss of log-probabilities', () => {
    const lp = x().slice([[0, 2], [0, 3], [0, 1]]).reshape(2, 3).logSoftmax(1);
    expect(F.nllLoss(lp, tensor([2, 0], { dtype: 'int32' })).itemSync()).toBeCloseTo(1.9129306512716746, 10);
  });

  it('binaryCrossEntropyWithLogits stays finite for large logits; posWeight scales positives', () => {
    const z = tensor([[30, -30], [0.5, -2]], { dtype: 'float64' });
    const y = tensor([[0, 1], [1, 0.5]], { dtype: 'float64' });
    expect(F.binaryCrossEntropyWithLogits(z, y).itemSync()).toBeCloseTo(15.400251248805816, 10);
    close(F.binaryCrossEntropyWithLogits(z, y, { reduction: 'none', posWeight: tensor([2, 0.5], { dtype: 'float64' }) }).arraySync(),
      [[30.000000000000092, 15.000000000000046], [0.9481539683602134, 0.5951960082822296]]);
  });
});
