import { DYNAMIC_CODE, codeOf } from '../../../core/quant.js';
import { type KernelSource, LINEAR_ID, WG, metaSize, prelude } from './common.js';

/*
 * The quantized matmul on WebGPU (see core/quant.ts for the formats): each invocation computes
 * one output element, dequantizing the weight values it reads (code table · block absmax); the
 * float weight is never written anywhere. The code table travels in the uniform, so the kernel
 * binds four storage buffers at most, within compatibility mode's limit. A double-quantized
 * weight first has its absmaxes dequantized into a transient float32 array (one value per block:
 * a sixteenth of the codes' bytes), as bitsandbytes' dequantize_4bit does.
 */

/** Word layout of the matmul's uniform: `[m, k, n, cols, blockSize, transposed, nibbles, xOffset, table...]`. */
const TABLE_AT = 8;

/** The uniform words of the matmul: sizes, layout flags and the format's code table as f32 bits. */
export function quantizedMatmulMeta(
  m: number, k: number, n: number, cols: number, blockSize: number, transposed: boolean, format: 'int8' | 'nf4', xOffset: number, f32Bits: (x: number) => number,
): number[] {
  return [m, k, n, cols, blockSize, transposed ? 1 : 0, format === 'nf4' ? 1 : 0, xOffset, ...Array.from(codeOf(format), f32Bits)];
}

/** y[row, col] = Σ_kk x[row, kk] · W'(kk, col), W' = Wᵀ (`transposed`) or W, dequantized as read. */
export function quantizedMatmulKernel(format: 'int8' | 'nf4'): KernelSource {
  const metaVec4 = metaSize(TABLE_AT + codeOf(format).length);
  return {
    key: `quantizedMatmul|${format}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> codes: array<u32>;
@group(0) @binding(3) var<storage, read> absmax: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
fn weight(e: u32) -> f32 {
  let nibbles = M(6u) == 1u;
  let b = select(e, e >> 1u, nibbles);
  let byte = (codes[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
  let q = select(byte, select(byte & 15u, byte >> 4u, (e & 1u) == 0u), nibbles);
  return F(${TABLE_AT}u + q) * absmax[e / M(4u)];
}
${LINEAR_ID}
  let m = M(0u); let k = M(1u); let n = M(2u); let cols = M(3u);
  if (i >= m * n) { return; }
  let row = i / n;
  let col = i % n;
  let transposed = M(5u) == 1u;
  var acc = 0.0;
  for (var kk = 0u; kk < k; kk++) {
    let e = select(kk * cols + col, col * cols + kk, transposed);
    acc += x[M(7u) + row * k + kk] * weight(e);
  }
  dst[i] = acc;
}`,
  };
}

/** Word layout of the absmax kernel's uniform: `[blocks, nestedBlockSize, offset bits, dynamic code...]`. */
export function nestedAbsmaxMeta(blocks: number, blockSize: number, offset: number, f32Bits: (x: number) => number): number[] {
  return [blocks, blockSize, f32Bits(offset), ...Array.from(DYNAMIC_CODE, f32Bits)];
}

/** absmax[i] = dynamic[qabsmax byte i] · absmax2[i / blockSize] + offset. */
export function nestedAbsmaxKernel(): KernelSource {
  const metaVec4 = metaSize(3 + DYNAMIC_CODE.length);
  return {
    key: 'nestedAbsmax',
    metaVec4,
    code: () => `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read> qabsmax: array<u32>;
@group(0) @binding(2) var<storage, read> absmax2: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
${LINEAR_ID}
  if (i >= M(0u)) { return; }
  let byte = (qabsmax[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
  dst[i] = F(3u + byte) * absmax2[i / M(1u)] + F(2u);
}`,
  };
}

/** Workgroups for `n` invocations. */
export function groupsFor(n: number): number {
  return Math.ceil(n / WG);
}
