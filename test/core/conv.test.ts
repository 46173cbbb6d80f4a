// The convolution family by finite differences (float64, first and second order), the gradient
// routing PyTorch documents (maxPool2d to one arg max), kernel counts that show im2col is one
// copy and col2im one add per kernel tap where a backend has no fused kernels for them, and the
// errors for bad calls.
import { describe, expect, it } from 'vitest';
import { type Tensor, TsgradError, backendStats, gradcheck, gradgradcheck, manualSeed, nn, randn, resetStats, tensor, zeros } from '../../src/index.js';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { installBackend } from '../../src/core/backend.js';
import { errorOf } from '../errorOf.js';

const F = nn.functional;
const f64 = (shape: number[]) => randn(shape, { dtype: 'float64', requiresGrad: true });
const tol = { atol: 1e-6, rtol: 1e-5 };

describe('the convolution family by finite differences (float64)', () => {
  manualSeed(3);
  const cases: [string, () => Tensor[], (...xs: Tensor[]) => Tensor][] = [
    ['conv2d stride 2 padding 1 dilation 2 groups 2 bias', () => [f64([1, 2, 6, 5]), f64([2, 1, 3, 2]), f64([2])],
      (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1, dilation: 2, groups: 2 })],
    ['conv2d padding same, then stride [2, 1] with padding [0, 2]', () => [f64([1, 2, 3, 3]), f64([2, 2, 2, 3]), f64([1, 2, 1, 3])],
      (x, w, v) => F.conv2d(F.conv2d(x, w, null, { padding: 'same' }), v, null, { stride: [2, 1], padding: [0, 2] })],
    ['convTranspose2d stride 2 padding 1 outputPadding 1 groups 2 bias', () => [f64([1, 2, 3, 2]), f64([2, 1, 3, 3]), f64([2])],
      (x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1, groups: 2 })],
    ['maxPool2d 3 stride 2 padding 1', () => [f64([2, 2, 5, 4])], (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 })],
    ['avgPool2d 3 padding 1 countIncludePad false', () => [f64([1, 2, 4, 4])], (x) => F.avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false })],
    ['interpolate bilinear', () => [f64([1, 2, 3, 4])], (x) => F.interpolate(x, { size: [5, 7], mode: 'bilinear' })],
    ['interpolate nearest', () => [f64([1, 2, 3, 4])], (x) => F.interpolate(x, { scaleFactor: [1.5, 2] })],
    ['groupNorm', () => [f64([2, 4, 1, 3]), f64([4]), f64([4])], (x, w, b) => F.groupNorm(x, 2, w, b)],
    ['silu', () => [f64([3, 4])], (x) => F.silu(x)],
  ];
  it.each(cases)('%s', (_, make, fn) => {
    const inputs = make();
    expect(gradcheck(fn, inputs, tol).ok).toBe(true);
    expect(gradgradcheck(fn, inputs, tol).ok).toBe(true);
  });
});

/** The CPU backend without fused kernels, so core composes im2col and col2im from primitives. */
class ComposedCpu extends CpuBackend {
  override readonly fused = {};
}

describe('conv2d', () => {
  it('composed: one strided copy (im2col) and one matmul; the input\'s gradient costs one add and one copy per kernel tap (col2im)', () => {
    installBackend('cpu-composed', new ComposedCpu());
    const backend = 'cpu-composed';
    const w = randn([4, 3, 3, 3], { requiresGrad: true, backend });
    const backwardKernels = (inputGrad: boolean) => {
      const x = randn([2, 3, 8, 8], { requiresGrad: inputGrad, backend });
      w.grad = null;
      resetStats(backend);
      const y = F.conv2d(x, w, null, { stride: 2 });
      const forward = new Map(backendStats(backend).byOp);
      expect(forward.get('copy')).toBe(1);
      expect(forward.get('matmul')).toBe(1);
      resetStats(backend);
      y.sum().backward();
      const count = (k: string) => backendStats(backend).byOp.get(k) ?? 0;
      return { add: count('binary:add'), copy: count('copy'), matmul: count('matmul'), scatterAdd: count('scatterAdd') };
    };
    const without = backwardKernels(false), withInput = backwardKernels(true);
    expect(withInput).toEqual({ add: without.add + 9, copy: without.copy + 9, matmul: without.matmul + 1, scatterAdd: 0 });
  });

  it('routes maxPool2d\'s gradient to the first maximum of a window, as PyTorch', () => {
    const x = tensor([[[[1, 3, 3, 0], [2, 3, 1, 1]]]], { requiresGrad: true });
    F.maxPool2d(x, 2).sum().backward();
    expect(x.grad!.arraySync()).toEqual([[[[0, 1, 1, 0], [0, 0, 0, 0]]]]);
  });

  it('gives empty outputs and gradients for an empty batch, as PyTorch', () => {
    const x = zeros([0, 2, 5, 5], { requiresGrad: true }), w = randn([3, 2, 3, 3], { requiresGrad: true });
    const y = F.conv2d(F.groupNorm(x, 2), w, null, { padding: 1 });
    expect(y.shape).toEqual([0, 3, 5, 5]);
    y.sum().backward();
    expect(Array.from(w.grad!.dataSync())).toEqual(new Array(54).fill(0));
    expect(F.convTranspose2d(x, randn([2, 3, 3, 3]), null, { stride: 2 }).shape).toEqual([0, 3, 11, 11]);
    expect(F.maxPool2d(x, 2).shape).toEqual([0, 2, 2, 2]);
  });

  it('takes an unbatched [C, H, W] input', () => {
    const x = randn([3, 5, 5]), w = randn([2, 3, 3, 3]);
    const batched = F.conv2d(x.unsqueeze(0), w).squeeze(0);
    expect(F.conv2d(x, w).dataSync()).toEqual(batched.dataSync());
  });
});

describe('errors name the op and what to change', () => {
  const x = zeros([1, 4, 5, 5]);
  const message = (fn: () => unknown) => {
    const e = errorOf(fn);
    expect(e).toBeInstanceOf(TsgradError);
    return e.message;
  };
  it.each([
    [() => F.conv2d(x, zeros([2, 3, 3, 3])), /conv2d: weight \[2,3,3,3\] expects 3 input channels .* input \[1,4,5,5\] has 4/],
    [() => F.conv2d(x, zeros([3, 2, 3, 3]), null, { groups: 2 }), /output channels 3 must both divide by groups 2/],
    [() => F.conv2d(x, zeros([2, 4, 3, 3]), null, { stride: 2, padding: 'same' }), /padding 'same' needs stride 1/],
    [() => F.conv2d(x, zeros([2, 4, 7, 7])), /smaller than the kernel 7×7/],
    [() => F.conv2d(x, zeros([2, 4, 3, 3]), zeros([3])), /bias must be \[2\]/],
    [() => F.conv2d(x, zeros([2, 4, 3, 3]), null, { stride: 0 }), /stride must be an integer ≥ 1/],
    [() => F.conv2d(x, zeros([2, 4, 3, 3]), null, { strides: 2 } as never), /unknown option strides/],
    [() => F.conv2d(zeros([4, 5]), zeros([2, 4, 3, 3])), /input must be \[N, C, H, W\] or unbatched \[C, H, W\], got \[4,5\]/],
    [() => F.convTranspose2d(x, zeros([4, 2, 3, 3]), null, { stride: 2, outputPadding: 2 }), /outputPadding \[2,2\] must be smaller than stride/],
    [() => F.maxPool2d(x, 2, { padding: 2 }), /padding \[2,2\] must be at most half the kernel size/],
    [() => F.avgPool2d(x, 2, { ceilMode: true } as never), /unknown option ceilMode/],
    [() => F.interpolate(x, { size: [2, 2], scaleFactor: 2 }), /give exactly one of size and scaleFactor/],
    [() => F.interpolate(x, { size: [2, 2], alignCorners: true }), /alignCorners applies to 'bilinear' only/],
    [() => F.groupNorm(x, 3), /numGroups must be a positive integer dividing the 4 channels/],
    [() => F.groupNorm(zeros([2, 4, 0]), 2), /input \[2,4,0\] has no elements to normalize in a group/],
    [() => F.interpolate(x, { size: [0, 2] }), /size must be a positive integer or a pair of them, got \[0,2\]/],
    [() => F.pad(x, [1]), /pad must list non-negative integer \(before, after\) pairs/],
  ])('%#', (fn, pattern) => {
    expect(message(fn)).toMatch(pattern);
  });
});
