import type { DType } from '../../../core/dtype.js';
import { type KernelSource, metaSize, prelude, unflatten, wgslType } from './common.js';

/** Output tile of one workgroup: `bm × bn`, stepping `bk` along k; each thread owns `tm × 4`. */
export interface MatmulTile {
  bm: number;
  bn: number;
  bk: number;
  tm: number;
}

/**
 * Word layout: `[m, n, k, tilesN, tilesM, batches, aOffset, bOffset, aRowStride, aColStride,
 * bRowStride, bColStride, batchShape × br, aBatchStrides × br, bBatchStrides × br]`.
 */
export function matmulMeta(m: number, n: number, k: number, tile: MatmulTile, batch: [number[], number[], number[]], a: { offset: number; rs: number; cs: number }, b: { offset: number; rs: number; cs: number }): number[] {
  const batches = batch[0].reduce((p, d) => p * d, 1);
  return [m, n, k, Math.ceil(n / tile.bn), Math.ceil(m / tile.bm), batches, a.offset, b.offset, a.rs, a.cs, b.rs, b.cs, ...batch[0], ...batch[1], ...batch[2]];
}

/**
 * Batched C = A·B with workgroup shared memory: each workgroup stages a `bm × bk` panel of A
 * and a `bk × bn` panel of B (read through their strides, so transposed operands cost no copy),
 * then every thread accumulates a `tm × 4` block in registers. Edges are zero-padded on load and
 * masked on store, so no size needs to divide the tile.
 */
export function matmulKernel(dtype: DType, br: number, tile: MatmulTile): KernelSource {
  const { bm, bn, bk, tm } = tile;
  const tx = bn / 4, ty = bm / tm, threads = tx * ty;
  const t = wgslType(dtype);
  const zero = t === 'f32' ? '0.0' : '0';
  const metaVec4 = metaSize(12 + 3 * br);
  const loadsA = (bm * bk) / threads, loadsB = (bk * bn) / threads;
  const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
  return {
    key: `matmul|${dtype}|${br}|${bm}x${bn}x${bk}x${tm}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read> A: array<${t}>;
@group(0) @binding(2) var<storage, read> B: array<${t}>;
@group(0) @binding(3) var<storage, read_write> C: array<${t}>;
var<workgroup> As: array<${t}, ${bm * bk}>;
var<workgroup> Bs: array<${t}, ${bk * bn}>;
@compute @workgroup_size(${tx}, ${ty})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
  let tilesN = M(3u);
  let tilesM = M(4u);
  let batch = g / (tilesN * tilesM);
  if (batch >= M(5u)) { return; }
  let row0 = ((g / tilesN) % tilesM) * ${bm}u;
  let col0 = (g % tilesN) * ${bn}u;
  let m = M(0u);
  let n = M(1u);
  let K = M(2u);
  let ars = S(8u);
  let acs = S(9u);
  let brs = S(10u);
  let bcs = S(11u);
  var rem = batch;
  var oa = S(6u);
  var ob = S(7u);
${unflatten(br, 12, [['oa', 12 + br], ['ob', 12 + 2 * br]])}
${lines(tm, (i) => `  var acc${i} = vec4<${t}>(${zero});`)}
  for (var k0 = 0u; k0 < K; k0 += ${bk}u) {
${lines(loadsA, (r) => `    {
      let e = li + ${r * threads}u;
      let row = e / ${bk}u;
      let kk = e % ${bk}u;
      var v = ${t}(${zero});
      if (row0 + row < m && k0 + kk < K) { v = A[oa + i32(row0 + row) * ars + i32(k0 + kk) * acs]; }
      As[kk * ${bm}u + row] = v;
    }`)}
${lines(loadsB, (r) => `    {
      let e = li + ${r * threads}u;
      let kk = e / ${bn}u;
      let col = e % ${bn}u;
      var v = ${t}(${zero});
      if (col0 + col < n && k0 + kk < K) { v = B[ob + i32(k0 + kk) * brs + i32(col0 + col) * bcs]; }
      Bs[kk * ${bn}u + col] = v;
    }`)}
    workgroupBarrier();
    for (var kk = 0u; kk < ${bk}u; kk++) {
      let bo = kk * ${bn}u + lid.x * 4u;
      let b = vec4<${t}>(Bs[bo], Bs[bo + 1u], Bs[bo + 2u], Bs[bo + 3u]);
      let ao = kk * ${bm}u + lid.y * ${tm}u;
${lines(tm, (i) => `      acc${i} += As[ao + ${i}u] * b;`)}
    }
    workgroupBarrier();
  }
  let base = batch * m * n;
  let c0 = col0 + lid.x * 4u;
${lines(tm, (i) => `  {
    let r = row0 + lid.y * ${tm}u + ${i}u;
    if (r < m) {
      for (var j = 0u; j < 4u; j++) { if (c0 + j < n) { C[base + r * n + c0 + j] = acc${i}[j]; } }
    }
  }`)}
}`,
  };
}
