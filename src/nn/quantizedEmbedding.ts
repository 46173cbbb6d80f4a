import { arange } from '../core/creation.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import { quantizedEmbedding } from '../core/ops/quantizedEmbedding.js';
import type { QuantizedWeight } from '../core/ops/quantizedMatmul.js';
import type { QuantFormat } from '../core/quant.js';
import type { Tensor } from '../core/tensor.js';
import { type TensorLike, asTensor, checkIndexValues } from './inputs.js';
import { Module } from './module.js';
import type { Parameter } from './parameter.js';
import { packedWeight } from './quantizedLinear.js';

/** The quantized storage `nn.quantize` hands a QuantizedEmbedding. */
export interface QuantizedEmbeddingParts {
  format: QuantFormat;
  blockSize: number;
  numEmbeddings: number;
  embeddingDim: number;
  qweight: Parameter;
  absmax: Parameter;
  nested: { absmax: Parameter; offset: number; blockSize: number } | null;
}

/**
 * An embedding whose frozen table [numEmbeddings, embeddingDim] is block-quantized (bitsandbytes'
 * `Embedding4bit` for NF4; int8 here uses the same blocks of 64, not bitsandbytes' per-row
 * `Embedding8bit`): `qweight` holds the packed codes row-major, `absmax` one scale per block (or
 * their 8-bit codes under double quantization, with `nestedAbsmax` and `nestedOffset`). Each row
 * is whole blocks, so the forward dequantizes only the rows it picks. The storage has the
 * layout of a `QuantizedLinear` of weight `[numEmbeddings, embeddingDim]`, so a tied head reads
 * the same parameters. Made by `nn.quantize`; never trains.
 *
 * @example
 * nn.quantize(gpt, { format: 'nf4', targets: ['wte'] }); // wte and its tied lm_head
 * gpt.transformer.wte.forward([[464, 3290]]); // [1, 2, 768] float32
 */
export class QuantizedEmbedding extends Module {
  qweight: Parameter;
  absmax: Parameter;
  nestedAbsmax: Parameter | null;
  readonly format: QuantFormat;
  readonly blockSize: number;
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** Double quantization's mean of the absmaxes (0 without it). */
  readonly nestedOffset: number;
  /** Double quantization's block of absmaxes (0 without it). */
  readonly nestedBlockSize: number;

  constructor(parts: QuantizedEmbeddingParts) {
    super();
    checkParts(parts);
    this.format = parts.format;
    this.blockSize = parts.blockSize;
    this.numEmbeddings = parts.numEmbeddings;
    this.embeddingDim = parts.embeddingDim;
    this.qweight = parts.qweight;
    this.absmax = parts.absmax;
    this.nestedAbsmax = parts.nested?.absmax ?? null;
    this.nestedOffset = parts.nested?.offset ?? 0;
    this.nestedBlockSize = parts.nested?.blockSize ?? 0;
  }

  /** The quantized table [numEmbeddings, embeddingDim] as `quantizedEmbedding` and `quantizedMatmul` take it. */
  get quantized(): QuantizedWeight {
    return packedWeight(this, this.numEmbeddings, this.embeddingDim);
  }

  /** The full-precision table is not stored: use `dequantize()` for a copy. */
  get weight(): Parameter {
    throw new TsgradError(this.constructor.name, `the table is stored ${this.format} (qweight, absmax); call dequantize() for a float32 copy`);
  }

  /** int32 ids of any shape → float32 [...ids.shape, embeddingDim], only the picked rows dequantized. */
  forward(indices: TensorLike): Tensor {
    const op = 'QuantizedEmbedding';
    const rows = this.numEmbeddings;
    checkIndexValues(op, indices, (i) => !Number.isInteger(i) || (i >= 0 && i < rows), (bad) =>
      `index ${bad} is out of range for a table of ${rows} rows (valid: 0..${rows - 1})`);
    const ids = asTensor(op, indices, 'int32', this.absmax);
    check(ids.dtype === 'int32', op, () => `indices must be int32, got ${ids.dtype} ${fmt(ids.shape)}`);
    return quantizedEmbedding(ids, this.quantized);
  }

  /**
   * A new float32 tensor of the whole dequantized table [numEmbeddings, embeddingDim], exactly
   * as bitsandbytes dequantizes it.
   *
   * @example
   * const table = wte.dequantize(); // materialises the whole table, for checks and export
   */
  dequantize(): Tensor {
    const ids = arange(0, this.numEmbeddings, 1, { dtype: 'int32', backend: this.absmax.backend });
    const table = quantizedEmbedding(ids, this.quantized);
    ids.dispose();
    return table;
  }

  /** The quantized storage never trains, whatever `unfreeze()` asks. */
  protected override fixedParameters(): readonly Parameter[] {
    return [this.qweight, this.absmax, ...(this.nestedAbsmax ? [this.nestedAbsmax] : [])];
  }
}

/** The parts must fit together: whole blocks per row, packed words for every code, a scale (or scale code) for every block. */
function checkParts(p: QuantizedEmbeddingParts): void {
  const op = 'QuantizedEmbedding';
  check(p.embeddingDim % p.blockSize === 0, op, () =>
    `rows of ${p.embeddingDim} values must be whole blocks of ${p.blockSize} (so a lookup dequantizes only its rows); pick a blockSize that divides ${p.embeddingDim}`);
  const n = p.numEmbeddings * p.embeddingDim, blocks = n / p.blockSize;
  const words = p.format === 'nf4' ? n / 8 : n / 4;
  check(p.qweight.dtype === 'int32' && p.qweight.size === words, op, () =>
    `qweight must be ${words} int32 words of packed ${p.format} codes for [${p.numEmbeddings}, ${p.embeddingDim}], got ${p.qweight.dtype} ${fmt(p.qweight.shape)}`);
  const [absDtype, absSize] = p.nested ? ['int32', Math.ceil(blocks / 4)] : ['float32', blocks];
  check(p.absmax.dtype === absDtype && p.absmax.size === absSize, op, () =>
    `absmax must be ${absSize} ${absDtype} values for ${blocks} blocks of ${p.blockSize}${p.nested ? ' (8-bit codes, four a word)' : ''}, got ${p.absmax.dtype} ${fmt(p.absmax.shape)}`);
  if (p.nested) {
    const need = Math.ceil(blocks / p.nested.blockSize);
    check(p.nested.absmax.dtype === 'float32' && p.nested.absmax.size === need, op, () =>
      `nested absmax must be ${need} float32 values, got ${p.nested!.absmax.dtype} ${fmt(p.nested!.absmax.shape)}`);
  }
}
