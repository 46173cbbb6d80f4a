import type { QuantizedStorage, View } from '../../core/backend.js';
import type { TypedArray } from '../../core/dtype.js';
import { type HostQuantized, type QuantScales, blockScale, codeOf, dequantizeRows } from '../../core/quant.js';
import type { Arena } from './wasm/arena.js';
import { dequantizeTile } from './wasm/quantized.js';

/*
 * The CPU's fused quantized matmul: the weight is dequantized one tile of rows at a time (in
 * WebAssembly where the module runs, else by core's decoder), and each tile is multiplied by the
 * backend's matmul (the SIMD gemm on float32). bitsandbytes does the same for inputs of more
 * than one row: dequantize, then a dense product. The tile's storage is freed before the next.
 */

/** Values of the weight dequantized at once: 64K floats (256 KiB), a few rows of a large layer. */
const TILE_VALUES = 65536;

type MatmulFn = (a: View<TypedArray>, b: View<TypedArray>) => TypedArray;

function hostOf(w: QuantizedStorage<TypedArray>): HostQuantized {
  const blocks = Math.ceil((w.rows * w.cols) / w.blockSize);
  const scales: QuantScales = w.nested
    ? { kind: 'nested', codes: w.absmax as Int32Array, absmax2: w.nested.absmax2 as Float32Array, offset: w.nested.offset, blockSize: w.nested.blockSize, blocks }
    : { kind: 'absmax', absmax: w.absmax as Float32Array };
  return { format: w.format, rows: w.rows, cols: w.cols, blockSize: w.blockSize, codes: w.codes as Int32Array, scales };
}

/** Rows [r0, r0 + count) dequantized: in WebAssembly when it can, else in JavaScript. */
function tileOf(host: HostQuantized, arena: Arena | null, r0: number, count: number): { tile: Float32Array; inArena: boolean } {
  const start = r0 * host.cols, end = start + count * host.cols;
  if (arena) {
    const firstBlock = Math.floor(start / host.blockSize), lastBlock = Math.floor((end - 1) / host.blockSize);
    const scales = host.scales.kind === 'absmax'
      ? host.scales.absmax.subarray(firstBlock, lastBlock + 1)
      : Float32Array.from({ length: lastBlock - firstBlock + 1 }, (_, i) => blockScale(host.scales, firstBlock + i));
    const shift = host.format === 'nf4' ? 1 : 0;
    const tile = dequantizeTile(arena, { codes: host.codes, table: codeOf(host.format), scales, firstBlock, start, end, shift, blockSize: host.blockSize });
    if (tile) return { tile, inArena: arena.addressOf(tile) >= 0 };
  }
  const tile = new Float32Array(count * host.cols);
  dequantizeRows(host, r0, count, tile);
  return { tile, inArena: false };
}

/** x·Wᵀ (`transposed`) or x·W for float32 x [m, k], contiguous; a new [m, n] float32 array. */
export function quantizedMatmulCpu(
  args: { x: View<TypedArray>; weight: QuantizedStorage<TypedArray>; transposed: boolean },
  arena: Arena | null, matmul: MatmulFn, allocate: (n: number) => Float32Array, release: (a: TypedArray) => void,
): Float32Array {
  const { x, weight: w, transposed } = args;
  const host = hostOf(w);
  const m = x.shape[0]!, n = transposed ? w.rows : w.cols;
  const out = allocate(m * n);
  if (!transposed) out.fill(0);
  const rowsPerTile = Math.max(1, Math.floor(TILE_VALUES / w.cols));
  for (let r0 = 0; r0 < w.rows; r0 += rowsPerTile) {
    const count = Math.min(rowsPerTile, w.rows - r0);
    const { tile, inArena } = tileOf(host, arena, r0, count);
    if (transposed) {
      // x [m, cols] · tileᵀ [cols, count] → columns [r0, r0 + count) of out.
      const part = matmul(x, { storage: tile, shape: [w.cols, count], strides: [1, w.cols], offset: 0, dtype: 'float32' });
      for (let i = 0; i < m; i++) out.set(part.subarray(i * count, (i + 1) * count), i * n + r0);
      release(part);
    } else {
      // x[:, r0:r0 + count] [m, count] · tile [count, cols] → added to out.
      const part = matmul({ ...x, shape: [m, count], strides: [x.shape[1]!, 1], offset: x.offset + r0 }, { storage: tile, shape: [count, w.cols], strides: [w.cols, 1], offset: 0, dtype: 'float32' });
      for (let i = 0; i < out.length; i++) out[i]! += part[i]!;
      release(part);
    }
    if (inArena) release(tile);
  }
  return out;
}

/** Rows `ids` of a quantized table whose rows are whole blocks, dequantized in JavaScript: a new [ids, cols] float32 array. */
export function quantizedEmbeddingCpu(args: { weight: QuantizedStorage<TypedArray> }, ids: Int32Array, allocate: (n: number) => Float32Array): Float32Array {
  const host = hostOf(args.weight);
  const cols = host.cols;
  const out = allocate(ids.length * cols);
  for (let i = 0; i < ids.length; i++) dequantizeRows(host, ids[i]!, 1, out.subarray(i * cols, (i + 1) * cols));
  return out;
}
