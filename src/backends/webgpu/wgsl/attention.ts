import type { AttentionArgs, View } from '../../../core/backend.js';
import { sizeOf } from '../../../core/shape.js';
import { type KernelSource, LINEAR_ID, metaSize, prelude, unflatten } from './common.js';

/*
 * Fused scaled dot-product attention, FlashAttention's way, one invocation per query row: the
 * row's scores come in tiles of TILE keys into a private array, a running max m and sum l (the
 * online softmax) rescale the row's accumulator (its output row) when a tile raises the max,
 * and nothing of size L·S is stored. The backward (FlashAttention-2) recomputes the weights
 * exp(s − lse) from q, k and the forward's row logsumexp, in two passes that each own what they
 * write: one invocation per query row for D = rowsum(dO∘O) and dQ, one per key row for dK, dV.
 * Each invocation sums its output row in a private array of CHUNK columns, written once at the
 * end (a read-modify-write of the output in storage per key cost SwiftShader most of the step);
 * rows wider than CHUNK take one pass per CHUNK columns, recomputing the weights.
 *
 * Operands are read through their strides (batch dims broadcast with stride 0), given in the
 * uniform: word layout [rows, L, S, E, Ev, scale, causal, then offset, row and column stride of
 * q, k, v, mask, dropout, out, grad, then the batch shape and each operand's batch strides].
 */

const TILE = 32;
/** Output columns an invocation accumulates privately per pass: GPT-2's head size. */
const CHUNK = 64;
/** The operands read through strides, in uniform order. */
const OPERANDS = ['q', 'k', 'v', 'm', 'z', 'o', 'g'] as const;
export type Operand = (typeof OPERANDS)[number];
const HEAD = 7;

export type MaskKind = 'none' | 'int' | 'float';

type GArgs<S> = AttentionArgs<S>;

/** The uniform's words for operands [...B, rows, cols] of one batch shape; absent ones are zeros. */
export function attentionMeta<S>(a: GArgs<S>, rows: number, f32Bits: (x: number) => number, extra: { out?: View<S>; grad?: View<S> } = {}): number[] {
  const batch = a.query.shape.slice(0, -2);
  const views: Record<Operand, View<S> | null | undefined> = { q: a.query, k: a.key, v: a.value, m: a.mask, z: a.dropout, o: extra.out, g: extra.grad };
  const r = batch.length;
  const head = OPERANDS.flatMap((n) => {
    const v = views[n];
    return v ? [v.offset, v.strides[r]!, v.strides[r + 1]!] : [0, 0, 0];
  });
  const strides = OPERANDS.flatMap((n) => views[n]?.strides.slice(0, r) ?? new Array<number>(r).fill(0));
  const [L, E] = a.query.shape.slice(-2) as [number, number];
  return [rows, L, a.key.shape.at(-2)!, E, a.value.shape.at(-1)!, f32Bits(a.scale), a.isCausal ? 1 : 0, ...head, ...batch, ...strides];
}

/** Words before the batch shape. */
export const BATCH_AT = HEAD + 3 * OPERANDS.length;

/** The bindings of a kernel: name → WGSL type, in binding order from 1. */
export function bindings(list: [string, string, boolean][]): string {
  return list.map(([name, type, write], i) => `@group(0) @binding(${i + 1}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${type}>;`).join('\n');
}

export const s = (w: number) => `S(${w}u)`;
/** The word of an operand's offset (0), row stride (1) or column stride (2). */
export const wordOf = (n: Operand, w: 0 | 1 | 2) => HEAD + 3 * OPERANDS.indexOf(n) + w;
/** WGSL for element (r, c) of operand n's matrix at offset `base`. */
export const elem = (n: Operand, base: string, r: string, c: string) => `${base} + i32(${r}) * ${s(wordOf(n, 1))} + i32(${c}) * ${s(wordOf(n, 2))}`;
/** The same through operand n's strides held in locals `<n>r`, `<n>c` (see `strideLets`). */
const elemL = (n: Operand, base: string, r: string, c: string) => `${base} + i32(${r}) * ${n}r + i32(${c}) * ${n}c`;
/** Locals holding the row and column strides of the operands, read from the uniform once. */
const strideLets = (ns: readonly Operand[]) => ns.map((n) => `  let ${n}r = ${s(wordOf(n, 1))}; let ${n}c = ${s(wordOf(n, 2))};`).join('\n');

/**
 * The start of `main`: `outer`, the invocation's query row (or key row, or block of rows: `outer`
 * is the WGSL count of invocations per batch entry), `batch`, its batch entry, and each
 * operand's matrix offset `<n>o` in that entry.
 */
export function prologue(kr: number, outer: string): string {
  const targets = OPERANDS.map((n, i): [string, number] => [`${n}o`, BATCH_AT + kr + i * kr]);
  return `${LINEAR_ID}
  if (i >= M(0u)) { return; }
  let L = M(1u); let S_ = M(2u); let E = M(3u); let Ev = M(4u); let scale = F(5u); let causal = M(6u) != 0u;
  let outer = i % (${outer});
  let batch = i / (${outer});
  var rem = batch;
${OPERANDS.map((n) => `  var ${n}o = S(${wordOf(n, 0)}u);`).join('\n')}
${unflatten(kr, BATCH_AT, targets)}`;
}

/**
 * score_of: query row i's scaled, masked score for key j (−∞ where hidden); drop_of: its dropout
 * multiplier. The invocation's own row (`fixed`: its query row, or its key row in dK and dV) is
 * read once into a private array (`loadFixed`), its first CHUNK entries, instead of once per score.
 */
function helpers(mask: MaskKind, dropout: boolean, fixed: 'q' | 'k'): string {
  const m = `mask[${elem('m', 'mo', 'i', 'j')}]`;
  const other = fixed === 'q' ? 'k' : 'q';
  return `fn ninf() -> f32 { return -inf_f32(); }
fn is_ninf(x: f32) -> bool { return bitcast<u32>(x) == 0xff800000u; }
var<private> fixedRow: array<f32, ${CHUNK}>;
fn score_of(qo: i32, ko: i32, mo: i32, i: u32, j: u32) -> f32 {
  if (M(6u) != 0u && j > i) { return ninf(); }
${mask === 'int' ? `  if (${m} == 0) { return ninf(); }\n` : ''}  var dot = 0.0;
${strideLets(['q', 'k'])}
  let qa = ${elemL('q', 'qo', 'i', '0')};
  let ka = ${elemL('k', 'ko', 'j', '0')};
  let E = i32(M(3u));
  let e1 = min(E, ${CHUNK});
  for (var e = 0; e < e1; e++) { dot += fixedRow[e] * ${other}[${other}a + e * ${other}c]; }
  for (var e = e1; e < E; e++) { dot += q[qa + e * qc] * k[ka + e * kc]; }
  return dot * F(5u)${mask === 'float' ? ` + ${m}` : ''};
}
fn drop_of(zo: i32, i: u32, j: u32) -> f32 { return ${dropout ? `z[${elem('z', 'zo', 'i', 'j')}]` : '1.0'}; }`;
}

/** Reads the first CHUNK entries of the invocation's row `outer` of `fixed` into fixedRow. */
const loadFixed = (fixed: 'q' | 'k') => `  for (var e = 0u; e < min(E, ${CHUNK}u); e++) { fixedRow[e] = ${fixed}[${elem(fixed, `${fixed}o`, 'outer', 'e')}]; }`;

/** The key of a kernel: its kind, rank, mask and dropout. */
export const keyOf = (kind: string, kr: number, mask: MaskKind, dropout: boolean) => `attention-${kind}|${kr}|${mask}|${dropout}`;

function operandBindings(mask: MaskKind, dropout: boolean): [string, string, boolean][] {
  return [
    ['q', 'f32', false], ['k', 'f32', false], ['v', 'f32', false],
    ...(mask === 'none' ? [] : [['mask', mask === 'int' ? 'i32' : 'f32', false] as [string, string, boolean]]),
    ...(dropout ? [['z', 'f32', false] as [string, string, boolean]] : []),
  ];
}

/** The forward: out [...B, L, Ev] and lse [...B, L], both contiguous; one invocation per query row. */
export function attentionForwardKernel(kr: number, mask: MaskKind, dropout: boolean): KernelSource {
  const metaVec4 = metaSize(BATCH_AT + kr * (1 + OPERANDS.length));
  return {
    key: keyOf('forward', kr, mask, dropout),
    metaVec4,
    code: () => {
      return `${prelude(metaVec4)}
${bindings([...operandBindings(mask, dropout), ['out', 'f32', true], ['lse', 'f32', true]])}
${helpers(mask, dropout, 'q')}
${prologue(kr, 'L')}
${loadFixed('q')}
  let ob = batch * L * Ev + outer * Ev;
${strideLets(['v'])}
  var kEnd = S_;
  if (causal && outer + 1u < S_) { kEnd = outer + 1u; }
  var m = ninf();
  var l = 0.0;
  var sc: array<f32, ${TILE}>;
  // One pass per CHUNK output columns (one when Ev <= CHUNK, and one for Ev = 0 to write lse).
  var c0 = 0u;
  loop {
    let w = min(${CHUNK}u, Ev - c0);
    var acc: array<f32, ${CHUNK}>;
    m = ninf();
    l = 0.0;
    for (var j0 = 0u; j0 < kEnd; j0 += ${TILE}u) {
      let n = min(${TILE}u, kEnd - j0);
      var tmax = ninf();
      for (var t = 0u; t < n; t++) { sc[t] = score_of(qo, ko, mo, outer, j0 + t); tmax = max(tmax, sc[t]); }
      let mNew = max(m, tmax);
      // A tile that leaves the max at −∞ has no key to attend to.
      if (is_ninf(mNew)) { continue; }
      let alpha = select(exp(m - mNew), 0.0, is_ninf(m));
      l *= alpha;
      for (var c = 0u; c < w; c++) { acc[c] *= alpha; }
      for (var t = 0u; t < n; t++) {
        let p = exp(sc[t] - mNew);
        l += p;
        let pz = p * drop_of(zo, outer, j0 + t);
        if (pz == 0.0) { continue; }
        let va = ${elemL('v', 'vo', 'j0 + t', 'c0')};
        for (var c = 0u; c < w; c++) { acc[c] += pz * v[va + i32(c) * vc]; }
      }
      m = mNew;
    }
    for (var c = 0u; c < w; c++) { out[ob + c0 + c] = select(acc[c] / l, 0.0, l == 0.0); }
    c0 += ${CHUNK}u;
    if (c0 >= Ev) { break; }
  }
  if (l == 0.0) { lse[batch * L + outer] = inf_f32(); return; }
  lse[batch * L + outer] = m + log(l);
}`;
    },
  };
}

/** The kinds of backward kernel: the row stats (lse, D), then dQ per query row, dK and dV per key row. */
export type BackwardKind = 'stats' | 'dq' | 'dk' | 'dv' | 'dkv';

/** The key-row kernels a backward runs: dK and dV in one (`dkv`, sharing the weights) where its bindings fit in 8. */
export function keyKernels(mask: MaskKind, dropout: boolean): BackwardKind[] {
  return mask !== 'none' && dropout ? ['dk', 'dv'] : ['dkv'];
}

/** The word after the batch strides: the logsumexp view's offset (the stats kernel's). */
export const lseWord = (kr: number) => BATCH_AT + kr * (1 + OPERANDS.length);

/**
 * The operands each backward kernel binds, in binding order (at most 8 storage buffers, WebGPU's
 * default per stage, which is why dK and dV are two kernels), then what it writes.
 */
export function backwardBindings(kind: BackwardKind, mask: MaskKind, dropout: boolean): string[] {
  const masked = [...(mask === 'none' ? [] : ['mask']), ...(dropout ? ['z'] : [])];
  if (kind === 'stats') return ['o', 'g', 'lse', 'st'];
  if (kind === 'dv') return ['q', 'k', ...masked, 'g', 'st', 'dv'];
  if (kind === 'dkv') return ['q', 'k', 'v', ...masked, 'g', 'st', 'dk', 'dv'];
  return ['q', 'k', 'v', ...masked, 'g', 'st', kind];
}

/** The uniform of a backward kernel: the forward's, with out and grad, and the logsumexp's offset. */
export function attentionBackwardMeta<S>(a: GArgs<S> & { out: View<S>; grad: View<S>; logsumexp: View<S> }, rows: number, f32Bits: (x: number) => number): number[] {
  return [...attentionMeta(a, rows, f32Bits, { out: a.out, grad: a.grad }), a.logsumexp.offset];
}

/**
 * One backward kernel (FlashAttention-2's, one row per invocation): `stats` writes st[2r] = lse
 * and st[2r + 1] = D = rowsum(dO∘O) per query row r; `dq` sums dS·k·scale over the query row's
 * keys; `dk` and `dv` sum dSᵀ·q·scale and (P∘Z)ᵀ·dO over the key row's queries, with the
 * weights P = exp(s − lse) recomputed and dS = P∘(Z∘(dO·vᵀ) − D); `dkv` sums both from one
 * computation of the weights. Outputs are contiguous.
 */
export function attentionBackwardKernel(kind: BackwardKind, kr: number, mask: MaskKind, dropout: boolean): KernelSource {
  const metaVec4 = metaSize(lseWord(kr) + 1);
  const types: Record<string, string> = { mask: mask === 'int' ? 'i32' : 'f32' };
  const written = new Set(['st', 'dq', 'dk', 'dv']);
  const decl = bindings(backwardBindings(kind, mask, dropout).map((n) => [n, types[n] ?? 'f32', written.has(n)]));
  const dp = (i: string, j: string) => `var dp = 0.0;
      let ga = ${elemL('g', 'go', i, '0')};
      let va = ${elemL('v', 'vo', j, '0')};
      for (var c = 0; c < i32(Ev); c++) { dp += g[ga + c * gc] * v[va + c * vc]; }`;
  /** Passes over the output row's columns `width`, CHUNK at a time, summing `body` into acc and writing it to `dst` from `at`. */
  const chunked = (width: string, dst: string, body: string) => `  for (var c0 = 0u; c0 < ${width}; c0 += ${CHUNK}u) {
    let w = min(${CHUNK}u, ${width} - c0);
    var acc: array<f32, ${CHUNK}>;
${body}
    for (var c = 0u; c < w; c++) { ${dst}[at + c0 + c] = acc[c]; }
  }`;
  /** The loop over the query rows i of key row `outer`, with p and z of (i, outer) in scope. */
  const overQueries = (body: string) => `    var i0 = 0u;
    if (causal) { i0 = outer; }
    for (var i = i0; i < L; i++) {
      let r = batch * L + i;
      let lse = st[2u * r];
      if (lse == inf_f32()) { continue; }
      let p = exp(score_of(qo, ko, mo, i, outer) - lse);
      if (p == 0.0) { continue; }
      let z = drop_of(zo, i, outer);
      ${body}
    }`;
  const bodies: Record<BackwardKind, string> = {
    stats: `  let r = batch * L + outer;
  var d = 0.0;
  for (var c = 0u; c < Ev; c++) { d += g[${elem('g', 'go', 'outer', 'c')}] * o[${elem('o', 'oo', 'outer', 'c')}]; }
  st[2u * r] = lse[S(${lseWord(kr)}u) + i32(r)];
  st[2u * r + 1u] = d;`,
    dq: `${strideLets(['g', 'v', 'k'])}
  let r = batch * L + outer;
  let at = (batch * L + outer) * E;
  let lse = st[2u * r];
  var kEnd = S_;
  if (causal && outer + 1u < S_) { kEnd = outer + 1u; }
  // A row that attends nowhere has no gradient.
  if (lse == inf_f32()) { kEnd = 0u; }
${chunked('E', 'dq', `    for (var j = 0u; j < kEnd; j++) {
      let p = exp(score_of(qo, ko, mo, outer, j) - lse);
      if (p == 0.0) { continue; }
      let z = drop_of(zo, outer, j);
      ${dp('outer', 'j')}
      let ds = p * (z * dp - st[2u * r + 1u]) * scale;
      let ka = ${elemL('k', 'ko', 'j', 'c0')};
      for (var c = 0u; c < w; c++) { acc[c] += ds * k[ka + i32(c) * kc]; }
    }`)}`,
    dk: `${strideLets(['g', 'v', 'q'])}
  let at = (batch * S_ + outer) * E;
${chunked('E', 'dk', overQueries(`${dp('i', 'outer')}
      let ds = p * (z * dp - st[2u * r + 1u]) * scale;
      let qa = ${elemL('q', 'qo', 'i', 'c0')};
      for (var c = 0u; c < w; c++) { acc[c] += ds * q[qa + i32(c) * qc]; }`))}`,
    dv: `${strideLets(['g'])}
  let at = (batch * S_ + outer) * Ev;
${chunked('Ev', 'dv', overQueries(`let ga = ${elemL('g', 'go', 'i', 'c0')};
      for (var c = 0u; c < w; c++) { acc[c] += p * z * g[ga + i32(c) * gc]; }`))}`,
    dkv: `${strideLets(['g', 'v', 'q'])}
  let atk = (batch * S_ + outer) * E;
  let atv = (batch * S_ + outer) * Ev;
  for (var c0 = 0u; c0 < max(E, Ev); c0 += ${CHUNK}u) {
    let wk = select(0u, min(${CHUNK}u, E - c0), c0 < E);
    let wv = select(0u, min(${CHUNK}u, Ev - c0), c0 < Ev);
    var acc: array<f32, ${CHUNK}>;
    var accv: array<f32, ${CHUNK}>;
${overQueries(`${dp('i', 'outer')}
      let ds = p * (z * dp - st[2u * r + 1u]) * scale;
      let qa = ${elemL('q', 'qo', 'i', 'c0')};
      for (var c = 0u; c < wk; c++) { acc[c] += ds * q[qa + i32(c) * qc]; }
      let gv = ${elemL('g', 'go', 'i', 'c0')};
      for (var c = 0u; c < wv; c++) { accv[c] += p * z * g[gv + i32(c) * gc]; }`)}
    for (var c = 0u; c < wk; c++) { dk[atk + c0 + c] = acc[c]; }
    for (var c = 0u; c < wv; c++) { dv[atv + c0 + c] = accv[c]; }
  }`,
  };
  return {
    key: keyOf(`backward-${kind}`, kr, mask, dropout),
    metaVec4,
    code: () => `${prelude(metaVec4)}
${decl}
${kind === 'stats' ? '' : helpers(mask, dropout, kind === 'dq' ? 'q' : 'k')}
${prologue(kr, kind === 'stats' || kind === 'dq' ? 'L' : 'S_')}
${kind === 'stats' ? '' : loadFixed(kind === 'dq' ? 'q' : 'k')}
${bodies[kind]}
}`,
  };
}

/** Rows of the forward's dispatch and its uniform. */
export function attentionRows<S>(a: GArgs<S>): number {
  return sizeOf(a.query.shape.slice(0, -1));
}
