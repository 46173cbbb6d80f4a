import { DYNAMIC_CODE, codeOf } from '../../../core/quant.js';
import { type KernelSource, LINEAR_ID, WG, metaSize, prelude } from './common.js';

/*
 * The quantized matmul on WebGPU (see core/quant.ts for the formats) is the tiled matmul kernel
 * (wgsl/matmul.ts) with B read through `qweight`: the codes bind in B's place and the absmaxes
 * at binding 4, and each value is dequantized (code table · block absmax) as the kernel stages
 * its tile in workgroup memory, so the float weight is never written to a buffer. The code table
 * and the block size travel in the uniform after the matmul's words, so the kernel binds four
 * storage buffers, within compatibility mode's limit. A double-quantized weight first has its
 * absmaxes dequantized into a transient float32 array (one value per block: a sixteenth of the
 * codes' bytes), as bitsandbytes' dequantize_4bit does.
 */

/** Uniform words the quantized B adds after the matmul's: the block size, then the code table. */
export function quantizedWords(format: 'int8' | 'nf4'): number {
  return 1 + codeOf(format).length;
}

/** Those words' values: `[blockSize, table as f32 bits...]`. */
export function quantizedMeta(blockSize: number, format: 'int8' | 'nf4', f32Bits: (x: number) => number): number[] {
  return [blockSize, ...Array.from(codeOf(format), f32Bits)];
}

/**
 * The absmax binding and `qweight(e)`: element `e` of the row-major weight, whose codes are bound
 * as `B` (NF4: two a byte, the even element in the high nibble; int8: one a byte), with the
 * block size at uniform word `at` and the code table after it.
 */
export function QUANTIZED_BINDINGS(at: number, format: 'int8' | 'nf4'): string {
  const byte = format === 'nf4' ? 'e >> 1u' : 'e';
  const code = format === 'nf4' ? 'select(byte & 15u, byte >> 4u, (e & 1u) == 0u)' : 'byte';
  return /* wgsl */ `
@group(0) @binding(4) var<storage, read> absmax: array<f32>;
fn qweight(e: u32) -> f32 {
  let b = ${byte};
  let byte = (B[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
  return F(${at + 1}u + ${code}) * absmax[e / M(${at}u)];
}`;
}

/** A quantized B's value at element `index` (an i32 expression). */
export function quantizedLoad(index: string): string {
  return `qweight(u32(${index}))`;
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
