import type { View } from '../../../core/backend.js';
import { type KernelSource, metaSize, prelude } from './common.js';
import { type BackwardKind, type MaskKind, type Operand, BATCH_AT, backwardBindings, bindings, keyOf, lseWord, prologue, s, wordOf } from './attention.js';

/*
 * Fused attention for heads of up to MAX_HEAD columns, a multiple of 4, whose rows load as vec4s:
 * the same algorithm and uniform as wgsl/attention.ts, but each invocation owns a block of
 * `rowsPer` query rows (key rows for dK and dV), and their rows and accumulators are named vec4
 * locals unrolled over the head, compiled per head size. A software adapter runs a WGSL
 * invocation as one lane of a CPU vector: a private array indexed in a loop turns into per-lane
 * memory traffic, and every storage read is a bounds-checked gather, which bounds these kernels'
 * time. So each key row (query row for dK and dV) read serves the whole block, and named locals
 * stay in vector registers (or spill as whole vectors). Keys are taken one at a time, each
 * row's running max and sum updated branch-free.
 */

/** The widest head (E and Ev) the register kernels take. */
export const MAX_HEAD = 64;

/** Whether the register kernels take these operands: heads of 4…MAX_HEAD columns in steps of 4, rows that load as vec4s. */
export function registerAttentionFits<S>(views: readonly View<S>[], e: number, ev: number): boolean {
  const head = (d: number) => d > 0 && d <= MAX_HEAD && d % 4 === 0;
  return head(e) && head(ev) && views.every((v) => v.strides.at(-1) === 1 && v.offset % 4 === 0 && v.strides.slice(0, -1).every((st) => st % 4 === 0));
}

/** Rows per invocation for heads of E and Ev columns: eight up to 16 columns, fewer for wider heads (the registers a block holds). */
export function rowsPer(e: number, ev: number): number {
  return Math.max(1, Math.min(8, Math.floor(128 / Math.max(e, ev))));
}

const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
const sum = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(' + ');

/** The vec4 index of row `r` of operand n (its offset and row stride are multiples of 4). */
const row4 = (n: Operand, r: string) => `(${n}o + i32(${r}) * ${s(wordOf(n, 1))}) / 4`;

/** WGSL for the mask's (i, j) entry and the dropout multiplier's. */
/**
 * The loop over the keys a block of RB query rows from r0 sees (to the block's last row when
 * causal), opened, with key j's row of k (k0…) and of v (v0…) read as vec4s into registers.
 */
const keyLoop = (RB: number, E4: number, V4: number) => `  var kEnd = S_;
  if (causal) { kEnd = min(S_, r0 + ${RB}u); }
  for (var j = 0u; j < kEnd; j++) {
    let kb = ${row4('k', 'j')};
${lines(E4, (c) => `    let k${c} = k[kb + ${c}];`)}
    let vb = ${row4('v', 'j')};
${lines(V4, (c) => `    let v${c} = v[vb + ${c}];`)}`;
const maskAt = (i: string, j: string) => `mask[mo + i32(${i}) * ${s(wordOf('m', 1))} + i32(${j}) * ${s(wordOf('m', 2))}]`;
const dropAt = (dropout: boolean, i: string, j: string) => (dropout ? `z[zo + i32(${i}) * ${s(wordOf('z', 1))} + i32(${j}) * ${s(wordOf('z', 2))}]` : '1.0');

/** The score of query i and key j from the scaled dot product `dot`: −∞ where causal or the mask hides it. */
function score(mask: MaskKind, dot: string, i: string, j: string): string {
  const hidden = [`(causal && ${j} > ${i})`, ...(mask === 'int' ? [`${maskAt(i, j)} == 0`] : [])].join(' || ');
  return `select(${dot}${mask === 'float' ? ` + ${maskAt(i, j)}` : ''}, ninf(), ${hidden})`;
}

const types = (mask: MaskKind): Record<string, string> => ({
  q: 'vec4<f32>', k: 'vec4<f32>', v: 'vec4<f32>', g: 'vec4<f32>', out: 'vec4<f32>', dq: 'vec4<f32>', dk: 'vec4<f32>', dv: 'vec4<f32>',
  mask: mask === 'int' ? 'i32' : 'f32',
});

const key = (kind: string, kr: number, mask: MaskKind, dropout: boolean, e: number, ev: number) => `${keyOf(`registers-${kind}`, kr, mask, dropout)}|${e}|${ev}`;

const NINF = `fn ninf() -> f32 { return -inf_f32(); }
fn is_ninf(x: f32) -> bool { return bitcast<u32>(x) == 0xff800000u; }`;

/** The invocations of a register kernel: blocks of rowsPer rows (query rows, or key rows for dkv) per batch entry. */
export function registerAttentionInvocations(batches: number, rows: number, e: number, ev: number): number {
  return batches * Math.ceil(rows / rowsPer(e, ev));
}

/** The forward: out [...B, L, Ev] and lse [...B, L], contiguous; uniform as attentionMeta's with M(0) the invocations. */
export function registerAttentionForwardKernel(kr: number, mask: MaskKind, dropout: boolean, e: number, ev: number): KernelSource {
  const metaVec4 = metaSize(BATCH_AT + kr * 8);
  const E4 = e / 4, V4 = ev / 4, RB = rowsPer(e, ev);
  const t = types(mask);
  const list = ['q', 'k', 'v', ...(mask === 'none' ? [] : ['mask']), ...(dropout ? ['z'] : [])];
  const decl = bindings([...list.map((n): [string, string, boolean] => [n, t[n] ?? 'f32', false]), ['out', 'vec4<f32>', true], ['lse', 'f32', true]]);
  const rows = (f: (r: number) => string) => lines(RB, f);
  return {
    key: key('forward', kr, mask, dropout, e, ev),
    metaVec4,
    code: () => `${prelude(metaVec4)}
${decl}
${NINF}
${prologue(kr, `(L + ${RB - 1}u) / ${RB}u`)}
  let r0 = outer * ${RB}u;
${rows((r) => `  let i${r} = min(r0 + ${r}u, L - 1u);
  let qb${r} = ${row4('q', `i${r}`)};
${lines(E4, (c) => `  let q${r}_${c} = q[qb${r} + ${c}] * scale;`)}`)}
${rows((r) => `  var m${r} = ninf();
  var l${r} = 0.0;
${lines(V4, (c) => `  var a${r}_${c} = vec4<f32>(0.0);`)}`)}
${keyLoop(RB, E4, V4)}
${rows((r) => `    {
      let sc = ${score(mask, sum(E4, (c) => `dot(q${r}_${c}, k${c})`), `i${r}`, 'j')};
      let mNew = max(m${r}, sc);
      let alpha = select(exp(m${r} - mNew), 0.0, is_ninf(m${r}));
      let p = select(exp(sc - mNew), 0.0, is_ninf(sc));
      l${r} = l${r} * alpha + p;
      let pz = p * ${dropAt(dropout, `i${r}`, 'j')};
${lines(V4, (c) => `      a${r}_${c} = a${r}_${c} * alpha + pz * v${c};`)}
      m${r} = mNew;
    }`)}
  }
${rows((r) => `  if (r0 + ${r}u < L) {
    let ob = (batch * L + r0 + ${r}u) * ${V4}u;
    let inv = select(1.0 / l${r}, 0.0, l${r} == 0.0);
${lines(V4, (c) => `    out[ob + ${c}u] = a${r}_${c} * inv;`)}
    lse[batch * L + r0 + ${r}u] = select(m${r} + log(l${r}), inf_f32(), l${r} == 0.0);
  }`)}
}`,
  };
}

/**
 * A backward kernel of wgsl/attention.ts's `dq` or `dkv` kind with the rows in registers (the
 * `stats` kernel and the split `dk`, `dv` pair stay there): dq sums dS·k·scale over a block of
 * query rows' keys, dkv dSᵀ·q·scale and (P∘Z)ᵀ·dO over a block of key rows' queries, with
 * P = exp(s − lse) and dS = P∘(Z∘(dO·vᵀ) − D); lse and D come from the stats kernel. Outputs are
 * contiguous; M(0) is the invocations.
 */
export function registerAttentionBackwardKernel(kind: Extract<BackwardKind, 'dq' | 'dkv'>, kr: number, mask: MaskKind, dropout: boolean, e: number, ev: number): KernelSource {
  const metaVec4 = metaSize(lseWord(kr) + 1);
  const E4 = e / 4, V4 = ev / 4, RB = rowsPer(e, ev);
  const t = types(mask);
  const written = new Set(['dq', 'dk', 'dv']);
  const decl = bindings(backwardBindings(kind, mask, dropout).map((n) => [n, t[n] ?? 'f32', written.has(n)]));
  const rows = (f: (r: number) => string) => lines(RB, f);
  const dot = (x: string, y: string, n: number) => sum(n, (c) => `dot(${x}_${c}, ${y}${c})`);
  const body =
    kind === 'dq'
      ? `  let r0 = outer * ${RB}u;
${rows((r) => `  let i${r} = min(r0 + ${r}u, L - 1u);
  let lse${r} = st[2u * (batch * L + i${r})];
  let D${r} = st[2u * (batch * L + i${r}) + 1u];
  let qb${r} = ${row4('q', `i${r}`)};
${lines(E4, (c) => `  let q${r}_${c} = q[qb${r} + ${c}];`)}
  let gb${r} = ${row4('g', `i${r}`)};
${lines(V4, (c) => `  let g${r}_${c} = g[gb${r} + ${c}];`)}
${lines(E4, (c) => `  var d${r}_${c} = vec4<f32>(0.0);`)}`)}
${keyLoop(RB, E4, V4)}
${rows((r) => `    {
      // A hidden key, or a row that attends nowhere (lse = +∞), has p = 0.
      let sc = ${score(mask, `(${dot(`q${r}`, 'k', E4)}) * scale`, `i${r}`, 'j')};
      let p = select(exp(sc - lse${r}), 0.0, is_ninf(sc) || lse${r} == inf_f32());
      let ds = p * (${dropAt(dropout, `i${r}`, 'j')} * (${dot(`g${r}`, 'v', V4)}) - D${r}) * scale;
${lines(E4, (c) => `      d${r}_${c} += ds * k${c};`)}
    }`)}
  }
${rows((r) => `  if (r0 + ${r}u < L) {
    let at = (batch * L + r0 + ${r}u) * ${E4}u;
${lines(E4, (c) => `    dq[at + ${c}u] = d${r}_${c};`)}
  }`)}`
      : `  let r0 = outer * ${RB}u;
${rows((r) => `  let j${r} = min(r0 + ${r}u, S_ - 1u);
  let kb${r} = ${row4('k', `j${r}`)};
${lines(E4, (c) => `  let k${r}_${c} = k[kb${r} + ${c}];`)}
  let vb${r} = ${row4('v', `j${r}`)};
${lines(V4, (c) => `  let v${r}_${c} = v[vb${r} + ${c}];`)}
${lines(E4, (c) => `  var dk${r}_${c} = vec4<f32>(0.0);`)}
${lines(V4, (c) => `  var dv${r}_${c} = vec4<f32>(0.0);`)}`)}
  var i0 = 0u;
  if (causal) { i0 = r0; }
  for (var i = i0; i < L; i++) {
    let r = batch * L + i;
    let lse = st[2u * r];
    if (lse == inf_f32()) { continue; }
    let D = st[2u * r + 1u];
    let qb = ${row4('q', 'i')};
${lines(E4, (c) => `    let q${c} = q[qb + ${c}];`)}
    let gb = ${row4('g', 'i')};
${lines(V4, (c) => `    let g${c} = g[gb + ${c}];`)}
${rows((r) => `    {
      let sc = ${score(mask, `(${dot(`k${r}`, 'q', E4)}) * scale`, 'i', `j${r}`)};
      let p = select(exp(sc - lse), 0.0, is_ninf(sc));
      let pz = p * ${dropAt(dropout, 'i', `j${r}`)};
      let ds = (pz * (${dot(`v${r}`, 'g', V4)}) - p * D) * scale;
${lines(E4, (c) => `      dk${r}_${c} += ds * q${c};`)}
${lines(V4, (c) => `      dv${r}_${c} += pz * g${c};`)}
    }`)}
  }
${rows((r) => `  if (r0 + ${r}u < S_) {
    let atk = (batch * S_ + r0 + ${r}u) * ${E4}u;
    let atv = (batch * S_ + r0 + ${r}u) * ${V4}u;
${lines(E4, (c) => `    dk[atk + ${c}u] = dk${r}_${c};`)}
${lines(V4, (c) => `    dv[atv + ${c}u] = dv${r}_${c};`)}
  }`)}`;
  return {
    key: key(`backward-${kind}`, kr, mask, dropout, e, ev),
    metaVec4,
    code: () => `${prelude(metaVec4)}
${decl}
${NINF}
${prologue(kr, `(${kind === 'dq' ? 'L' : 'S_'} + ${RB - 1}u) / ${RB}u`)}
${body}
}`,
  };
}
