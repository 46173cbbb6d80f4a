import { type KernelSource, LINEAR_ID, metaSize, prelude } from './common.js';

/*
 * LayerNorm's fused kernels over contiguous rows of d floats (core/ops/layerNorm.ts has the
 * formulas). A row is one invocation's loop, as the short-row reductions in reduce.ts: the
 * composed forms cost about ten dispatches forward and twenty backward, each a pass over the
 * activations. Word layout: `[rows, d, eps (f32 bits), then the offset of each operand in
 * binding order]`.
 */

/** Operands read or written a row (or, in `columns`, a column) at a time: vec4s when the kernel is. */
const ROWWISE = new Set(['x', 'w', 'b', 'y', 'g', 'dx', 'dw', 'db']);

/**
 * Helpers for a kernel over floats or, `vec`, over vec4s of 4 neighbouring columns (d % 4 == 0
 * and the row operands' offsets multiples of 4): a CPU adapter's time goes to its storage reads,
 * and a vec4 read costs about two floats'. `T` is the element type, `len` a row's length in them,
 * `at(n)` operand n's start in them, `total(e)` the sum of e's lanes.
 */
function shape(vec: boolean) {
  return {
    T: vec ? 'vec4<f32>' : 'f32',
    len: vec ? '(d / 4u)' : 'd',
    at: (n: string) => (vec && ROWWISE.has(n) ? `(${n}o / 4u)` : `${n}o`),
    total: (e: string) => (vec ? `dot(${e}, vec4<f32>(1.0))` : e),
    bind: (names: string[], written: string[]) =>
      [...names, ...written].map((n, i) => `@group(0) @binding(${i + 1}) var<storage, ${written.includes(n) ? 'read_write' : 'read'}> ${n}: array<${vec && ROWWISE.has(n) ? 'vec4<f32>' : 'f32'}>;`).join('\n'),
  };
}
const offsets = (names: string[]) => names.map((n, i) => `  let ${n}o = M(${3 + i}u);`).join('\n');

/** The operands of the forward (x, then weight and bias where given) and what it writes. */
export function layerNormOperands(weight: boolean, bias: boolean): string[] {
  return ['x', ...(weight ? ['w'] : []), ...(bias ? ['b'] : [])];
}

/** y = (x − mean)·rstd·w + b per row (one invocation each), keeping each row's mean and rstd. */
export function layerNormKernel(weight: boolean, bias: boolean, vec = false): KernelSource {
  const ins = layerNormOperands(weight, bias), outs = ['y', 'mean', 'rstd'];
  const metaVec4 = metaSize(3 + ins.length + outs.length);
  const { T, len, at, total, bind } = shape(vec);
  return {
    key: `layerNorm|${weight}|${bias}|${vec}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
${bind(ins, outs)}
${LINEAR_ID}
  if (i >= M(0u)) { return; }
  let d = M(1u);
${offsets([...ins, ...outs])}
  let n = ${len};
  let xr = ${at('x')} + i * n;
  var s = ${T}(0.0);
  for (var c = 0u; c < n; c++) { s += x[xr + c]; }
  let m = ${total('s')} / f32(d);
  var v = ${T}(0.0);
  for (var c = 0u; c < n; c++) { let e = x[xr + c] - m; v += e * e; }
  let rs = 1.0 / sqrt(${total('v')} / f32(d) + F(2u));
  mean[meano + i] = m;
  rstd[rstdo + i] = rs;
  for (var c = 0u; c < n; c++) { y[${at('y')} + i * n + c] = (x[xr + c] - m) * rs${weight ? ` * w[${at('w')} + c]` : ''}${bias ? ` + b[${at('b')} + c]` : ''}; }
}`,
  };
}

/** The operands of the backward kernels (g, x, mean, rstd, then the weight where given). */
export function layerNormBackwardOperands(weight: boolean): string[] {
  return ['g', 'x', 'mean', 'rstd', ...(weight ? ['w'] : [])];
}

/**
 * LayerNorm's backward: `rows`, dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·w, one
 * invocation per row; `columns`, dw = Σ g·x̂ and db = Σ g over the rows, one invocation per
 * column (per 4 columns when `vec`).
 */
export function layerNormBackwardKernel(kind: 'rows' | 'columns', weight: boolean, vec = false): KernelSource {
  const ins = layerNormBackwardOperands(weight && kind === 'rows'), outs = kind === 'rows' ? ['dx'] : ['dw', 'db'];
  const metaVec4 = metaSize(3 + ins.length + outs.length);
  const { T, len, at, total, bind } = shape(vec);
  const gy = (idx: string) => (weight ? `g[${idx}] * w[${at('w')} + c]` : `g[${idx}]`);
  const body = kind === 'rows'
    ? `  if (i >= M(0u)) { return; }
  let n = ${len};
  let gr = ${at('g')} + i * n;
  let xr = ${at('x')} + i * n;
  let m = mean[meano + i];
  let rs = rstd[rstdo + i];
  var sg = ${T}(0.0);
  var sgx = ${T}(0.0);
  for (var c = 0u; c < n; c++) {
    let gi = ${gy('gr + c')};
    sg += gi;
    sgx += gi * (x[xr + c] - m) * rs;
  }
  let a = ${total('sg')} / f32(d);
  let b = ${total('sgx')} / f32(d);
  for (var c = 0u; c < n; c++) { dx[${at('dx')} + i * n + c] = rs * (${gy('gr + c')} - a - (x[xr + c] - m) * rs * b); }`
    : `  let n = ${len};
  if (i >= n) { return; }
  var sw = ${T}(0.0);
  var sb = ${T}(0.0);
  for (var r = 0u; r < M(0u); r++) {
    let gi = g[${at('g')} + r * n + i];
    sw += gi * (x[${at('x')} + r * n + i] - mean[meano + r]) * rstd[rstdo + r];
    sb += gi;
  }
  dw[${at('dw')} + i] = sw;
  db[${at('db')} + i] = sb;`;
  return {
    key: `layerNormBackward|${kind}|${weight}|${vec}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
${bind(ins, outs)}
${LINEAR_ID}
  let d = M(1u);
${offsets([...ins, ...outs])}
${body}
}`,
  };
}
