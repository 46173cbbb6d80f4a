import { noGrad } from '../autograd.js';
import { check } from '../errors.js';
import { DYNAMIC_CODE, INT8_CODE, NF4_CODE } from '../quant.js';
import { scope } from '../scope.js';
import { Tensor } from '../tensor.js';
import { assertIndexRange } from '../validate.js';
import { intConstant } from './constants.js';
import { stack } from './join.js';
import { describe, sameBackend, wrap } from './operands.js';
import { type QuantizedWeight, storageOf } from './quantizedMatmul.js';

// The rows of a block-quantized table picked by index and dequantized, as bitsandbytes'
// Embedding4bit does when the row length is a multiple of the block: only the picked rows'
// blocks are decoded, never the whole table. A backend's fused `quantizedEmbedding` decodes them
// directly; the composed fallback below uses only primitives (gathers, int32 arithmetic and
// comparisons), so it runs where nothing can be read back synchronously (webgpu), given exact
// int32 storage.

/**
 * Rows `indices` (int32, any shape) of the block-quantized [rows, cols] table `w`, dequantized:
 * float32 [...indices.shape, cols], `code[q] · absmax` as `dequantizeRows` computes it. Needs
 * `w.blockSize` to divide `w.cols` (each row whole blocks). No gradient: the table is frozen
 * and indices have none.
 *
 * @example
 * const x = quantizedEmbedding(ids, wte.quantized); // [B, T, 768]
 */
export function quantizedEmbedding(indices: Tensor, w: QuantizedWeight): Tensor {
  const op = 'quantizedEmbedding';
  check(indices instanceof Tensor && indices.dtype === 'int32', op, () => `indices must be an int32 tensor, got ${indices instanceof Tensor ? describe(indices) : typeof indices}`);
  check(w.cols % w.blockSize === 0, op, () =>
    `rows of ${w.cols} values are not whole blocks of ${w.blockSize}; quantize the table with a blockSize that divides ${w.cols}`);
  const be = sameBackend(op, indices, w.codes, w.absmax, ...(w.nested ? [w.nested.absmax2] : []));
  const kernel = be.fused?.quantizedEmbedding;
  // Packed codes need exact int32 storage; quantized weights run where quantizedMatmul does.
  check(kernel || be.fused?.quantizedMatmul || be.readSync, op, () =>
    `backend '${be.name}' has no fused quantizedMatmul and cannot be read synchronously, so it is not known to hold packed codes exactly; move the model to 'cpu' or 'webgpu'`);
  const blocks = w.rows * (w.cols / w.blockSize);
  // The composed form computes block numbers through float32, exact below 2^24.
  check(kernel || blocks < 2 ** 24, op, () => `a table of ${blocks} blocks is too large for the composed lookup on '${be.name}' (at most 2^24 blocks)`);
  assertIndexRange(op, indices, w.rows, (bad) => `index ${bad} is out of range for a table of ${w.rows} rows (valid: 0..${w.rows - 1})`);
  return noGrad(() => scope(() => {
    const flat = indices.reshape([-1]).contiguous();
    const rows = kernel
      ? wrap(be, kernel({ indices: flat._view(op), weight: storageOf(w, op) }), [flat.size, w.cols], 'float32')
      : composed(flat, w);
    return rows.reshape([...indices.shape, w.cols]);
  }));
}

/** x = q·base + r with 0 ≤ r < base, exactly, for int32 x: q estimated in float32 (off by at most one), then corrected in int32. */
function divmod(x: Tensor, base: number, maxQ: number): [q: Tensor, r: Tensor] {
  const est = x.cast('float32').div(base).floor().minimum(maxQ).cast('int32');
  const r = x.sub(est.mul(base));
  const under = r.lt(0), over = r.ge(base);
  return [est.sub(under).add(over), r.add(under.sub(over).mul(base))];
}

/** The four bytes of each int32 word [...] as int32 [..., 4], least significant first (the packing's byte order). */
function bytesOf(words: Tensor): Tensor {
  const [hi, lo] = divmod(words, 65536, 32767);
  const [b1, b0] = divmod(lo, 256, 255);
  const [top, b2] = divmod(hi, 256, 127);
  const b3 = top.add(top.lt(0).mul(256)); // the sign byte of two's complement, as 0..255
  return stack([b0, b1, b2, b3], -1);
}

/** Per byte value, the code values it holds in order: NF4's high then low nibble, or int8's one code (q + 127). */
function byteTable(format: QuantizedWeight['format']): Float32Array {
  if (format === 'int8') return Float32Array.from({ length: 256 }, (_, b) => INT8_CODE[b] ?? 0);
  return Float32Array.from({ length: 512 }, (_, i) => NF4_CODE[i & 1 ? (i >> 1) & 15 : i >> 5]!);
}

/** The fallback: the picked rows' packed words and scales gathered, unpacked with int32 arithmetic, looked up and scaled. */
function composed(ids: Tensor, w: QuantizedWeight): Tensor {
  const be = ids._backend;
  const n = ids.size, perRow = w.cols / w.blockSize;
  const upload = (values: Float32Array, shape: number[]) => Tensor._wrap(be, be.upload(values), shape, 'float32');
  const wordsPerRow = w.format === 'nf4' ? w.cols / 8 : w.cols / 4;
  const bytes = bytesOf(w.codes.reshape([w.rows, wordsPerRow]).indexSelect(0, ids)).reshape([-1]);
  const perByte = w.format === 'nf4' ? 2 : 1;
  const values = upload(byteTable(w.format), [256, perByte]).indexSelect(0, bytes).reshape([n, perRow, w.blockSize]);
  return values.mul(scalesOf(ids, w).reshape([n, perRow, 1])).reshape([n, w.cols]);
}

/** The float32 absmax of each block of the picked rows, [n, blocks per row]: gathered, or decoded from its 8-bit code. */
function scalesOf(ids: Tensor, w: QuantizedWeight): Tensor {
  const n = ids.size, perRow = w.cols / w.blockSize;
  if (!w.nested) return w.absmax.reshape([w.rows, perRow]).indexSelect(0, ids);
  const be = ids._backend;
  const block = ids.reshape([n, 1]).mul(perRow).add(intConstant(be, [1, perRow], (j) => j)).reshape([-1]);
  const [word, byte] = divmod(block, 4, 2 ** 22);
  const code = bytesOf(w.absmax.indexSelect(0, word)).gather(1, byte.reshape([-1, 1])).reshape([-1]);
  const dynamic = Tensor._wrap(be, be.upload(DYNAMIC_CODE), [DYNAMIC_CODE.length], 'float32');
  const [group] = divmod(block, w.nested.blockSize, 2 ** 24);
  return dynamic.indexSelect(0, code).mul(w.nested.absmax2.indexSelect(0, group)).add(w.nested.offset).reshape([n, perRow]);
}

