import { noGrad } from '../core/autograd.js';
import { eye } from '../core/creation.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import { type QuantizedWeight, quantizedMatmul } from '../core/ops/quantizedMatmul.js';
import type { QuantFormat } from '../core/quant.js';
import type { Tensor } from '../core/tensor.js';
import { type TensorLike, asTensor, castForCompute } from './inputs.js';
import { Module } from './module.js';
import type { Parameter } from './parameter.js';

/** The quantized storage `nn.quantize` hands a QuantizedLinear. */
export interface QuantizedLinearParts {
  format: QuantFormat;
  blockSize: number;
  inFeatures: number;
  outFeatures: number;
  /** True for a Conv1D (weight stored [in, out]): PEFT's fan_in_fan_out. */
  fanInFanOut: boolean;
  qweight: Parameter;
  absmax: Parameter;
  nested: { absmax: Parameter; offset: number; blockSize: number } | null;
  bias: Parameter | null;
}

/**
 * A Linear (or Hugging Face Conv1D) layer whose frozen weight is block-quantized, as bitsandbytes'
 * `Linear4bit` / QLoRA keep the base model: `qweight` holds the packed codes of W as [out, in]
 * (a Conv1D's weight transposed first, as transformers' bitsandbytes integration does),
 * `absmax` one scale per block (or their 8-bit codes under double quantization, with
 * `nestedAbsmax` and `nestedOffset`). The forward dequantizes on the fly; gradients reach the
 * input only. Made by `nn.quantize`; `applyLoRA` wraps it like a Linear.
 *
 * @example
 * nn.quantize(model, { format: 'nf4', targets: ['c_attn'] });
 * model.transformer.h.at(0).attn.c_attn; // QuantizedLinear, format 'nf4'
 */
export class QuantizedLinear extends Module {
  qweight: Parameter;
  absmax: Parameter;
  nestedAbsmax: Parameter | null;
  bias: Parameter | null;
  readonly format: QuantFormat;
  readonly blockSize: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly fanInFanOut: boolean;
  /** Double quantization's mean of the absmaxes (0 without it). */
  readonly nestedOffset: number;
  /** Double quantization's block of absmaxes (0 without it). */
  readonly nestedBlockSize: number;

  constructor(parts: QuantizedLinearParts) {
    super();
    checkParts(parts);
    this.format = parts.format;
    this.blockSize = parts.blockSize;
    this.inFeatures = parts.inFeatures;
    this.outFeatures = parts.outFeatures;
    this.fanInFanOut = parts.fanInFanOut;
    this.qweight = parts.qweight;
    this.absmax = parts.absmax;
    this.nestedAbsmax = parts.nested?.absmax ?? null;
    this.nestedOffset = parts.nested?.offset ?? 0;
    this.nestedBlockSize = parts.nested?.blockSize ?? 0;
    this.bias = parts.bias;
  }

  /** The quantized W [out, in] as `quantizedMatmul` takes it. */
  get quantized(): QuantizedWeight {
    return packedWeight(this, this.outFeatures, this.inFeatures);
  }

  /** The full-precision weight is not stored: use `dequantize()` for a copy, or LoRA on top to train. */
  get weight(): Parameter {
    throw new TsgradError(this.constructor.name, `the weight is stored ${this.format} (qweight, absmax); call dequantize() for a float32 copy`);
  }

  /** x·Wᵀ + b, W dequantized on the fly. */
  forward(input: TensorLike): Tensor {
    const x = asTensor('QuantizedLinear', input, 'float32', this.absmax);
    check(x.ndim >= 1 && x.shape[x.ndim - 1] === this.inFeatures, 'QuantizedLinear', () =>
      `input ${fmt(x.shape)} must end in the ${this.inFeatures} input features of this ${this.format} layer [${this.outFeatures}, ${this.inFeatures}]`);
    const y = quantizedMatmul(x, this.quantized, true);
    return this.bias ? y.add(castForCompute(this.bias, y.dtype)) : y;
  }

  /**
   * A new float32 tensor of the dequantized weight in the original layer's layout ([out, in] for
   * a Linear, [in, out] for a Conv1D): code · absmax, exactly as bitsandbytes dequantizes.
   *
   * @example
   * const w = layer.dequantize(); // materialises the whole weight, for checks and export
   */
  dequantize(): Tensor {
    return noGrad(() => {
      const id = eye(this.inFeatures, this.inFeatures, { backend: this.absmax.backend });
      const wt = quantizedMatmul(id, this.quantized, true); // I · Wᵀ = Wᵀ, exactly
      id.dispose();
      if (this.fanInFanOut) return wt;
      const w = wt.transpose(0, 1).contiguous();
      wt.dispose();
      return w;
    });
  }

  /** The quantized storage never trains, whatever `unfreeze()` asks. */
  protected override fixedParameters(): readonly Parameter[] {
    return [this.qweight, this.absmax, ...(this.nestedAbsmax ? [this.nestedAbsmax] : [])];
  }
}


/** The parts must fit together: packed words for every code, and a scale (or scale code) for every block. */
function checkParts(p: QuantizedLinearParts): void {
  const op = 'QuantizedLinear';
  const n = p.inFeatures * p.outFeatures, blocks = Math.ceil(n / p.blockSize);
  const words = (bytes: number) => Math.ceil(bytes / 4);
  const codeBytes = p.format === 'nf4' ? Math.ceil(n / 2) : n;
  check(p.qweight.dtype === 'int32' && p.qweight.size === words(codeBytes), op, () =>
    `qweight must be ${words(codeBytes)} int32 words of packed ${p.format} codes for [${p.outFeatures}, ${p.inFeatures}], got ${p.qweight.dtype} ${fmt(p.qweight.shape)}`);
  const [absDtype, absSize] = p.nested ? ['int32', words(blocks)] : ['float32', blocks];
  check(p.absmax.dtype === absDtype && p.absmax.size === absSize, op, () =>
    `absmax must be ${absSize} ${absDtype} values for ${blocks} blocks of ${p.blockSize}${p.nested ? ' (8-bit codes, four a word)' : ''}, got ${p.absmax.dtype} ${fmt(p.absmax.shape)}`);
  if (p.nested) {
    const need = Math.ceil(blocks / p.nested.blockSize);
    check(p.nested.absmax.dtype === 'float32' && p.nested.absmax.size === need, op, () =>
      `nested absmax must be ${need} float32 values, got ${p.nested!.absmax.dtype} ${fmt(p.nested!.absmax.shape)}`);
  }
}

/** The packed parameters a quantized layer holds, as its fields name them. */
interface PackedFields {
  readonly format: QuantFormat;
  readonly blockSize: number;
  readonly qweight: Parameter;
  readonly absmax: Parameter;
  readonly nestedAbsmax: Parameter | null;
  readonly nestedOffset: number;
  readonly nestedBlockSize: number;
}

/** A quantized layer's [rows, cols] matrix as core's quantized ops take it. */
export function packedWeight(m: PackedFields, rows: number, cols: number): QuantizedWeight {
  return {
    format: m.format, rows, cols, blockSize: m.blockSize, codes: m.qweight, absmax: m.absmax,
    nested: m.nestedAbsmax ? { absmax2: m.nestedAbsmax, offset: m.nestedOffset, blockSize: m.nestedBlockSize } : null,
  };
}
