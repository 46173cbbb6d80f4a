import type { View } from '../../../core/backend.js';
import { type KernelSource, metaSize, prelude } from './common.js';
import { type BackwardKind, type MaskKind, type Operand, BATCH_AT, backwardBindings, bindings, keyOf, lseWord, prologue, s, wordOf } from './attention.js';

/*
 * Fused attention for heads of up to MAX_HEAD columns, a multiple of 4, whose rows load as vec4s:
 * the same algorithm, uniform and dispatch as wgsl/attention.ts (one invocation per query row,
 * or per key row for dK and dV), but the invocation's own rows and accumulators are named vec4
 * locals unrolled over the head, compiled per head size. A software adapter runs a WGSL
 * invocation as one lane of a CPU vector, and a private array indexed in a loop turns into
 * per-lane memory traffic; named locals stay in vector registers (or spill as whole vectors).
 * The forward takes keys four at a time: one rescale of the running sum and accumulator per four.
 */

/** The widest head (E and Ev) the register kernels take. */
export const MAX_HEAD = 64;

/** Whether the register kernels take these operands: heads of 4…MAX_HEAD columns in steps of 4, rows that load as vec4s. */
export function registerAttentionFits<S>(views: readonly View<S>[], e: number, ev: number): boolean {
  const head = (d: number) => d > 0 && d <= MAX_HEAD && d % 4 === 0;
  return head(e) && head(ev) && views.every((v) => v.strides.at(-1) === 1 && v.offset % 4 === 0 && v.strides.slice(0, -1).every((st) => st % 4 === 0));
}

const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
const sum = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(' + ');

/** `let <name><c> = <op>[<base> + c]` for the c-th vec4 of a row. */
const loadRow = (name: string, op: string, base: string, n4: number, times = '') => lines(n4, (c) => `  let ${name}${c} = ${op}[${base} + ${c}]${times};`);

/** The vec4 index of row `r` of operand n (its offset and row stride are multiples of 4). */
const row4 = (n: Operand, r: string) => `(${n}o + i32(${r}) * ${s(wordOf(n, 1))}) / 4`;

/** WGSL for the mask's (i, j) entry and the dropout multiplier's. */
const maskAt = (i: string, j: string) => `mask[mo + i32(${i}) * ${s(wordOf('m', 1))} + i32(${j}) * ${s(wordOf('m', 2))}]`;
const dropAt = (dropout: boolean, i: string, j: string) => (dropout ? `z[zo + i32(${i}) * ${s(wordOf('z', 1))} + i32(${j}) * ${s(wordOf('z', 2))}]` : '1.0');

/** Statements declaring `sv`, the score of query i and key j from `dot`: a float mask added, `hide` run where an int mask is 0. */
function masked(mask: MaskKind, sv: string, dot: string, i: string, j: string, hide: string): string {
  const decl = `var ${sv} = ${dot}${mask === 'float' ? ` + ${maskAt(i, j)}` : ''};`;
  return mask === 'int' ? `${decl}\n    if (${maskAt(i, j)} == 0) { ${hide} }` : decl;
}

const types = (mask: MaskKind): Record<string, string> => ({
  q: 'vec4<f32>', k: 'vec4<f32>', v: 'vec4<f32>', g: 'vec4<f32>', out: 'vec4<f32>', dq: 'vec4<f32>', dk: 'vec4<f32>', dv: 'vec4<f32>',
  mask: mask === 'int' ? 'i32' : 'f32',
});

const key = (kind: string, kr: number, mask: MaskKind, dropout: boolean, e: number, ev: number) => `${keyOf(`registers-${kind}`, kr, mask, dropout)}|${e}|${ev}`;

/** The forward: out [...B, L, Ev] and lse [...B, L], contiguous; uniform as attentionMeta's. */
export function registerAttentionForwardKernel(kr: number, mask: MaskKind, dropout: boolean, e: number, ev: number): KernelSource {
  const metaVec4 = metaSize(BATCH_AT + kr * 8);
  const E4 = e / 4, V4 = ev / 4;
  const t = types(mask);
  const list = ['q', 'k', 'v', ...(mask === 'none' ? [] : ['mask']), ...(dropout ? ['z'] : [])];
  const decl = bindings([...list.map((n): [string, string, boolean] => [n, t[n] ?? 'f32', false]), ['out', 'vec4<f32>', true], ['lse', 'f32', true]]);
  // Key j0 + u of the tile of four: its score (−∞ past kEnd or where masked), clamped row index.
  const score = (u: number) => `  var s${u} = ninf();
  let j${u} = min(j0 + ${u}u, kEnd - 1u);
  if (j0 + ${u}u < kEnd) {
    let kb = ${row4('k', `j${u}`)};
    ${masked(mask, 'sc', sum(E4, (c) => `dot(q${c}, k[kb + ${c}])`), 'outer', `j${u}`, 'sc = ninf();')}
    s${u} = sc;
  }`;
  return {
    key: key('forward', kr, mask, dropout, e, ev),
    metaVec4,
    code: () => `${prelude(metaVec4)}
${decl}
fn ninf() -> f32 { return -inf_f32(); }
fn is_ninf(x: f32) -> bool { return bitcast<u32>(x) == 0xff800000u; }
${prologue(kr, 'L')}
  let qb = ${row4('q', 'outer')};
${loadRow('q', 'q', 'qb', E4, ' * scale')}
${lines(V4, (c) => `  var a${c} = vec4<f32>(0.0);`)}
  var kEnd = S_;
  if (causal && outer + 1u < S_) { kEnd = outer + 1u; }
  var m = ninf();
  var l = 0.0;
  for (var j0 = 0u; j0 < kEnd; j0 += 4u) {
${lines(4, score)}
    let mNew = max(m, max(max(s0, s1), max(s2, s3)));
    // A tile that leaves the max at −∞ has no key to attend to.
    if (is_ninf(mNew)) { continue; }
    let alpha = select(exp(m - mNew), 0.0, is_ninf(m));
${lines(4, (u) => `    let p${u} = exp(s${u} - mNew);`)}
    l = l * alpha + p0 + p1 + p2 + p3;
${lines(4, (u) => `    let pz${u} = p${u} * ${dropAt(dropout, 'outer', `j${u}`)};\n    let vb${u} = ${row4('v', `j${u}`)};`)}
${lines(V4, (c) => `    a${c} = a${c} * alpha + ${sum(4, (u) => `pz${u} * v[vb${u} + ${c}]`)};`)}
    m = mNew;
  }
  let ob = (batch * L + outer) * ${V4}u;
  let inv = select(1.0 / l, 0.0, l == 0.0);
${lines(V4, (c) => `  out[ob + ${c}u] = a${c} * inv;`)}
  lse[batch * L + outer] = select(m + log(l), inf_f32(), l == 0.0);
}`,
  };
}

/**
 * A backward kernel of wgsl/attention.ts's `dq` or `dkv` kind with the rows in registers (the
 * `stats` kernel and the split `dk`, `dv` pair stay there): dq sums dS·k·scale over the query
 * row's keys, dkv dSᵀ·q·scale and (P∘Z)ᵀ·dO over the key row's queries, with P = exp(s − lse)
 * and dS = P∘(Z∘(dO·vᵀ) − D); lse and D come from the stats kernel. Outputs are contiguous.
 */
export function registerAttentionBackwardKernel(kind: Extract<BackwardKind, 'dq' | 'dkv'>, kr: number, mask: MaskKind, dropout: boolean, e: number, ev: number): KernelSource {
  const metaVec4 = metaSize(lseWord(kr) + 1);
  const E4 = e / 4, V4 = ev / 4;
  const t = types(mask);
  const written = new Set(['dq', 'dk', 'dv']);
  const decl = bindings(backwardBindings(kind, mask, dropout).map((n) => [n, t[n] ?? 'f32', written.has(n)]));
  const dot = (x: string, y: string, n: number) => sum(n, (c) => `dot(${x}${c}, ${y}${c})`);
  const body =
    kind === 'dq'
      ? `  let r = batch * L + outer;
  let lse = st[2u * r];
  let D = st[2u * r + 1u];
  let qb = ${row4('q', 'outer')};
${loadRow('q', 'q', 'qb', E4)}
  let gb = ${row4('g', 'outer')};
${loadRow('g', 'g', 'gb', V4)}
${lines(E4, (c) => `  var d${c} = vec4<f32>(0.0);`)}
  var kEnd = S_;
  if (causal && outer + 1u < S_) { kEnd = outer + 1u; }
  // A row that attends nowhere has no gradient.
  if (lse == inf_f32()) { kEnd = 0u; }
  for (var j = 0u; j < kEnd; j++) {
    let kb = ${row4('k', 'j')};
${loadRow('k', 'k', 'kb', E4).replaceAll('\n', '\n  ').replace(/^/, '  ')}
    ${masked(mask, 'sc', `(${dot('q', 'k', E4)}) * scale`, 'outer', 'j', 'continue;')}
    let p = exp(sc - lse);
    let vb = ${row4('v', 'j')};
    let dp = ${sum(V4, (c) => `dot(g${c}, v[vb + ${c}])`)};
    let ds = p * (${dropAt(dropout, 'outer', 'j')} * dp - D) * scale;
${lines(E4, (c) => `    d${c} += ds * k${c};`)}
  }
  let at = r * ${E4}u;
${lines(E4, (c) => `  dq[at + ${c}u] = d${c};`)}`
      : `  let kb = ${row4('k', 'outer')};
${loadRow('k', 'k', 'kb', E4)}
  let vb = ${row4('v', 'outer')};
${loadRow('v', 'v', 'vb', V4)}
${lines(E4, (c) => `  var dk${c} = vec4<f32>(0.0);`)}
${lines(V4, (c) => `  var dv${c} = vec4<f32>(0.0);`)}
  var i0 = 0u;
  if (causal) { i0 = outer; }
  for (var i = i0; i < L; i++) {
    let r = batch * L + i;
    let lse = st[2u * r];
    if (lse == inf_f32()) { continue; }
    let qb = ${row4('q', 'i')};
${loadRow('q', 'q', 'qb', E4).replaceAll('\n', '\n  ').replace(/^/, '  ')}
    ${masked(mask, 'sc', `(${dot('q', 'k', E4)}) * scale`, 'i', 'outer', 'continue;')}
    let p = exp(sc - lse);
    let gb = ${row4('g', 'i')};
${loadRow('g', 'g', 'gb', V4).replaceAll('\n', '\n  ').replace(/^/, '  ')}
    let pz = p * ${dropAt(dropout, 'i', 'outer')};
    let ds = (pz * (${dot('g', 'v', V4)}) - p * st[2u * r + 1u]) * scale;
${lines(E4, (c) => `    dk${c} += ds * q${c};`)}
${lines(V4, (c) => `    dv${c} += pz * g${c};`)}
  }
  let atk = (batch * S_ + outer) * ${E4}u;
  let atv = (batch * S_ + outer) * ${V4}u;
${lines(E4, (c) => `  dk[atk + ${c}u] = dk${c};`)}
${lines(V4, (c) => `  dv[atv + ${c}u] = dv${c};`)}`;
  return {
    key: key(`backward-${kind}`, kr, mask, dropout, e, ev),
    metaVec4,
    code: () => `${prelude(metaVec4)}
${decl}
${prologue(kr, kind === 'dq' ? 'L' : 'S_')}
${body}
}`,
  };
}
