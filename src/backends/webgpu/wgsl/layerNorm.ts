import { type KernelSource, LINEAR_ID, metaSize, prelude } from './common.js';

/*
 * LayerNorm's fused kernels over contiguous rows of d floats (core/ops/layerNorm.ts has the
 * formulas). A row is one invocation's loop, as the short-row reductions in reduce.ts: the
 * composed forms cost about ten dispatches forward and twenty backward, each a pass over the
 * activations. Word layout: `[rows, d, eps (f32 bits), then the offset of each operand in
 * binding order]`.
 */

const bind = (names: string[], written: string[]) =>
  [...names, ...written].map((n, i) => `@group(0) @binding(${i + 1}) var<storage, ${written.includes(n) ? 'read_write' : 'read'}> ${n}: array<f32>;`).join('\n');
const offsets = (names: string[]) => names.map((n, i) => `  let ${n}o = M(${3 + i}u);`).join('\n');

/** The operands of the forward (x, then weight and bias where given) and what it writes. */
export function layerNormOperands(weight: boolean, bias: boolean): string[] {
  return ['x', ...(weight ? ['w'] : []), ...(bias ? ['b'] : [])];
}

/** y = (x − mean)·rstd·w + b per row (one invocation each), keeping each row's mean and rstd. */
export function layerNormKernel(weight: boolean, bias: boolean): KernelSource {
  const ins = layerNormOperands(weight, bias), outs = ['y', 'mean', 'rstd'];
  const metaVec4 = metaSize(3 + ins.length + outs.length);
  return {
    key: `layerNorm|${weight}|${bias}`,
    metaVec4,
    code: () => `${prelude(metaVec4)}
${bind(ins, outs)}
${LINEAR_ID}
  if (i >= M(0u)) { return; }
  let d = M(1u);
${offsets([...ins, ...outs])}
  let xr = xo + i * d;
  var s = 0.0;
  for (var c = 0u; c < d; c++) { s += x[xr + c]; }
  let m = s / f32(d);
  var v = 0.0;
  for (var c = 0u; c < d; c++) { let e = x[xr + c] - m; v += e * e; }
  let rs = 1.0 / sqrt(v / f32(d) + F(2u));
  mean[meano + i] = m;
  rstd[rstdo + i] = rs;
  for (var c = 0u; c < d; c++) { y[yo + i * d + c] = (x[xr + c] - m) * rs${weight ? ' * w[wo + c]' : ''}${bias ? ' + b[bo + c]' : ''}; }
}`,
  };
}

/** The operands of the backward kernels (g, x, mean, rstd, then the weight where given). */
export function layerNormBackwardOperands(weight: boolean): string[] {
  return ['g', 'x', 'mean', 'rstd', ...(weight ? ['w'] : [])];
}

/**
 * LayerNorm's backward: `rows`, dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·w, one
 * invocation per row; `columns`, dw = Σ g·x̂ and db = Σ g over the rows, one invocation per column.
 */
export function layerNormBackwardKernel(kind: 'rows' | 'columns', weight: boolean): KernelSource {
  const ins = layerNormBackwardOperands(weight && kind === 'rows'), outs = kind === 'rows' ? ['dx'] : ['dw', 'db'];
  const metaVec4 = metaSize(3 + ins.length + outs.length);
  const gy = (at: string) => (weight ? `g[${at}] * w[wo + c]` : `g[${at}]`);
  const body = kind === 'rows'
    ? `  if (i >= M(0u)) { return; }
  let r = i * d;
  let m = mean[meano + i];
  let rs = rstd[rstdo + i];
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = 0u; c < d; c++) {
    let gi = ${gy('go + r + c')};
    sg += gi;
    sgx += gi * (x[xo + r + c] - m) * rs;
  }
  let a = sg / f32(d);
  let b = sgx / f32(d);
  for (var c = 0u; c < d; c++) { dx[dxo + r + c] = rs * (${gy('go + r + c')} - a - (x[xo + r + c] - m) * rs * b); }`
    : `  if (i >= d) { return; }
  var sw = 0.0;
  var sb = 0.0;
  for (var r = 0u; r < M(0u); r++) {
    let gi = g[go + r * d + i];
    sw += gi * (x[xo + r * d + i] - mean[meano + r]) * rstd[rstdo + r];
    sb += gi;
  }
  dw[dwo + i] = sw;
  db[dbo + i] = sb;`;
  return {
    key: `layerNormBackward|${kind}|${weight}`,
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
