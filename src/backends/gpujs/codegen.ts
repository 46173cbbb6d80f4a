/**
 * Kernel sources for gpu.js, generated as JavaScript strings (gpu.js translates them to GLSL).
 * Shapes, strides and offsets are kernel arguments (uniforms), so one compiled kernel serves
 * every shape of a given rank; only the rank, the arity and the expression are baked in.
 *
 * GLSL ES 1.0 has no usable integer division, so index arithmetic runs on floats, which is
 * exact below 2^24; `divmod` corrects the one-off error a float division may make.
 */

/** GLSL-safe helper functions every kernel may call (plain JS sources, never transpiled). */
export const HELPERS: readonly string[] = [
  // erf to ~1e-7: a Taylor series near 0 (no relative error blow-up), Abramowitz-Stegun 7.1.26 beyond.
  `function erf32(x) {
    const a = Math.abs(x);
    if (a < 0.5) {
      const x2 = x * x;
      return x * 1.1283791670955126 * (1 - x2 * (0.3333333333333333 - x2 * (0.1 - x2 * (0.023809523809523808 - x2 * (0.004629629629629629 - x2 * 0.0007575757575757576)))));
    }
    const t = 1 / (1 + 0.3275911 * a);
    const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
    if (x < 0) { return -y; }
    return y;
  }`,
  // tanh without exp overflow (gpu.js's own gives NaN past |x| = 44) and accurate near 0.
  `function tanh32(x) {
    if (x > 10) { return 1; }
    if (x < -10) { return -1; }
    if (Math.abs(x) < 0.125) {
      const x2 = x * x;
      return x * (1 - x2 * (0.3333333333333333 - x2 * (0.13333333333333333 - x2 * (0.05396825396825397 - x2 * 0.021869488536155203))));
    }
    const e = Math.exp(2 * x);
    return (e - 1) / (e + 1);
  }`,
  // Math.pow semantics: GLSL pow() is undefined for negative bases and for 0 to a negative power.
  `function powSigned(a, b, nan) {
    if (b == 0) { return 1; }
    if (a == 0) {
      if (b > 0) { return 0; }
      return 1 / (a * a);
    }
    if (a > 0) { return Math.pow(a, b); }
    if (a < 0) {
      if (Math.floor(b) == b) {
        const r = Math.pow(-a, b);
        if (Math.floor(b / 2) * 2 == b) { return r; }
        return -r;
      }
    }
    return nan;
  }`,
  // Int32Array assignment semantics for finite values: truncate; NaN and infinities give 0.
  `function toInt32(v) {
    if (Math.abs(v) < 3.0e38) { return Math.trunc(v); }
    return 0;
  }`,
];

/** The uniform names of a strided operand over a loop of rank `rank`: offset, then strides. */
function operandArgs(name: string, rank: number): string[] {
  return [`${name}o`, ...Array.from({ length: rank }, (_, d) => `${name}s${d}`)];
}

/**
 * Statements splitting the flat index `flat` into coordinates `${c}0..` over the shape uniforms
 * `${n}0..` (row-major). The float quotient is corrected so it is exact below 2^24.
 */
function unflatten(flat: string, rank: number, n: string, c: string): string {
  const lines = [`let ${c}r = ${flat};`];
  for (let d = rank - 1; d >= 1; d--) {
    lines.push(
      `let ${c}q${d} = Math.floor(${c}r / ${n}${d});`,
      `let ${c}${d} = ${c}r - ${c}q${d} * ${n}${d};`,
      `if (${c}${d} < 0) { ${c}q${d} = ${c}q${d} - 1; ${c}${d} = ${c}${d} + ${n}${d}; }`,
      `if (${c}${d} >= ${n}${d}) { ${c}q${d} = ${c}q${d} + 1; ${c}${d} = ${c}${d} - ${n}${d}; }`,
      `${c}r = ${c}q${d};`,
    );
  }
  lines.push(`let ${c}0 = ${c}r;`);
  return lines.join('\n');
}

/** `name`'s element offset at coordinates `${c}0..`: offset + Σ c_d · stride_d. */
function offsetOf(name: string, rank: number, c: string): string {
  return [`${name}o`, ...Array.from({ length: rank }, (_, d) => `${c}${d} * ${name}s${d}`)].join(' + ');
}

function fn(args: string[], body: string): string {
  return `function (${args.join(', ')}) {\n${body}\n}`;
}

const shapeArgs = (n: string, rank: number) => Array.from({ length: rank }, (_, d) => `${n}${d}`);

/**
 * out[i] = expr(names...) where each name reads one strided operand. Texture arguments come
 * first, then `zero` (a runtime 0, so `nan = zero / zero` is a real NaN), then uniforms.
 */
export function mapSource(expr: string, names: readonly string[], rank: number): string {
  const ins = names.map((_, i) => `x${i}`);
  const args = [...ins, 'zero', ...shapeArgs('n', rank), ...names.flatMap((_, i) => operandArgs(`p${i}_`, rank))];
  const body = [
    'const nan = zero / zero;',
    unflatten('this.thread.x', rank, 'n', 'c'),
    ...names.map((v, i) => `const ${v} = x${i}[${offsetOf(`p${i}_`, rank, 'c')}];`),
    `return ${expr};`,
  ].join('\n');
  return fn(args, body);
}

/** Reduces the block of `red` dims behind each output element (kept dims `keep`). */
export function reduceSource(op: 'sum' | 'max' | 'min', keep: number, red: number): string {
  const step =
    op === 'sum' ? 'acc = acc + v;'
    : `if (acc == acc) { if (v ${op === 'max' ? '>' : '<'} acc || v != v) { acc = v; } }`;
  const args = ['x', 'init', ...shapeArgs('n', keep), ...operandArgs('p', keep), ...shapeArgs('t', red), ...shapeArgs('u', red)];
  let loop = `const v = x[base${Array.from({ length: red }, (_, d) => ` + j${d} * u${d}`).join('')}];\n${step}`;
  for (let d = red - 1; d >= 0; d--) loop = `for (let j${d} = 0; j${d} < t${d}; j${d}++) {\n${loop}\n}`;
  const body = [unflatten('this.thread.x', keep, 'n', 'c'), `const base = ${offsetOf('p', keep, 'c')};`, 'let acc = init;', loop, 'return acc;'].join('\n');
  return fn(args, body);
}

/** Index of the first max/min along one axis of length `t`, stride `u`; NaN wins, as on CPU. */
export function argReduceSource(op: 'argmax' | 'argmin', keep: number): string {
  const cmp = op === 'argmax' ? '>' : '<';
  const args = ['x', ...shapeArgs('n', keep), ...operandArgs('p', keep), 't', 'u'];
  const body = [
    unflatten('this.thread.x', keep, 'n', 'c'),
    `const base = ${offsetOf('p', keep, 'c')};`,
    'let best = 0;',
    'let bestI = 0;',
    'for (let j = 0; j < t; j++) {',
    '  const v = x[base + j * u];',
    `  if (j == 0 || v ${cmp} best || (v != v && best == best)) { best = v; bestI = j; }`,
    '}',
    'return bestI;',
  ].join('\n');
  return fn(args, body);
}

/**
 * Batched matmul: the output loop runs over [...batch, m, n]; operand `a` has stride 0 on n,
 * `b` stride 0 on m, so the shared indexing gives each row/column start; then a dot over k.
 */
export function matmulSource(rank: number): string {
  const args = ['a', 'b', ...shapeArgs('n', rank), ...operandArgs('pa', rank), ...operandArgs('pb', rank), 'kk', 'ak', 'bk'];
  const body = [
    unflatten('this.thread.x', rank, 'n', 'c'),
    `const ao = ${offsetOf('pa', rank, 'c')};`,
    `const bo = ${offsetOf('pb', rank, 'c')};`,
    'let sum = 0;',
    'for (let p = 0; p < kk; p++) {',
    '  sum = sum + a[ao + p * ak] * b[bo + p * bk];',
    '}',
    'return sum;',
  ].join('\n');
  return fn(args, body);
}

/**
 * torch.gather over index's shape: x's stride on `axis` is passed separately (its loop stride
 * is 0), and an index outside [0, len) yields NaN instead of reading a neighbour.
 */
export function gatherSource(rank: number): string {
  const args = ['x', 'index', 'zero', ...shapeArgs('n', rank), ...operandArgs('px', rank), ...operandArgs('pi', rank), 'len', 'xs'];
  const body = [
    unflatten('this.thread.x', rank, 'n', 'c'),
    `const j = index[${offsetOf('pi', rank, 'c')}];`,
    `if (j >= 0 && j < len) { return x[${offsetOf('px', rank, 'c')} + j * xs]; }`,
    'return zero / zero;',
  ].join('\n');
  return fn(args, body);
}

/**
 * scatterAdd without atomics: each output element walks the index axis and sums the `src`
 * entries whose index points at it. Output coordinates beyond index's extent receive nothing.
 */
export function scatterAddSource(rank: number, axis: number): string {
  const args = ['src', 'index', ...shapeArgs('n', rank), ...shapeArgs('m', rank), ...operandArgs('ps', rank), ...operandArgs('pi', rank), 'ss', 'is'];
  const inside = Array.from({ length: rank }, (_, d) => d).filter((d) => d !== axis).map((d) => `c${d} < m${d}`);
  const body = [
    unflatten('this.thread.x', rank, 'n', 'c'),
    `const so = ${offsetOf('ps', rank, 'c')};`,
    `const io = ${offsetOf('pi', rank, 'c')};`,
    'let acc = 0;',
    inside.length ? `if (${inside.join(' && ')}) {` : '{',
    `  for (let t = 0; t < m${axis}; t++) {`,
    `    if (index[io + t * is] == c${axis}) { acc = acc + src[so + t * ss]; }`,
    '  }',
    '}',
    'return acc;',
  ].join('\n');
  return fn(args, body);
}

/**
 * A strided write as a gather: each element e of the destination storage finds whether it lies
 * in the view (dims sorted by decreasing stride, so a greedy division recovers the coordinates)
 * and takes the source element there, or keeps its old value.
 */
export function copySource(rank: number): string {
  const args = ['old', 'src', 'dsto', ...shapeArgs('n', rank), ...shapeArgs('ds', rank), ...operandArgs('ps', rank)];
  const lines = ['const e = this.thread.x;', 'let rem = e - dsto;', 'let inside = 1;', 'if (rem < 0) { inside = 0; }'];
  for (let d = 0; d < rank; d++) {
    lines.push(
      `let c${d} = Math.floor(rem / ds${d});`,
      `let r${d} = rem - c${d} * ds${d};`,
      `if (r${d} < 0) { c${d} = c${d} - 1; r${d} = r${d} + ds${d}; }`,
      `if (r${d} >= ds${d}) { c${d} = c${d} + 1; r${d} = r${d} - ds${d}; }`,
      `if (c${d} < 0 || c${d} >= n${d}) { inside = 0; }`,
      `rem = r${d};`,
    );
  }
  lines.push('if (rem != 0) { inside = 0; }', `if (inside == 1) { return src[${offsetOf('ps', rank, 'c')}]; }`, 'return old[e];');
  return fn(args, lines.join('\n'));
}

/** A constant fill and an upload (identity over a JS array). */
export const FILL_SOURCE = 'function (v) {\nreturn v;\n}';
export const UPLOAD_SOURCE = 'function (a) {\nreturn a[this.thread.x];\n}';
