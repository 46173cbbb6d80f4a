import { noGrad, record } from '../autograd.js';
import type { QuantizedStorage } from '../backend.js';
import { isFloat } from '../dtype.js';
import { TsgradError, check, fmt } from '../errors.js';
import { type HostQuantized, type QuantFormat, type QuantScales, dequantizeRows } from '../quant.js';
import { scope } from '../scope.js';
import { Tensor } from '../tensor.js';
import { cat } from './join.js';
import { describe, sameBackend, wrap } from './operands.js';

/**
 * A frozen [rows, cols] matrix in block-quantized storage (see core/quant.ts): `codes` int32
 * words of packed codes, `absmax` the float32 scale of each block or, double-quantized, int32
 * words of its 8-bit codes with `nested` holding their float32 scales and offset.
 */
export interface QuantizedWeight {
  readonly format: QuantFormat;
  readonly rows: number;
  readonly cols: number;
  readonly blockSize: number;
  readonly codes: Tensor;
  readonly absmax: Tensor;
  readonly nested: { readonly absmax2: Tensor; readonly offset: number; readonly blockSize: number } | null;
}

/** Rows of the weight dequantized at once by the composed fallback: about 32K values a tile. */
const TILE_VALUES = 32768;

/**
 * `x · Wᵀ` (`transposed`, x [..., cols] → [..., rows], a linear layer's forward) or `x · W`
 * (x [..., rows] → [..., cols], its input gradient) for a block-quantized W that is never
 * dequantized whole: a backend's fused `quantizedMatmul` dequantizes on the fly; elsewhere W is
 * dequantized one tile of rows at a time into a transient tensor. Gradients reach x only; the
 * quantized weight is frozen.
 *
 * @example
 * const y = quantizedMatmul(x, layer.quantized, true); // [batch, out]
 */
export function quantizedMatmul(x: Tensor, w: QuantizedWeight, transposed: boolean): Tensor {
  const op = 'quantizedMatmul';
  check(x instanceof Tensor && isFloat(x.dtype), op, () => `needs a float input, got ${x instanceof Tensor ? describe(x) : typeof x}`);
  const k = transposed ? w.cols : w.rows, n = transposed ? w.rows : w.cols;
  check(x.ndim >= 1 && x.shape[x.ndim - 1] === k, op, () =>
    `input ${fmt(x.shape)} must end in ${k} features to multiply the quantized [${w.rows}, ${w.cols}] weight${transposed ? ' transposed' : ''}`);
  const tensors = [w.codes, w.absmax, ...(w.nested ? [w.nested.absmax2] : [])];
  const be = sameBackend(op, x, ...tensors);
  const lead = x.shape.slice(0, -1);
  const kernel = be.fused?.quantizedMatmul;
  // The value is computed untracked; the one recorded node below is its whole gradient.
  const out = noGrad(() => scope(() => {
    const x2 = x.reshape([-1, k]).contiguous();
    const y = kernel && x.dtype === 'float32'
      ? wrap(be, kernel({ x: x2._view(op), weight: storageOf(w, op), transposed }), [x2.shape[0]!, n], x.dtype)
      : tiled(x2, w, transposed);
    return y.reshape([...lead, n]);
  }));
  return record(op, [x], out, [], (g) => [quantizedMatmul(g, w, !transposed)]);
}

/** The weight's storages as a fused kernel takes them. */
export function storageOf(w: QuantizedWeight, op: string): QuantizedStorage<unknown> {
  return {
    format: w.format, rows: w.rows, cols: w.cols, blockSize: w.blockSize,
    codes: w.codes._view(op).storage, absmax: w.absmax._view(op).storage,
    nested: w.nested ? { absmax2: w.nested.absmax2._view(op).storage, offset: w.nested.offset, blockSize: w.nested.blockSize } : null,
  };
}

/** The weight's storages read back to the host (packed: a fraction of the float weight's bytes). */
function hostQuantized(w: QuantizedWeight, op: string): HostQuantized {
  const read = (t: Tensor) => {
    const b = t._backend;
    if (!b.readSync) {
      throw new TsgradError(op, `backend '${b.name}' has no fused quantizedMatmul and cannot be read synchronously to dequantize tiles; move the model to 'cpu' or 'webgpu'`);
    }
    return b.readSync(t._view(op));
  };
  const codes = Int32Array.from(read(w.codes));
  const scales: QuantScales = w.nested
    ? { kind: 'nested', codes: Int32Array.from(read(w.absmax)), absmax2: Float32Array.from(read(w.nested.absmax2)), offset: w.nested.offset, blockSize: w.nested.blockSize, blocks: Math.ceil((w.rows * w.cols) / w.blockSize) }
    : { kind: 'absmax', absmax: Float32Array.from(read(w.absmax)) };
  return { format: w.format, rows: w.rows, cols: w.cols, blockSize: w.blockSize, codes, scales };
}

/** The composed fallback: one transient tile of dequantized rows at a time, multiplied by the matmul primitive. */
function tiled(x: Tensor, w: QuantizedWeight, transposed: boolean): Tensor {
  const host = hostQuantized(w, 'quantizedMatmul');
  const rowsPerTile = Math.max(1, Math.floor(TILE_VALUES / w.cols));
  return scope(() => {
    const parts: Tensor[] = [];
    let sum: Tensor | null = null;
    for (let r0 = 0; r0 < w.rows; r0 += rowsPerTile) {
      const count = Math.min(rowsPerTile, w.rows - r0);
      const values = x.dtype === 'float64' ? new Float64Array(count * w.cols) : new Float32Array(count * w.cols);
      dequantizeRows(host, r0, count, values);
      const tile = Tensor._wrap(x._backend, x._backend.upload(values), [count, w.cols], x.dtype);
      if (transposed) {
        parts.push(x.matmul(tile.transpose(0, 1)));
      } else {
        const term = x.slice([[0, x.shape[0]!], [r0, r0 + count]]).matmul(tile);
        sum = sum ? sum.add(term) : term;
      }
      tile.dispose();
    }
    return transposed ? (parts.length === 1 ? parts[0]! : cat(parts, 1)) : sum!;
  });
}
