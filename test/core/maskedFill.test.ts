// maskedFill (PyTorch's masked_fill): values, broadcasting, gradients and refusals; and the
// functional forms nn.functional.maskedFill and nn.functional.gelu.
import { describe, expect, it } from 'vitest';
import { TsgradError, gradgradcheck, nn, randn, tensor } from '../../src/index.js';

const bool = (v: number[] | number[][]) => tensor(v, { dtype: 'int32' });

describe('maskedFill', () => {
  it('fills where the mask is non-zero and broadcasts the mask, as PyTorch', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(x.maskedFill(bool([1, 0, 2]), -Infinity).arraySync()).toEqual([[-Infinity, 2, -Infinity], [-Infinity, 5, -Infinity]]);
    expect(x.maskedFill(bool([[0], [1]]), 0).arraySync()).toEqual([[1, 2, 3], [0, 0, 0]]);
    // Out of place, PyTorch broadcasts the input to the mask's shape too.
    expect(tensor([1, 2]).maskedFill(bool([[1, 0], [0, 1]]), 9).arraySync()).toEqual([[9, 2], [1, 9]]);
    expect(nn.functional.maskedFill(x, bool([0, 1, 0]), NaN).arraySync()).toEqual([[1, NaN, 3], [4, NaN, 6]]);
  });

  it('truncates the value into an int32 input, as PyTorch', () => {
    const y = tensor([1, 2, 3], { dtype: 'int32' }).maskedFill(bool([1, 0, 1]), 2.7);
    expect(y.dtype).toBe('int32');
    expect(y.arraySync()).toEqual([2, 2, 2]);
  });

  it('passes the gradient where the mask is false, summed over a broadcast input', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.maskedFill(bool([[1, 0, 0], [1, 1, 0]]), 5).mul(tensor([[1, 2, 3], [4, 5, 6]])).sum().backward();
    expect(x.grad!.arraySync()).toEqual([0, 2, 9]);
    gradgradcheck((a) => a!.pow(2).maskedFill(bool([0, 1, 0]), 0.5), [randn([2, 3], { dtype: 'float64' })]);
  });

  it('refuses a float mask, a value the int32 input cannot hold, and masks that do not broadcast', () => {
    const x = tensor([1, 2, 3]);
    expect(() => x.maskedFill(tensor([1, 0, 1]), 0)).toThrow(/maskedFill: mask must be an int32 \(boolean\) tensor as comparisons return, got float32; pass mask.ne\(0\)/);
    expect(() => tensor([1], { dtype: 'int32' }).maskedFill(bool([1]), Infinity)).toThrow(/value Infinity does not fit in the int32 input/);
    expect(() => x.maskedFill(bool([1, 0]), 0)).toThrow(/maskedFill: shapes \[3\] and \[2\] cannot be broadcast/);
    expect(() => x.maskedFill(bool([1, 0, 1]), tensor(0) as unknown as number)).toThrow(TsgradError);
    expect(() => x.maskedFill(bool([1, 0, 1]), '0' as unknown as number)).toThrow(/maskedFill: value must be a number, got string '0'/);
  });
});

describe('nn.functional.gelu', () => {
  it('is the exact or the tanh GELU of PyTorch', () => {
    const x = tensor([-1, 0, 0.5, 2], { dtype: 'float64' });
    const phi = (v: number) => 0.5 * (1 + erf(v / Math.SQRT2));
    const exact = [-1, 0, 0.5, 2].map((v) => v * phi(v));
    const approx = [-1, 0, 0.5, 2].map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    (nn.functional.gelu(x).arraySync() as number[]).forEach((v, i) => expect(v).toBeCloseTo(exact[i]!, 7));
    (nn.functional.gelu(x, { approximate: 'tanh' }).arraySync() as number[]).forEach((v, i) => expect(v).toBeCloseTo(approx[i]!, 12));
    expect(() => nn.functional.gelu(x, { approximate: 'fast' as 'tanh' })).toThrow(/gelu: approximate must be 'none' or 'tanh', got fast/);
    expect(() => nn.functional.gelu([1, 2] as unknown as typeof x)).toThrow(/gelu: expected a Tensor, got an array/);
  });
});

/** erf by its Maclaurin series, accurate to double precision for the small arguments used here. */
function erf(z: number): number {
  let sum = 0, term = z;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-z * z) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
