import type { ArgReduceOp, ReduceOp } from '../../../core/backend.js';
import type { DType } from '../../../core/dtype.js';
import { type KernelSource, LINEAR_ID, WG, metaSize, prelude, unflatten, wgslType } from './common.js';

/**
 * Word layout of a reduction's uniform: `[outputs, blockSize, offset, keptShape × kr,
 * keptStrides × kr, reducedShape × rr, reducedStrides × rr]`.
 */
export function reduceMeta(outputs: number, block: number, offset: number, kept: [number[], number[]], reduced: [number[], number[]]): number[] {
  return [outputs, block, offset, ...kept[0], ...kept[1], ...reduced[0], ...reduced[1]];
}

function init(op: ReduceOp, t: 'f32' | 'i32'): string {
  if (op === 'sum') return t === 'f32' ? '0.0' : '0';
  if (t === 'i32') return op === 'max' ? '(-2147483647 - 1)' : '2147483647';
  return op === 'max' ? '-inf_f32()' : 'inf_f32()';
}

/** Folds `b` into `a`; a NaN anywhere makes max/min NaN, as on the CPU. */
function combine(op: ReduceOp, t: 'f32' | 'i32'): string {
  if (op === 'sum') return 'a + b';
  const cmp = op === 'max' ? 'b > a' : 'b < a';
  return t === 'f32' ? `select(a, b, ${cmp} || is_nan(b))` : `select(a, b, ${cmp})`;
}

function common(op: ReduceOp, dtype: DType, metaVec4: number): string {
  const t = wgslType(dtype);
  return `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read> src: array<${t}>;
@group(0) @binding(2) var<storage, read_write> dst: array<${t}>;
fn combine(a: ${t}, b: ${t}) -> ${t} { return ${combine(op, t)}; }`;
}

/**
 * Reduces `src` over a block of `rr` (coalesced) dims for every output element. `perThread`:
 * one invocation loops over its whole block (small blocks); otherwise one workgroup per output
 * strides over the block and finishes with a shared-memory tree.
 */
export function reduceKernel(op: ReduceOp, dtype: DType, kr: number, rr: number, perThread: boolean): KernelSource {
  const keptAt = 3, redAt = 3 + 2 * kr;
  const metaVec4 = metaSize(redAt + 2 * rr);
  const t = wgslType(dtype);
  const visit = (j: string) => `    var rem2 = ${j};
    var o1 = o0;
${unflatten(rr, redAt, [['o1', redAt + rr]], 'rem2')}
    acc = combine(acc, src[o1]);`;
  const outer = `  var rem = out;
  var o0 = S(2u);
${unflatten(kr, keptAt, [['o0', keptAt + kr]])}
  var acc: ${t} = ${init(op, t)};
  let nb = M(1u);`;
  return {
    key: `reduce|${op}|${dtype}|${kr}|${rr}|${perThread}`,
    metaVec4,
    code: () =>
      perThread
        ? `${common(op, dtype, metaVec4)}
${LINEAR_ID}
  let out = i;
  if (out >= M(0u)) { return; }
${outer}
  for (var j = 0u; j < nb; j++) {
${visit('j')}
  }
  dst[out] = acc;
}`
        : `${common(op, dtype, metaVec4)}
var<workgroup> part: array<${t}, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let out = wid.x + wid.y * nwg.x;
  if (out >= M(0u)) { return; }
${outer}
  for (var j = lid; j < nb; j += ${WG}u) {
${visit('j')}
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] = combine(part[lid], part[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) { dst[out] = part[0]; }
}`,
  };
}

/** Word layout of argmax/argmin: `[outputs, axisSize, offset, keptShape × kr, keptStrides × kr, axisStride]`. */
export function argReduceKernel(op: ArgReduceOp, dtype: DType, kr: number): KernelSource {
  const t = wgslType(dtype);
  const metaVec4 = metaSize(4 + 2 * kr);
  const cmp = op === 'argmax' ? 'v > best' : 'v < best';
  const better = t === 'f32' ? `${cmp} || (is_nan(v) && !is_nan(best))` : cmp;
  return {
    key: `arg|${op}|${dtype}|${kr}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read> src: array<${t}>;
@group(0) @binding(2) var<storage, read_write> dst: array<i32>;
${LINEAR_ID}
  if (i >= M(0u)) { return; }
  var rem = i;
  var o0 = S(2u);
${unflatten(kr, 3, [['o0', 3 + kr]])}
  let stride = S(${3 + 2 * kr}u);
  var best = src[o0];
  var bi = 0;
  for (var j = 1; j < i32(M(1u)); j++) {
    let v = src[o0 + j * stride];
    if (${better}) { best = v; bi = j; }
  }
  dst[i] = bi;
}`,
  };
}
