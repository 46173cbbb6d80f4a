import { type DType, isHalf } from '../../../core/dtype.js';
import { type KernelSource, LINEAR_ID, metaSize, prelude, wgslType } from './common.js';
import { arrayOf, halfBits, halfStore } from './half.js';

/** Bindings shared by gather and scatterAdd (src, int32 index, dst) and the per-thread start. */
function header(metaVec4: number, dtype: DType): string {
  return `${prelude(metaVec4)}
@group(0) @binding(1) var<storage, read> src: ${arrayOf(dtype, false)};
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read_write> dst: ${arrayOf(dtype, true)};
${LINEAR_ID}
  if (i >= M(0u)) { return; }
  var rem = i;`;
}

/**
 * torch.gather. Word layout: `[n, xOffset, indexOffset, axisSize, indexShape × r,
 * indexStrides × r, xStrides × r]`. An index outside `[0, axisSize)` yields NaN (0 for int32)
 * instead of reading another element (a 16-bit float's quiet NaN pattern, as core/half.ts
 * narrows NaN); the 16-bit floats' patterns move untouched. `checked` kernels also record it in a `fault` buffer
 * (`[1, index, axisSize]`) that the backend reports at the next read.
 */
export function gatherKernel(dtype: DType, rank: number, axis: number, checked = false): KernelSource {
  const t = wgslType(dtype);
  const shapeAt = 4, isAt = 4 + rank, xsAt = 4 + 2 * rank;
  const metaVec4 = metaSize(4 + 3 * rank);
  const dims: string[] = [];
  for (let d = rank - 1; d >= 0; d--) {
    dims.push(`  { let n = M(${shapeAt + d}u); let c = i32(rem % n); rem = rem / n; oi += c * S(${isAt + d}u);${d === axis ? '' : ` ox += c * S(${xsAt + d}u);`} }`);
  }
  return {
    key: `gather|${dtype}|${rank}|${axis}|${checked ? 'checked' : ''}`,
    metaVec4,
    code: () => `${checked ? '@group(0) @binding(4) var<storage, read_write> fault: array<atomic<i32>, 4>;\n' : ''}${header(metaVec4, dtype)}
  var ox = S(1u);
  var oi = S(2u);
${dims.join('\n')}
  let j = index[oi];
  if (j < 0 || j >= S(3u)) {${checked ? `
    atomicStore(&fault[1], j);
    atomicStore(&fault[2], S(3u));
    atomicStore(&fault[0], 1);` : ''}
    ${isHalf(dtype) ? halfStore('dst', 'i', dtype === 'float16' ? '0x7e00u' : '0x7fc0u') : `dst[i] = ${t === 'f32' ? 'nan_f32()' : '0'};`}
    return;
  }
  ${isHalf(dtype) ? halfStore('dst', 'i', halfBits('src', `ox + j * S(${xsAt + axis}u)`)) : `dst[i] = src[ox + j * S(${xsAt + axis}u)];`}
}`,
  };
}

/**
 * The inverse of gather without atomics: each output element loops over the index axis and
 * sums the sources whose index names it, in a fixed order, so results are deterministic.
 * Word layout: `[n, srcOffset, indexOffset, indexAxisSize, outShape × r, indexShape × r,
 * indexStrides × r, srcStrides × r]`.
 */
export function scatterAddKernel(dtype: DType, rank: number, axis: number): KernelSource {
  const t = wgslType(dtype);
  const outAt = 4, ishAt = 4 + rank, isAt = 4 + 2 * rank, ssAt = 4 + 3 * rank;
  const metaVec4 = metaSize(4 + 4 * rank);
  const dims: string[] = [];
  for (let d = rank - 1; d >= 0; d--) {
    dims.push(
      d === axis
        ? `  { let n = M(${outAt + d}u); want = i32(rem % n); rem = rem / n; }`
        : `  { let n = M(${outAt + d}u); let c = rem % n; rem = rem / n; inside = inside && c < M(${ishAt + d}u); oi += i32(c) * S(${isAt + d}u); os += i32(c) * S(${ssAt + d}u); }`,
    );
  }
  return {
    key: `scatterAdd|${dtype}|${rank}|${axis}`,
    metaVec4,
    code: () => `${header(metaVec4, dtype)}
  var os = S(1u);
  var oi = S(2u);
  var want = 0;
  var inside = true;
${dims.join('\n')}
  var acc = ${t}(0);
  if (inside) {
    let isx = S(${isAt + axis}u);
    let ssx = S(${ssAt + axis}u);
    for (var k = 0; k < S(3u); k++) {
      if (index[oi + k * isx] == want) { acc += src[os + k * ssx]; }
    }
  }
  dst[i] = acc;
}`,
  };
}

/** Output rows one invocation of the row-broadcast scatterAdd sums. */
export const SCATTER_ROWS = 16;

/**
 * scatterAdd along axis 0 of a [rows, cols] output whose index repeats one value across each
 * row (stride 0 along the columns, as an embedding's gradient has): each invocation owns one
 * column of SCATTER_ROWS output rows and reads each index once for all of them, instead of once
 * per output element. Matches add in index order, as in scatterAddKernel. Word layout: `[n,
 * srcOffset, indexOffset, indexLength, rows, cols, indexStride, srcRowStride, srcColStride]`,
 * n = ⌈rows / SCATTER_ROWS⌉ · cols.
 */
export function scatterAddRowsKernel(dtype: DType): KernelSource {
  const t = wgslType(dtype);
  const metaVec4 = metaSize(9);
  const rows = Array.from({ length: SCATTER_ROWS }, (_, r) => r);
  return {
    key: `scatterAdd-rows|${dtype}`,
    metaVec4,
    code: () => `${header(metaVec4, dtype)}
  let cols = M(5u);
  let col = i32(i % cols);
  let first = i32(i / cols) * ${SCATTER_ROWS};
${rows.map((r) => `  var acc${r} = ${t}(0);`).join('\n')}
  for (var k = 0; k < S(3u); k++) {
    let d = index[S(2u) + k * S(6u)] - first;
    if (d >= 0 && d < ${SCATTER_ROWS}) {
      let v = src[S(1u) + k * S(7u) + col * S(8u)];
${rows.map((r) => `      acc${r} += select(${t}(0), v, d == ${r});`).join('\n')}
    }
  }
${rows.map((r) => `  if (first + ${r} < S(4u)) { dst[(first + ${r}) * i32(cols) + col] = acc${r}; }`).join('\n')}
}`,
  };
}
