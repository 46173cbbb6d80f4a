import type { DType } from '../../../core/dtype.js';
import { type KernelSource, LINEAR_ID, WG, metaSize, prelude, unflatten, wgslType } from './common.js';

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
 * Softmax (or log-softmax) along rows: the row max, then Σ exp(x − max), then the output.
 * Subtracting the max keeps exp finite for large logits; a NaN makes the sum, and so the whole
 * row, NaN (as the composed ops do), whatever `max` makes of it. `perThread`: one invocation
 * walks a whole (short) row; otherwise one workgroup per row strides over it and combines its
 * partial max and sum with shared-memory trees.
 */
export function softmaxKernel(dtype: DType, kr: number, log: boolean, perThread: boolean): KernelSource {
  const t = wgslType(dtype);
  const keptAt = 5;
  const metaVec4 = metaSize(keptAt + 3 * kr);
  const x = 'src[xo + i32(j) * step]';
  const loop = (body: string) =>
    perThread ? `  for (var j = 0u; j < len; j++) { ${body} }` : `  for (var j = lid; j < len; j += ${WG}u) { ${body} }`;
  // The workgroup's threads combine their partials; the last barrier lets part[] be reused.
  const combine = (name: string, op: string) =>
    perThread ? `  let ${name} = acc;` : `  part[lid] = acc;\n  workgroupBarrier();\n${tree(op)}\n  let ${name} = part[0];\n  workgroupBarrier();`;
  const entry = perThread
    ? `${LINEAR_ID}\n  let row = i;`
    : `var<workgroup> part: array<${t}, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;`;
  return {
    key: `softmax|${dtype}|${kr}|${log}|${perThread}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read> src: array<${t}>;
@group(0) @binding(2) var<storage, read_write> dst: array<${t}>;
${entry}
  if (row >= M(0u)) { return; }
  let len = M(1u);
  let step = S(3u);
  let outStep = S(4u);
  var rem = row;
  var xo = S(2u);
  var oo = 0;
${unflatten(kr, keptAt, [['xo', keptAt + kr], ['oo', keptAt + 2 * kr]])}
  var acc = -inf_f32();
${loop(`acc = max(acc, ${x});`)}
${combine('m', 'max(a, b)')}
  acc = 0.0;
${loop(`acc += exp(${x} - m);`)}
${combine('total', 'a + b')}
${log ? '  let logTotal = log(total);\n' : ''}${loop(`let d = ${x} - m; dst[oo + i32(j) * outStep] = ${log ? 'd - logTotal' : 'exp(d) / total'};`)}
}`,
  };
}
