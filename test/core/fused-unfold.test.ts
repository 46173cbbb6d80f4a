// The CPU backend's im2col and col2im loops against core's composed forms (the same backend
// without fused kernels, 'cpu-composed'): the convolution family's outputs and first- and
// second-order gradients are bit-identical, since col2im adds each pixel's taps in the same order.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { installBackend } from '../../src/core/backend.js';
import { type Tensor, backendStats, grad, manualSeed, nn, randn, resetStats, setBackend, tensor } from '../../src/index.js';

/** The CPU backend without fused kernels, so core composes im2col and col2im from primitives. */
class ComposedCpu extends CpuBackend {
  override readonly fused = {};
}

const F = nn.functional;

type Case = [string, number[][], (x: Tensor, w: Tensor) => Tensor];

// Inputs as [x, w] shapes; x is read through a transpose of its last two dims, so not contiguous.
const cases: Case[] = [
  ['conv2d stride 2 padding 1 dilation 2 groups 2', [[2, 4, 7, 9], [4, 2, 3, 2]], (x, w) => F.conv2d(x, w, null, { stride: 2, padding: 1, dilation: 2, groups: 2 })],
  ['conv2d 3×3 padding 1', [[3, 5, 8, 8], [6, 5, 3, 3]], (x, w) => F.conv2d(x, w, null, { padding: 1 })],
  ['convTranspose2d stride 2 padding 1 outputPadding 1', [[2, 3, 5, 4], [3, 2, 3, 3]], (x, w) => F.convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 })],
  ['maxPool2d 3 stride 2 padding 1, then avgPool2d 2', [[2, 3, 7, 6], [1]], (x, w) => F.avgPool2d(F.maxPool2d(x, 3, { stride: 2, padding: 1 }), 2).mul(w)],
];

/** Output, first-order gradients and a second-order one of `fn` on `backend`. */
function derivatives(c: Case, values: number[][], backend: string, dtype: 'float32' | 'float64') {
  const [x, w] = c[1].map((shape, i) => tensor(values[i]!, { dtype, backend, requiresGrad: true }).reshape(shape));
  const y = c[2](x!.transpose(2, 3), w!);
  const u = tensor(Array.from({ length: y.size }, (_, i) => Math.cos(i)), { dtype, backend }).reshape(y.shape);
  const [gx, gw] = grad(y.mul(u).sum(), [x!, w!], { createGraph: true });
  const [ggw] = grad(gx!.pow(2).sum().add(gw!.pow(2).sum()), [w!]);
  return [y, gx!, gw!, ggw!].map((t) => Array.from(t.dataSync()));
}

describe('fused im2col and col2im (cpu)', () => {
  beforeAll(async () => {
    installBackend('cpu-composed', new ComposedCpu());
    await setBackend('cpu');
  });

  it.each(cases)('%s: bit-identical to the composed forms in float32 and float64', (...c) => {
    manualSeed(7);
    const values = c[1].map((shape) => Array.from(randn(shape).dataSync()));
    for (const dtype of ['float32', 'float64'] as const) {
      expect(derivatives(c, values, 'cpu', dtype)).toEqual(derivatives(c, values, 'cpu-composed', dtype));
    }
  });

  it('a conv2d is one im2col kernel forward and one col2im kernel for its input\'s gradient', () => {
    const x = randn([2, 3, 8, 8], { requiresGrad: true }), w = randn([4, 3, 3, 3], { requiresGrad: true });
    resetStats('cpu');
    const y = F.conv2d(x, w, null, { padding: 1 });
    expect(backendStats('cpu').byOp.get('fused:im2col')).toBe(1);
    resetStats('cpu');
    y.sum().backward();
    expect(backendStats('cpu').byOp.get('fused:col2im')).toBe(1);
    expect(backendStats('cpu').byOp.get('fused:im2col')).toBeUndefined();
  });
});
