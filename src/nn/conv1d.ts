import { randn, zeros } from '../core/creation.js';
import type { DType } from '../core/dtype.js';
import { check, fmt } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { assertNewShape, describeValue } from '../core/validate.js';
import { initEnabled } from './init.js';
import { type TensorLike, asTensor, castForCompute, computeDType } from './inputs.js';
import { floatDType } from './layers.js';
import { Module } from './module.js';
import { type Parameter, layerParameter } from './parameter.js';

/**
 * Hugging Face's `Conv1D` (transformers' `pytorch_utils.Conv1D`, used by GPT-2): a linear layer
 * whose weight is stored transposed, `[in, out]`, so `y = x·W + b`. Arguments in its order:
 * `nf` output features, then `nx` input features; weight N(0, 0.02²), bias zeros.
 *
 * @example
 * const cAttn = new nn.Conv1D(3 * 768, 768); // weight [768, 2304]
 * cAttn.forward(randn([4, 768]));            // [4, 2304]
 */
export class Conv1D extends Module {
  weight: Parameter;
  bias: Parameter;

  constructor(
    readonly nf: number,
    readonly nx: number,
    opts: { dtype?: DType } = {},
  ) {
    super();
    for (const [name, v] of [['nf', nf], ['nx', nx]] as const) {
      check(Number.isInteger(v) && v > 0, 'Conv1D', () => `${name} must be a positive integer, got ${describeValue(v)}`);
    }
    floatDType('Conv1D', opts, true);
    assertNewShape('Conv1D', [nx, nf]);
    const dtype = opts.dtype ?? 'float32';
    this.weight = layerParameter(dtype, (d) => {
      if (!initEnabled()) return zeros([nx, nf], { dtype: d });
      const w = randn([nx, nf], { dtype: d });
      const scaled = w.mul(0.02);
      w.dispose();
      return scaled;
    });
    this.bias = layerParameter(dtype, (d) => zeros([nf], { dtype: d }));
  }

  /** Input features (`nx`). */
  get inFeatures(): number {
    return this.nx;
  }

  /** Output features (`nf`). */
  get outFeatures(): number {
    return this.nf;
  }

  /** x·W + b over the last dim. */
  forward(input: TensorLike): Tensor {
    const x = asTensor('Conv1D', input, computeDType(this.weight.dtype), this.weight);
    check(x.ndim >= 1 && x.shape[x.ndim - 1] === this.nx, 'Conv1D', () =>
      `input ${fmt(x.shape)} must end in the ${this.nx} input features of weight ${fmt(this.weight.shape)} ([in, out])`);
    const y = x.matmul(this.weight);
    return y.add(castForCompute(this.bias, y.dtype));
  }
}
