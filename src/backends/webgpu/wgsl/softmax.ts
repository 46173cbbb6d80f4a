import type { DType } from '../../../core/dtype.js';
import { type KernelSource, WG, metaSize, prelude, unflatten, wgslType } from './common.js';

/**
 * Word layout of softmax's uniform: `[rows, rowLength, offset, axisStride, outAxisStride,
 * keptShape × kr, keptStrides × kr, outKeptStrides × kr]`.
 */
export function softmaxMeta(rows: number, len: number, offset: number, axisStrides: [number, number], kept: [number[], number[], number[]]): number[] {
  return [rows, len, offset, ...axisStrides, ...kept[0], ...kept[1], ...kept[2]];
}

/** WGSL folding `part` into `part[0]` with `combine(a, b)`; every thread of the workgroup runs it. */
function tree(combine: string): string {
  return `  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { let a = part[lid]; let b = part[lid + s]; part[lid] = ${combine}; }
    workgroupBarrier();
  }`;
}

/**
 * Softmax (or log-softmax) of one row per workgroup: threads stride over the row, and two
 * shared-memory trees find the row max and then Σ exp(x − max); a third pass writes the output.
 * Subtracting the max keeps exp finite for large logits. A NaN makes the sum, and so the whole
 * row, NaN (as the composed ops do), whatever `max` makes of it.
 */
export function softmaxKernel(dtype: DType, kr: number, log: boolean): KernelSource {
  const t = wgslType(dtype);
  const keptAt = 5;
  const metaVec4 = metaSize(keptAt + 3 * kr);
  const write = log ? 'd - logTotal' : 'exp(d) / total';
  return {
    key: `softmax|${dtype}|${kr}|${log}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read> src: array<${t}>;
@group(0) @binding(2) var<storage, read_write> dst: array<${t}>;
var<workgroup> part: array<${t}, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= M(0u)) { return; }
  let len = M(1u);
  let step = S(3u);
  let outStep = S(4u);
  var rem = row;
  var xo = S(2u);
  var oo = 0;
${unflatten(kr, keptAt, [['xo', keptAt + kr], ['oo', keptAt + 2 * kr]])}
  var acc = -inf_f32();
  for (var j = lid; j < len; j += ${WG}u) {
    acc = max(acc, src[xo + i32(j) * step]);
  }
  part[lid] = acc;
  workgroupBarrier();
${tree('max(a, b)')}
  let m = part[0];
  workgroupBarrier();
  acc = 0.0;
  for (var j = lid; j < len; j += ${WG}u) {
    acc += exp(src[xo + i32(j) * step] - m);
  }
  part[lid] = acc;
  workgroupBarrier();
${tree('a + b')}
  let total = part[0];${log ? '\n  let logTotal = log(total);' : ''}
  for (var j = lid; j < len; j += ${WG}u) {
    let d = src[xo + i32(j) * step] - m;
    dst[oo + i32(j) * outStep] = ${write};
  }
}`,
  };
}
