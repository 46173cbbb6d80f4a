import { type DType, isHalf } from '../../../core/dtype.js';
import type { Emit, OpDef } from '../../shared/opTable.js';
import { type KernelSource, LINEAR_ID, metaSize, prelude, unflatten, wgslType } from './common.js';
import { HALF_WGSL, arrayOf, halfBits, halfLoad, halfNarrow, halfStore } from './half.js';

/**
 * Word layout of an elementwise kernel's uniform: `[n, dstOffset, srcOffset × k, shape × rank,
 * dstStrides × rank, srcStrides × rank × k]`.
 */
export function elementwiseMeta(n: number, shape: readonly number[], dst: { offset: number; strides: readonly number[] }, srcs: { offset: number; strides: readonly number[] }[]): number[] {
  return [n, dst.offset, ...srcs.map((s) => s.offset), ...shape, ...dst.strides, ...srcs.flatMap((s) => s.strides)];
}

/**
 * The start of both elementwise kernels: the invocation's element i (none past M(0)), and its
 * offset in dst (o0) and in each of the k sources (o1…), unflattened from the shape and strides
 * that start at word shapeAt of the uniform.
 */
function elementOffsets(k: number, rank: number, shapeAt: number): string {
  return `${LINEAR_ID}
  if (i >= M(0u)) { return; }
  var rem = i;
  var o0 = S(1u);
${Array.from({ length: k }, (_, j) => `  var o${j + 1} = S(${2 + j}u);`).join('\n')}
${unflatten(rank, shapeAt, Array.from({ length: k + 1 }, (_, j) => [`o${j}`, shapeAt + rank * (j + 1)] as [string, number]))}`;
}

/**
 * `dst[...] = expr(v0, v1, ...)` over strided operands of one (coalesced) shape: one invocation
 * per element, which splits its linear index into coordinates and walks every operand's strides.
 * Compiled once per expression, dtypes and rank. A 16-bit float operand is read as f32 and a
 * 16-bit result rounded to its pattern (wgsl/half.ts); copying one 16-bit dtype to itself
 * (`v0`) moves the patterns untouched.
 */
export function elementwiseKernel(expr: string, srcTypes: readonly DType[], dstType: DType, rank: number): KernelSource {
  const k = srcTypes.length;
  const shapeAt = 2 + k;
  const metaVec4 = metaSize(shapeAt + rank * (k + 2));
  const half = isHalf(dstType) || srcTypes.some(isHalf);
  const load = (t: DType, j: number) => (isHalf(t) ? halfLoad(t, `src${j}`, `o${j + 1}`) : `src${j}[o${j + 1}]`);
  let store = `dst[o0] = ${expr};`;
  if (isHalf(dstType)) {
    const bits = expr === 'v0' && srcTypes[0] === dstType ? halfBits('src0', 'o1') : halfNarrow(dstType, expr);
    store = halfStore('dst', 'o0', bits);
  }
  return {
    key: `ew|${expr}|${srcTypes.join(',')}|${dstType}|${rank}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}${half ? HALF_WGSL : ''}
${srcTypes.map((t, j) => `@group(0) @binding(${j + 1}) var<storage, read> src${j}: ${arrayOf(t, false)};`).join('\n')}
@group(0) @binding(${k + 1}) var<storage, read_write> dst: ${arrayOf(dstType, true)};
${elementOffsets(k, rank, shapeAt)}
${srcTypes.map((t, j) => `  let v${j} = ${load(t, j)};`).join('\n')}
  ${store}
}`,
  };
}

/**
 * The elementwise kernel four elements an invocation, for float32 and int32 operands whose
 * innermost dim is a multiple of 4 with stride 1 (read as vec4s, their offsets and other strides
 * multiples of 4 and given in vec4s) or 0 (`splat[j]`: one element read and repeated). A CPU
 * adapter spends an elementwise kernel's time per invocation and per read, and a vec4 read costs
 * about two floats'. The uniform is elementwiseMeta's for the shape with its innermost dim / 4.
 */
export function elementwise4Kernel(expr: string, srcTypes: readonly DType[], dstType: DType, rank: number, splat: readonly boolean[]): KernelSource {
  const k = srcTypes.length;
  const shapeAt = 2 + k;
  const metaVec4 = metaSize(shapeAt + rank * (k + 2));
  const lane = (u: number) => expr.replace(/\bv(\d+)\b/g, (_, j: string) => `v${j}[${u}]`);
  const vec = (t: DType) => `vec4<${wgslType(t)}>`;
  return {
    key: `ew4|${expr}|${srcTypes.join(',')}|${dstType}|${rank}|${splat.map(Number).join('')}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
${srcTypes.map((t, j) => `@group(0) @binding(${j + 1}) var<storage, read> src${j}: array<${splat[j] ? wgslType(t) : vec(t)}>;`).join('\n')}
@group(0) @binding(${k + 1}) var<storage, read_write> dst: array<${vec(dstType)}>;
${elementOffsets(k, rank, shapeAt)}
${srcTypes.map((t, j) => `  let v${j} = ${splat[j] ? `${vec(t)}(src${j}[o${j + 1}])` : `src${j}[o${j + 1}]`};`).join('\n')}
  dst[o0] = ${vec(dstType)}(${[0, 1, 2, 3].map(lane).join(', ')});
}`,
  };
}

/**
 * The WGSL form of an op of the shared table for operands of `dtype`: its i32 form where it has
 * one, else its f32 one.
 *
 * @example
 * opWgsl(BINARY.div, 'int32')('v0', 'v1'); // 'select(v0 / v1, 0, v1 == 0)'
 */
export function opWgsl<Operands extends string[]>(def: OpDef<Operands>, dtype: DType): Emit<Operands> {
  return (dtype === 'int32' && def.wgslInt) || def.wgsl;
}

/** Writes one value (its 32 bits in word 1) into the first `n` elements. */
export function fillKernel(dtype: DType): KernelSource {
  const metaVec4 = metaSize(2);
  return {
    key: `fill|${dtype}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read_write> dst: array<${wgslType(dtype)}>;
${LINEAR_ID}
  if (i >= M(0u)) { return; }
  dst[i] = bitcast<${wgslType(dtype)}>(M(1u));
}`,
  };
}
