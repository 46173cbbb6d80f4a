import type { DType, HalfDType } from '../../../core/dtype.js';
import { type KernelSource, metaSize, prelude, unflatten, wgslType } from './common.js';
import { HALF_WGSL, halfLoad } from './half.js';
import { QUANTIZED_BINDINGS, quantizedLoad, quantizedWords } from './quantized.js';

/**
 * Output tile of one workgroup: `bm × bn`, stepping `bk` along k; each thread owns a `tm × tn`
 * block (`tm`, `tn` multiples of 4, so shared memory is read as vec4).
 */
export interface MatmulTile {
  bm: number;
  bn: number;
  bk: number;
  tm: number;
  tn: number;
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
 * The WGSL that places tile `g` of a batched product (tiles of rows × cols, row-major over the
 * batch): its batch entry (returning past the last), first row and column, the sizes and
 * strides from the metadata, and A's and B's offsets for that batch entry (oa, ob).
 */
function tileOrigin(rows: number, cols: number, br: number): string {
  return `  let tilesN = M(3u);
  let tilesM = M(4u);
  let batch = g / (tilesN * tilesM);
  if (batch >= M(5u)) { return; }
  let row0 = ((g / tilesN) % tilesM) * ${rows}u;
  let col0 = (g % tilesN) * ${cols}u;
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
${unflatten(br, 12, [['oa', 12 + br], ['ob', 12 + 2 * br]])}`;
}

/**
 * Batched C = A·B with workgroup shared memory: each workgroup stages a `bm × bk` panel of A
 * and a `bk × bn` panel of B (read through their strides, so transposed operands cost no copy),
 * then every thread accumulates a `tm × 4` block in registers. Edges are zero-padded on load and
 * masked on store, so no size needs to divide the tile. A float16/bfloat16 operand (`halves`,
 * with f32 `dtype` and scalar loads) is widened as its panel is staged, and so is a
 * block-quantized B (`quantized`, see wgsl/quantized.ts: its codes bind in B's place and its
 * absmaxes at binding 4): the f32 copy of a frozen weight never exists outside a tile.
 */
export function matmulKernel(
  dtype: DType, br: number, tile: MatmulTile, vec4: boolean, halves: { a?: HalfDType; b?: HalfDType } = {}, quantized?: 'int8' | 'nf4',
): KernelSource {
  const { bm, bn, bk, tm, tn } = tile;
  const tx = bn / tn, ty = bm / tm, threads = tx * ty;
  const t = wgslType(dtype);
  const zero = t === 'f32' ? '0.0' : '0';
  const metaAt = 12 + 3 * br;
  const metaVec4 = metaSize(metaAt + (quantized ? quantizedWords(quantized) : 0));
  const loadsA = (bm * bk) / threads, loadsB = (bk * bn) / threads;
  const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
  const acc = (i: number, j: number) => `acc${i}_${j}`;
  const read = (name: 'A' | 'B', index: string) => {
    if (name === 'B' && quantized) return quantizedLoad(index);
    const h = name === 'A' ? halves.a : halves.b;
    return h ? halfLoad(h, name, index) : `${name}[${index}]`;
  };
  const binding = (name: 'A' | 'B') => ((name === 'A' ? halves.a : halves.b) || (name === 'B' && quantized) ? 'array<u32>' : `array<${vec4 ? `vec4<${t}>` : t}>`);
  const scalarLoads = () => `${lines(loadsA, (r) => `    {
      let e = li + ${r * threads}u;
      let row = e / ${bk}u;
      let kk = e % ${bk}u;
      var v = ${t}(${zero});
      if (row0 + row < m && k0 + kk < K) { v = ${read('A', 'oa + i32(row0 + row) * ars + i32(k0 + kk) * acs')}; }
      As[kk * ${bm / 4}u + row / 4u][row % 4u] = v;
    }`)}
${lines(loadsB, (r) => `    {
      let e = li + ${r * threads}u;
      let kk = e / ${bn}u;
      let col = e % ${bn}u;
      var v = ${t}(${zero});
      if (col0 + col < n && k0 + kk < K) { v = ${read('B', 'ob + i32(k0 + kk) * brs + i32(col0 + col) * bcs')}; }
      Bs[kk * ${bn / 4}u + col / 4u][col % 4u] = v;
    }`)}`;
  // Row-major operands with k and n multiples of 4: whole vec4s are in or out of bounds.
  const vec4Loads = () => `${lines(loadsA / 4, (r) => `    {
      let e = li + ${r * threads}u;
      let row = e / ${bk / 4}u;
      let k4 = (e % ${bk / 4}u) * 4u;
      var v = vec4<${t}>(${zero});
      if (row0 + row < m && k0 + k4 < K) { v = A[(oa + i32(row0 + row) * ars + i32(k0 + k4)) / 4]; }
      let at = k4 * ${bm / 4}u + row / 4u;
      As[at][row % 4u] = v.x;
      As[at + ${bm / 4}u][row % 4u] = v.y;
      As[at + ${bm / 2}u][row % 4u] = v.z;
      As[at + ${(3 * bm) / 4}u][row % 4u] = v.w;
    }`)}
${lines(loadsB / 4, (r) => `    {
      let e = li + ${r * threads}u;
      let kk = e / ${bn / 4}u;
      let c4 = (e % ${bn / 4}u) * 4u;
      var v = vec4<${t}>(${zero});
      if (col0 + c4 < n && k0 + kk < K) { v = B[(ob + i32(k0 + kk) * brs + i32(col0 + c4)) / 4]; }
      Bs[kk * ${bn / 4}u + c4 / 4u] = v;
    }`)}`;
  return {
    key: `matmul|${dtype}|${br}|${bm}x${bn}x${bk}x${tm}x${tn}|${vec4}|${halves.a ?? ''}|${halves.b ?? ''}|${quantized ?? ''}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}${halves.a || halves.b ? HALF_WGSL : ''}${quantized ? QUANTIZED_BINDINGS(metaAt, quantized) : ''}
@group(0) @binding(1) var<storage, read> A: ${binding('A')};
@group(0) @binding(2) var<storage, read> B: ${binding('B')};
@group(0) @binding(3) var<storage, read_write> C: array<${t}>;
// As[k][row / 4][row % 4] and Bs[k][col / 4][col % 4]: one vec4 load feeds four multiply-adds.
var<workgroup> As: array<vec4<${t}>, ${(bm * bk) / 4}>;
var<workgroup> Bs: array<vec4<${t}>, ${(bk * bn) / 4}>;
@compute @workgroup_size(${tx}, ${ty})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
${tileOrigin(bm, bn, br)}
${lines(tm, (i) => lines(tn / 4, (j) => `  var ${acc(i, j)} = vec4<${t}>(${zero});`))}
  for (var k0 = 0u; k0 < K; k0 += ${bk}u) {
${vec4 ? vec4Loads() : scalarLoads()}
    workgroupBarrier();
    for (var kk = 0u; kk < ${bk}u; kk++) {
${lines(tn / 4, (j) => `      let b${j} = Bs[kk * ${bn / 4}u + lid.x * ${tn / 4}u + ${j}u];`)}
${lines(tm / 4, (i) => `      let a${i} = As[kk * ${bm / 4}u + lid.y * ${tm / 4}u + ${i}u];`)}
${lines(tm, (i) => lines(tn / 4, (j) => `      ${acc(i, j)} += a${Math.floor(i / 4)}[${i % 4}] * b${j};`))}
    }
    workgroupBarrier();
  }
  let base = batch * m * n;
${lines(tm, (i) => `  {
    let r = row0 + lid.y * ${tm}u + ${i}u;
    if (r < m) {
${lines(tn / 4, (j) => `      for (var c = 0u; c < 4u; c++) {
        let col = col0 + lid.x * ${tn}u + ${j * 4}u + c;
        if (col < n) { C[base + r * n + col] = ${acc(i, j)}[c]; }
      }`)}
    }
  }`)}
}`,
  };
}

/** The rows and columns of C one invocation of the direct matmul owns, and invocations per workgroup. */
export interface DirectTile {
  tile: MatmulTile;
  wg: number;
}

/**
 * On a CPU adapter the direct kernel is bound by its storage reads (each lane's load is a
 * bounds-checked gather), not its multiply-adds, and an R × C block reads R + C vec4s per 4·R·C
 * of them: 32 × 32 blocks ran a GPT's products 2–2.5× faster than 8 × 16 on llvmpipe (16 × 32:
 * 1.3–1.7×), the accumulators spilling as whole vectors. Workgroups of 8 (one CPU vector of
 * lanes) leave enough of them to share between threads. Products under 32 rows or columns keep
 * the small block.
 */
export const DIRECT_LARGE: DirectTile = { tile: { bm: 32, bn: 32, bk: 4, tm: 32, tn: 32 }, wg: 8 };
export const DIRECT_SMALL: DirectTile = { tile: { bm: 8, bn: 16, bk: 4, tm: 8, tn: 16 }, wg: 64 };

/**
 * Batched float32 C = A·B without workgroup memory or barriers: each invocation sums a block of C
 * (DIRECT_LARGE or DIRECT_SMALL) from vec4 loads along whichever axis of A and B is contiguous
 * (`aT`: A is read down its columns, a transposed view such as xᵀ in a weight gradient; `bT`: B
 * likewise, as Wᵀ in x·Wᵀ), so neighbouring invocations share A's rows and read adjacent B. CPU
 * adapters run a barrier by switching between invocations: on SwiftShader and llvmpipe this
 * kernel with 8 × 16 blocks ran a GPT's products 1.6–4× faster than the tiled one. The four
 * steps of k within a vec4 run as a loop whose count (4) comes from the uniform, and C is stored
 * as vec4s: unrolled steps and scalar stores took llvmpipe 25–34 s to compile a 32 × 32 block
 * (now 5–7 s; 8 × 16 blocks under 1 s), for a few percent of speed. The caller guarantees
 * k % 4 == 0, n % 4 == 0, m % 4 == 0 when `aT`, and vec4-aligned offsets and strides along the
 * other axes; rows and columns past the edge are clamped on load and masked on store. Words as
 * matmulMeta's with the block as the tile, then 4.
 */
export function directMatmulKernel(br: number, aT: boolean, bT: boolean, { tile, wg }: DirectTile): KernelSource {
  const { bm: R, bn: C } = tile;
  const steps = 12 + 3 * br;
  const metaVec4 = metaSize(steps + 1);
  const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
  // Per vec4 of k: A's rows (as vec4s along k) unless aT, B's columns likewise when bT.
  const outer = [
    ...(aT ? [] : Array.from({ length: R }, (_, i) => `    let a${i} = A[(oa + i32(min(row0 + ${i}u, m - 1u)) * ars) / 4 + i32(k / 4u)];`)),
    ...(bT ? Array.from({ length: C }, (_, c) => `    let bt${c} = B[(ob + i32(min(col0 + ${c}u, n - 1u)) * bcs) / 4 + i32(k / 4u)];`) : []),
  ].join('\n');
  // Per step kk: A's column kk as vec4s across rows when aT, B's row kk as vec4s across columns.
  const inner = [
    ...(aT ? Array.from({ length: R / 4 }, (_, q) => `      let at${q} = A[(oa + i32(k + kk) * acs) / 4 + i32(min(row0 / 4u + ${q}u, m / 4u - 1u))];`) : []),
    ...Array.from({ length: C / 4 }, (_, j) =>
      bT
        ? `      let b${j} = vec4<f32>(${[0, 1, 2, 3].map((c) => `bt${4 * j + c}[kk]`).join(', ')});`
        : `      let b${j} = B[(ob + i32(k + kk) * brs) / 4 + i32(min(col0 / 4u + ${j}u, n / 4u - 1u))];`,
    ),
  ].join('\n');
  const a = (i: number) => (aT ? `at${Math.floor(i / 4)}[${i % 4}]` : `a${i}[kk]`);
  return {
    key: `matmul-direct|${br}|${aT}|${bT}|${R}x${C}|${wg}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> C: array<vec4<f32>>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = (wid.x + wid.y * nwg.x) * ${wg}u + li;
${tileOrigin(R, C, br)}
  let steps = M(${steps}u);
${lines(R, (i) => lines(C / 4, (j) => `  var acc${i}_${j} = vec4<f32>(0.0);`))}
  for (var k = 0u; k < K; k += 4u) {
${outer}
    for (var kk = 0u; kk < steps; kk++) {
${inner}
${lines(R, (i) => `      { let ai = ${a(i)};${lines(C / 4, (j) => ` acc${i}_${j} += ai * b${j};`)} }`)}
    }
  }
  let base = batch * m * (n / 4u);
${lines(R, (i) => `  if (row0 + ${i}u < m) {
    let at = base + (row0 + ${i}u) * (n / 4u) + col0 / 4u;
${lines(C / 4, (j) => `    if (col0 + ${4 * j}u < n) { C[at + ${j}u] = acc${i}_${j}; }`)}
  }`)}
}`,
  };
}
