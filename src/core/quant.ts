// Block quantization formats as bitsandbytes defines them (bitsandbytes/functional.py and its
// reference kernels in bitsandbytes/backends/default/ops.py): values are cut into blocks of
// `blockSize` along the flattened matrix, each block is scaled by its absmax into [-1, 1], and
// each scaled value is stored as the index of the nearest entry of a code table. Dequantization
// is `code[q] · absmax` in float32. Host-side: the quantizer runs once per weight, and the
// decoder is the composed fallback's tile decoder and the kernels' reference.

/** The block formats `nn.quantize` stores. */
export type QuantFormat = 'int8' | 'nf4';

/**
 * The 16 NormalFloat4 values (QLoRA, Dettmers et al. 2023), bitsandbytes' `get_4bit_type('nf4')`:
 * quantiles of N(0, 1) scaled to [-1, 1], with an exact zero.
 */
export const NF4_CODE = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/** The int8 code: q/127 for q in -127..127 (symmetric absmax quantization), indexed by q + 127. */
export const INT8_CODE = Float32Array.from({ length: 255 }, (_, i) => (i - 127) / 127);

/**
 * torch.linspace(start, end, steps) in float32, as ATen computes it: each half counted from its
 * own end, `start + step·i` fused (one rounding; the product of a float32 and a small integer is
 * exact in a double).
 */
function linspace32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  const s = Math.fround(start), e = Math.fround(end);
  const step = Math.fround(Math.fround(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? s + step * i : e - step * (steps - i - 1);
  return out;
}

/**
 * bitsandbytes' signed 8-bit dynamic map (`create_dynamic_map(signed=True)`, Dettmers 2015): the
 * code double quantization stores the absmaxes in. 256 sorted values in [-1, 1].
 */
export const DYNAMIC_CODE: Float32Array = (() => {
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const b = linspace32(0.1, 1, 2 ** i + 1);
    const scale = Math.fround(10 ** (-6 + i));
    for (let j = 0; j + 1 < b.length; j++) {
      const mean = Math.fround(Math.fround(b[j]! + b[j + 1]!) / 2);
      data.push(Math.fround(scale * mean), Math.fround(-scale * mean));
    }
  }
  data.push(0, 1);
  return Float32Array.from(data.sort((a, b) => a - b));
})();

/** Midpoints between neighbouring code values, in float32: the bucket boundaries of the nearest code. */
function boundsOf(code: Float32Array): Float32Array {
  return Float32Array.from({ length: code.length - 1 }, (_, i) => Math.fround(code[i]! + code[i + 1]!) / 2);
}
const BOUNDS = new Map<Float32Array, Float32Array>();
function bounds(code: Float32Array): Float32Array {
  let b = BOUNDS.get(code);
  if (!b) BOUNDS.set(code, (b = boundsOf(code)));
  return b;
}

/** torch.bucketize(v, bounds): how many bounds lie strictly below v. */
function bucket(v: number, b: Float32Array): number {
  let lo = 0, hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (b[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Indices into `code` and one float32 absmax per block, as bitsandbytes' blockwise quantizers compute them. */
export function quantizeBlocks(values: ArrayLike<number>, blockSize: number, code: Float32Array): { q: Uint8Array; absmax: Float32Array } {
  const n = values.length;
  const blocks = Math.ceil(n / blockSize);
  const q = new Uint8Array(n);
  const absmax = new Float32Array(blocks);
  const b = bounds(code);
  const full = n - (n % blockSize);
  for (let blk = 0; blk < blocks; blk++) {
    const start = blk * blockSize, end = Math.min(n, start + blockSize);
    let am = 0;
    for (let i = start; i < end; i++) am = Math.max(am, Math.abs(Math.fround(values[i]!)));
    absmax[blk] = am;
    const clamped = Math.max(am, Math.fround(1e-38));
    // Full blocks multiply by the reciprocal, the trailing partial block divides (as the reference kernel).
    const inv = Math.fround(1 / clamped);
    for (let i = start; i < end; i++) {
      const x = Math.fround(values[i]!);
      const s = start < full ? Math.fround(x * inv) : Math.fround(x / clamped);
      q[i] = bucket(Math.min(1, Math.max(-1, s)), b);
    }
  }
  return { q, absmax };
}

/** Packs byte values four to an int32 word, little-endian, so the words' bytes are the bytes in order. */
export function packBytes(bytes: Uint8Array): Int32Array {
  const words = new Int32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

/** Packs 4-bit codes two to a byte, the first in the high nibble (bitsandbytes' layout), into int32 words. */
export function packNibbles(q: Uint8Array): Int32Array {
  const bytes = new Uint8Array(Math.ceil(q.length / 2));
  for (let i = 0; i < q.length; i++) bytes[i >> 1]! |= (i & 1 ? q[i]! : q[i]! << 4);
  return packBytes(bytes);
}

/** The scales of a quantized matrix: one float32 absmax per block, or those absmaxes double-quantized. */
export type QuantScales =
  | { kind: 'absmax'; absmax: Float32Array }
  /** QLoRA's double quantization: (absmax − offset) stored as 8-bit dynamic codes in blocks of `blockSize`. */
  | { kind: 'nested'; codes: Int32Array; absmax2: Float32Array; offset: number; blockSize: number; blocks: number };

/** A quantized [rows, cols] matrix on the host, blocks running over its row-major elements. */
export interface HostQuantized {
  format: QuantFormat;
  rows: number;
  cols: number;
  blockSize: number;
  /** Packed codes: NF4 two per byte, int8 one per byte (q + 127), four bytes per int32 word. */
  codes: Int32Array;
  scales: QuantScales;
}

/** The code table a format indexes. */
export function codeOf(format: QuantFormat): Float32Array {
  return format === 'nf4' ? NF4_CODE : INT8_CODE;
}

/**
 * Quantizes row-major `values` of a [rows, cols] matrix. `doubleQuant` quantizes the absmaxes as
 * QLoRA does: their mean is subtracted (kept as `offset`) and the rest stored as 8-bit dynamic
 * codes in blocks of 256, each with a float32 absmax.
 */
export function quantizeMatrix(values: ArrayLike<number>, rows: number, cols: number, format: QuantFormat, blockSize: number, doubleQuant: boolean): HostQuantized {
  const { q, absmax } = quantizeBlocks(values, blockSize, codeOf(format));
  const codes = format === 'nf4' ? packNibbles(q) : packBytes(q);
  if (!doubleQuant) return { format, rows, cols, blockSize, codes, scales: { kind: 'absmax', absmax } };
  // The mean summed in float64 and rounded once (torch's float32 mean may differ in the last bit).
  let sum = 0;
  for (const a of absmax) sum += a;
  const offset = Math.fround(sum / absmax.length);
  const centred = absmax.map((a) => Math.fround(a - offset));
  const nested = quantizeBlocks(centred, 256, DYNAMIC_CODE);
  return {
    format, rows, cols, blockSize, codes,
    scales: { kind: 'nested', codes: packBytes(nested.q), absmax2: nested.absmax, offset, blockSize: 256, blocks: absmax.length },
  };
}

/** Byte `i` of packed words. */
function byteAt(words: Int32Array, i: number): number {
  return (words[i >> 2]! >>> ((i & 3) * 8)) & 0xff;
}

/** The float32 absmax of block `blk`: stored, or dequantized from its 8-bit code plus the offset. */
export function blockScale(scales: QuantScales, blk: number): number {
  if (scales.kind === 'absmax') return scales.absmax[blk]!;
  const inner = Math.fround(DYNAMIC_CODE[byteAt(scales.codes, blk)]! * scales.absmax2[Math.floor(blk / scales.blockSize)]!);
  return Math.fround(inner + scales.offset);
}

/** Dequantizes rows [row0, row0 + count) into `out` (float32 or float64), `code[q] · absmax` rounded to float32. */
export function dequantizeRows(w: HostQuantized, row0: number, count: number, out: Float32Array | Float64Array): void {
  const code = codeOf(w.format);
  const start = row0 * w.cols, end = start + count * w.cols;
  for (let i = start; i < end; ) {
    const blk = Math.floor(i / w.blockSize);
    const scale = blockScale(w.scales, blk);
    const stop = Math.min(end, (blk + 1) * w.blockSize);
    for (; i < stop; i++) {
      const b = byteAt(w.codes, w.format === 'nf4' ? i >> 1 : i);
      const q = w.format === 'nf4' ? (i & 1 ? b & 15 : b >> 4) : b;
      out[i - start] = Math.fround(code[q]! * scale);
    }
  }
}
