import { type Code, Fn, ctl, f32, f32x4, forLoop, i32, i32x4, ifElse, v128 } from './emitter.js';
import { Splats, expInto } from './elementwise.js';

/*
 * Scaled dot-product attention in float32 SIMD, FlashAttention's way: query rows meet the keys
 * in tiles of TILE, the tile's scores go to a small buffer, and a running max m and sum l (the
 * online softmax) rescale each row's accumulator whenever a tile raises its max, so nothing of
 * size L·S is ever stored. The backward recomputes each tile's weights exp(s − lse) from q, k
 * and the forward's row logsumexp (FlashAttention-2's backward).
 *
 * Head dims are small (16 to 128), so a dot product along one is mostly loop overhead and a
 * horizontal sum. Each call therefore first transposes k (and, backward, v) into its buffer,
 * [E, S] with rows of S rounded up to 4 and zero-padded, and query rows go ROWS at a time, also
 * transposed ([E, ROWS]): four keys' scores for a row are one vector, summed over e as
 * q[e]·kᵀ[e, j..j+4], and each vector of kᵀ loaded serves every row of the block. Weighted sums
 * over keys (p·v, dS·k) hold a vector of the head dim per row in registers while the tile's
 * keys are added in, each row of v or k loaded once for the block. The backward's dk and dv
 * gather transposed in the buffer, four keys a vector, and are transposed out at the end.
 *
 * Addresses and row strides are in bytes; rows of q, k, v, the output and the gradients are
 * contiguous with E and Ev multiples of 4 (the caller checks). The mask, float (added) or int32
 * (0 hides the key), and the dropout multipliers are read one element at a time through their
 * row and column strides; an address of 0 means none. A block's rows past L repeat row L − 1 in
 * the vector work, with weights of zero, and nothing of theirs is stored.
 */

/** Keys per tile: a row's score buffer is TILE floats. */
export const TILE = 64;

/** Query rows taken at a time: each vector of kᵀ, vᵀ and row of k, v loaded serves all of them. */
export const ROWS = 4;

/** S rounded up to whole vectors: the row length of the transposed operands. */
const padded = (S: number) => Math.ceil(S / 4) * 4;

/** Bytes of the forward's buffer per thread: the block rows' tile scores, accumulators and stats (max, sum, the max their weights subtract), q transposed, kᵀ. */
export const forwardBufBytes = (S: number, E: number, Ev: number) => (ROWS * (TILE + Ev + 3 + E) + E * padded(S)) * 4;

/**
 * Bytes of the backward's buffer per thread: the block rows' tile weights, dropout multipliers
 * and stats, q and dO transposed, a spare dq row for each, then kᵀ, vᵀ, dkᵀ and dvᵀ.
 */
export const backwardBufBytes = (S: number, E: number, Ev: number) => (ROWS * (2 * TILE + 2 + 2 * E + Ev) + 2 * (E + Ev) * padded(S)) * 4;

/** Scalar instructions the emitter's tables leave out, named as in the text format. */
const op = {
  f32Add: [0x92], f32Sub: [0x93], f32Mul: [0x94], f32Div: [0x95], f32Eq: [0x5b], f32Ne: [0x5c],
  i32Load: [0x28, 2, 0], i32And: [0x71],
} as const;

const NEG_INF = f32.const(-Infinity);
const R = ROWS;
const ZERO = v128.const_i32x4([0, 0, 0, 0]);

/** The parameters both kernels share, after their own operands. */
const SHARED = ['L', 'S', 'E', 'Ev', 'qs', 'ks', 'vs', 'mask', 'mrs', 'mcs', 'mint', 'drop', 'drs', 'dcs', 'causal', ['scale', 'f32'], 'buf'] as const;

/** A kernel under construction: its function, its splatted constants, and code helpers. */
function kernel(name: string, own: string[]) {
  const f = new Fn(name, [...own, ...SHARED]);
  f.locals('i32', 'i', 'i0', 'rb', 'r', 'j0', 'jj', 'n', 'kEnd', 'climit', 'kj', 'vj', 'e', 'drow', 'p1', 'p2', 'sp4', 'kt', 'qt', 'sr', 'st');
  f.locals('f32', 's');
  f.locals('v128', 'x', 'y', 'en', 'er', 'ep', 'lanes', 'sc4', 'kv', 'jv');
  const ys = Array.from({ length: R }, (_, r) => `y${r}`);
  f.locals('v128', ...ys);
  /** Each block row's exp scratch, so that the rows' exps are independent chains. */
  const rowExp = Array.from({ length: R }, (_, r) => ({ x: `x${r}`, e: { n: `en${r}`, r: `er${r}`, p: `ep${r}` } }));
  f.locals('v128', ...rowExp.flatMap(({ x, e }) => [x, e.n, e.r, e.p]));
  const k = new Splats(f);
  const g = (n: string) => f.get(n);
  /** The horizontal sum of the f32x4 local `v`. */
  const hsum = (v: string): Code => [
    ...g(v), ...f32x4.extract_lane(0), ...g(v), ...f32x4.extract_lane(1), ...op.f32Add,
    ...g(v), ...f32x4.extract_lane(2), ...op.f32Add, ...g(v), ...f32x4.extract_lane(3), ...op.f32Add,
  ];
  /** dst[0..bytes) = 0, a vector at a time (bytes a multiple of 16). */
  const zeroBytes = (dst: Code, bytes: Code): Code => forLoop(f, 'e', i32.const(0), bytes, 16, [...dst, ...g('e'), ...i32.add, ...ZERO, ...v128.store()]);
  /** Bytes of the tile's keys rounded up to whole vectors. */
  const nBytes: Code = [...g('n'), ...i32.const(3), ...i32.add, ...i32.const(-4), ...op.i32And, ...i32.const(4), ...i32.mul];
  /** The lanes of the key vector at jj that lie inside the tile (jj + lane < n). */
  const inTile: Code = [...g('lanes'), ...g('n'), ...g('jj'), ...i32.sub, ...i32x4.splat, ...i32x4.lt_s];
  /**
   * ys[r] = Σ_e rowsT[e·R + r]·t[e, j0 + jj + 0..4] over e < len: the block rows (transposed at
   * `rowsT`) against four keys of the transposed operand `t` (rows of sp4 bytes).
   */
  const blockDots = (rowsT: string, t: string, len: string): Code => [
    ...ys.flatMap((y) => f.set(y, ZERO)),
    ...f.set('p1', g(rowsT)),
    ...f.set('p2', g(t), g('j0'), g('jj'), i32.add, i32.const(4), i32.mul, i32.add),
    ...forLoop(f, 'e', i32.const(0), g(len), 1, [
      ...f.set('kv', g('p2'), v128.load()),
      ...ys.flatMap((y, r) => f.set(y, g(y), g('p1'), v128.load32_splat(4 * r), g('kv'), f32x4.mul, f32x4.add)),
      ...f.inc('p1', 4 * R),
      ...f.inc('p2', g('sp4')),
    ]),
  ];
  /**
   * The block rows' scores of keys j0 + jj + 0..4 into their rows of buf (TILE floats each):
   * scaled, −∞ past the tile and, causal, past each row's own position (climit + r).
   */
  const blockScores: Code = [
    ...blockDots('qt', 'kt', 'E'),
    ...f.set('jv', g('lanes'), g('j0'), g('jj'), i32.add, i32x4.splat, i32x4.add),
    ...ys.flatMap((y, r) => [
      ...g('buf'), ...g('jj'), ...i32.const(4), ...i32.mul, ...i32.add,
      ...g(y), ...g('sc4'), ...f32x4.mul, ...k.of(-Infinity),
      ...inTile, ...g('jv'), ...g('climit'), ...i32.const(r), ...i32.add, ...i32x4.splat, ...i32x4.lt_s, ...v128.and,
      ...v128.bitselect, ...v128.store(TILE * 4 * r),
    ]),
  ];
  /** Row i's mask added to its tile scores at sr. */
  const masked: Code = ifElse(g('mask'), forLoop(f, 'jj', i32.const(0), g('n'), 1, [
    ...f.set('vj', g('mask'), g('i'), g('mrs'), i32.mul, i32.add, g('j0'), g('jj'), i32.add, g('mcs'), i32.mul, i32.add),
    ...f.set('kj', g('sr'), g('jj'), i32.const(4), i32.mul, i32.add),
    ...f.set('s', g('kj'), f32.load()),
    ...ifElse(g('mint'),
      f.set('s', g('s'), NEG_INF, g('vj'), op.i32Load, ctl.select),
      f.set('s', g('s'), g('vj'), f32.load(), op.f32Add)),
    ...g('kj'), ...g('s'), ...f32.store(),
  ]));
  /**
   * For each block row r (the bound `rows`), with sr its row of buf and i = i0 + r: body.
   */
  const perRow = (rows: Code, body: Code): Code => forLoop(f, 'r', i32.const(0), rows, 1, [
    ...f.set('i', g('i0'), g('r'), i32.add),
    ...f.set('sr', g('buf'), g('r'), i32.const(TILE * 4), i32.mul, i32.add),
    ...body,
  ]);
  /**
   * accs[r] (f32x4 locals) over the tile's keys: for each vector of `len` at byte e, the rows'
   * addresses from `rowAt(r)`, += buf[r][jj]·row(j0 + jj) of `base` (rows `stride` bytes apart).
   */
  const weightedRows = (accs: string[], rowAt: (r: number) => Code, base: string, stride: string, len: string): Code =>
    forLoop(f, 'e', i32.const(0), [...g(len), ...i32.const(4), ...i32.mul], 16, [
      ...accs.flatMap((a, r) => f.set(a, rowAt(r), g('e'), i32.add, v128.load())),
      ...f.set('p1', g('buf')),
      ...f.set('p2', g(base), g('j0'), g(stride), i32.mul, i32.add, g('e'), i32.add),
      ...forLoop(f, 'jj', i32.const(0), g('n'), 1, [
        ...f.set('kv', g('p2'), v128.load()),
        ...accs.flatMap((a, r) => f.set(a, g(a), g('p1'), v128.load32_splat(TILE * 4 * r), g('kv'), f32x4.mul, f32x4.add)),
        ...f.inc('p1', 4),
        ...f.inc('p2', g(stride)),
      ]),
      ...accs.flatMap((a, r) => [...rowAt(r), ...g('e'), ...i32.add, ...g(a), ...v128.store()]),
    ]);
  /** `count` floats from src to dst (byte addresses), srcStep and dstStep bytes apart: one line of a transpose. */
  const copyLine = (src: Code, srcStep: Code, dst: Code, dstStep: Code, count: Code): Code => [
    ...f.set('p1', src), ...f.set('p2', dst),
    ...forLoop(f, 'e', i32.const(0), count, 1, [...g('p2'), ...g('p1'), ...f32.load(), ...f32.store(), ...f.inc('p1', srcStep), ...f.inc('p2', dstStep)]),
  ];
  /** to[c·sp4 + j·4] = from[j·stride + c·4] for j < S, c < cols, and zeros for S ≤ j < S rounded up to 4. */
  const transposeIn = (from: Code, stride: Code, cols: Code, to: Code): Code => [
    ...forLoop(f, 'j0', i32.const(0), g('S'), 1,
      copyLine([...from, ...g('j0'), ...stride, ...i32.mul, ...i32.add], i32.const(4), [...to, ...g('j0'), ...i32.const(4), ...i32.mul, ...i32.add], g('sp4'), cols)),
    ...forLoop(f, 'j0', g('S'), [...g('sp4'), ...i32.const(4), ...i32.div_u], 1, [
      ...f.set('p2', to, g('j0'), i32.const(4), i32.mul, i32.add),
      ...forLoop(f, 'e', i32.const(0), cols, 1, [...g('p2'), ...f32.const(0), ...f32.store(), ...f.inc('p2', g('sp4'))]),
    ]),
  ];
  /** The block rows i0 + r of `from` (rows `stride` bytes apart, `len` floats) transposed to to[e·R + r]; a row past L repeats row L − 1. */
  const transposeBlock = (from: Code, stride: Code, len: Code, to: Code): Code =>
    forLoop(f, 'r', i32.const(0), i32.const(R), 1, [
      ...f.set('i', g('i0'), g('r'), i32.add),
      ...ifElse([...g('i'), ...g('L'), ...i32.lt_s], [], f.set('i', g('L'), i32.const(1), i32.sub)),
      ...copyLine([...from, ...g('i'), ...stride, ...i32.mul, ...i32.add], i32.const(4), [...to, ...g('r'), ...i32.const(4), ...i32.mul, ...i32.add], i32.const(4 * R), len),
    ]);
  /** exp of the f32x4 on the stack. */
  const exp = (): Code => expInto(f, k, { n: 'en', r: 'er', p: 'ep' });
  /** sr[0..n rounded up to 4) = exp(sr − y) (one row; the backward's module has no room for four chains). */
  const expRow: Code = forLoop(f, 'jj', i32.const(0), nBytes, 16, [
    ...g('sr'), ...g('jj'), ...i32.add,
    ...g('sr'), ...g('jj'), ...i32.add, ...v128.load(), ...g('y'), ...f32x4.sub, ...exp(),
    ...v128.store(),
  ]);
  /**
   * Every block row's weights, buf[r][0..n rounded up to 4) = exp(buf[r] − y_r), with y_r
   * splatted from `yAt(r)` (+∞ gives zeros) and, given `sums`, each row's sum into sums[r]. The
   * four rows' exps are independent chains in one loop: one row's chain alone leaves the
   * CPU waiting on its latency.
   */
  const expRows = (yAt: (r: number) => Code, sums: string[] | null): Code => [
    ...ys.flatMap((y, r) => f.set(y, yAt(r))),
    ...(sums ? sums.flatMap((a) => f.set(a, ZERO)) : []),
    ...forLoop(f, 'jj', i32.const(0), nBytes, 16, ys.flatMap((y, r) => {
      const { x, e } = rowExp[r]!;
      return [
        ...f.set(x, g('buf'), g('jj'), i32.add, v128.load(TILE * 4 * r), g(y), f32x4.sub, expInto(f, k, e)),
        ...g('buf'), ...g('jj'), ...i32.add, ...g(x), ...v128.store(TILE * 4 * r),
        ...(sums ? f.set(sums[r]!, g(sums[r]!), g(x), f32x4.add) : []),
      ];
    })),
  ];
  /** The dropout multiplier of row i, key j0 + jj on the stack. */
  const dropAt: Code = [...g('drop'), ...g('i'), ...g('drs'), ...i32.mul, ...i32.add, ...g('j0'), ...g('jj'), ...i32.add, ...g('dcs'), ...i32.mul, ...i32.add, ...f32.load()];
  /** The block's rows (rb of them before L), its last key + 1 (causal: the block's last row's), and each row's causal limit climit + r. */
  const blockStart: Code = [
    ...f.set('rb', g('L'), g('i0'), i32.sub),
    ...ifElse([...g('rb'), ...i32.const(R), ...i32.lt_s], [], f.set('rb', i32.const(R))),
    ...f.set('kEnd', g('S')),
    ...ifElse([...g('causal'), ...g('i0'), ...i32.const(R), ...i32.add, ...g('S'), ...i32.lt_s, ...op.i32And], f.set('kEnd', g('i0'), i32.const(R), i32.add)),
    ...ifElse(g('causal'), f.set('climit', g('i0'), i32.const(1), i32.add), f.set('climit', g('S'))),
  ];
  /** The key loop in tiles: j0 from 0 to kEnd in steps of TILE, n keys each. */
  const tiles = (body: Code): Code =>
    forLoop(f, 'j0', i32.const(0), g('kEnd'), TILE, [
      ...f.set('n', g('kEnd'), g('j0'), i32.sub),
      ...ifElse([...g('n'), ...i32.const(TILE), ...i32.lt_s], [], f.set('n', i32.const(TILE))),
      ...body,
    ]);
  /** What every kernel sets first: lane numbers, the scale in every lane, the transposed rows' stride, where kᵀ starts. */
  const start = (kt: Code): Code => [
    ...f.set('lanes', v128.const_i32x4([0, 1, 2, 3])),
    ...f.set('sc4', g('scale'), f32x4.splat),
    ...f.set('sp4', g('S'), i32.const(3), i32.add, i32.const(-4), op.i32And, i32.const(4), i32.mul),
    ...f.set('kt', kt),
  ];
  /** The f32 at st[r] (offset 0) or st[R + r] (offset 4R). */
  const stat = (offset: number): Code => [...g('st'), ...g('r'), ...i32.const(4), ...i32.mul, ...i32.add, ...f32.load(offset)];
  const setStat = (offset: number, value: Code): Code => [...g('st'), ...g('r'), ...i32.const(4), ...i32.mul, ...i32.add, ...value, ...f32.store(offset)];
  return {
    f, k, g, ys, hsum, zeroBytes, nBytes, inTile, blockDots, blockScores, masked, perRow, weightedRows, transposeIn, transposeBlock,
    exp, expRow, expRows, dropAt, copyLine, blockStart, tiles, start, stat, setStat,
  };
}

/**
 * attn_fwd(q, k, v, o, stats, …shared): o [L, Ev] (contiguous) = softmax(q·kᵀ·scale + mask)·v
 * with dropout, and each row's running max and sum at stats[2i], stats[2i + 1] (sum 0 for a
 * row that attends nowhere, whose output is zeros). buf holds forwardBufBytes: the block rows'
 * tile scores, accumulators, maxes, sums and the maxes their weights subtract, q transposed, kᵀ.
 */
export function attentionForward(): { fn: Fn; body: Code } {
  const K = kernel('attn_fwd', ['q', 'k', 'v', 'o', 'stats']);
  const { f, g, hsum, zeroBytes, nBytes, blockScores, masked, perRow, weightedRows, transposeIn, transposeBlock, exp, expRows, dropAt, blockStart, tiles, start, stat, setStat } = K;
  f.locals('i32', 'acc', 'ar', 'oi', 'evb').locals('f32', 'm', 'mNew', 'l').locals('v128', 'm4');
  const as = Array.from({ length: R }, (_, r) => `a${r}`);
  f.locals('v128', ...as);
  /**
   * Row r's online softmax over the tile, before its exps: its max m raised by the tile's
   * scores, what the row has so far rescaled by e^(m − mNew), and at st[2R + r] the max its
   * weights subtract, +∞ (zero weights) where the tile leaves it nothing to attend to (exps of
   * −∞ − −∞ would be NaN).
   */
  const rowMax: Code = [
    ...f.set('ar', g('acc'), g('r'), g('evb'), i32.mul, i32.add),
    ...f.set('m', stat(0)),
    ...f.set('l', stat(4 * R)),
    ...masked,
    ...f.set('m4', K.k.of(-Infinity)),
    ...forLoop(f, 'jj', i32.const(0), nBytes, 16, [...f.set('m4', g('m4'), g('sr'), g('jj'), i32.add, v128.load(), f32x4.max)]),
    ...f.set('mNew', g('m'),
      g('m4'), f32x4.extract_lane(0), g('m4'), f32x4.extract_lane(1), f32.max, g('m4'), f32x4.extract_lane(2), f32.max, g('m4'), f32x4.extract_lane(3), f32.max,
      f32.max),
    ...ifElse([...g('mNew'), ...NEG_INF, ...op.f32Ne], [
      // Rescale what the row has so far by e^(m − mNew), unless the max is unchanged or the
      // row has nothing yet (m = −∞: its sum and accumulator are zeros), as in its first tile.
      ...ifElse([...g('m'), ...g('mNew'), ...op.f32Ne, ...g('m'), ...NEG_INF, ...op.f32Ne, ...op.i32And], [
        ...f.set('x', g('m'), g('mNew'), op.f32Sub, f32x4.splat, exp()),
        ...f.set('l', g('l'), g('x'), f32x4.extract_lane(0), op.f32Mul),
        ...f.set('x', g('x'), f32x4.extract_lane(0), f32x4.splat),
        ...forLoop(f, 'e', i32.const(0), g('evb'), 16, [
          ...g('ar'), ...g('e'), ...i32.add, ...g('ar'), ...g('e'), ...i32.add, ...v128.load(), ...g('x'), ...f32x4.mul, ...v128.store(),
        ]),
      ]),
      ...f.set('m', g('mNew')),
      ...setStat(8 * R, g('mNew')),
    ], setStat(8 * R, f32.const(Infinity))),
    ...setStat(0, g('m')),
    ...setStat(4 * R, g('l')),
  ];
  /** After the exps: each row's sum joins l (rows with zero weights add 0), and dropout scales the weights after their sum. */
  const rowSums: Code = [
    ...as.flatMap((a, r) => [...g('st'), ...g('st'), ...f32.load(4 * R + 4 * r), ...hsum(a), ...op.f32Add, ...f32.store(4 * R + 4 * r)]),
    ...ifElse(g('drop'), perRow(g('rb'), forLoop(f, 'jj', i32.const(0), g('n'), 1, [
      ...f.set('kj', g('sr'), g('jj'), i32.const(4), i32.mul, i32.add),
      ...g('kj'), ...g('kj'), ...f32.load(), ...dropAt, ...op.f32Mul, ...f32.store(),
    ]))),
  ];
  const tile: Code = [
    ...forLoop(f, 'jj', i32.const(0), g('n'), 4, blockScores),
    ...perRow(i32.const(R), ifElse([...g('r'), ...g('rb'), ...i32.lt_s], rowMax, setStat(8 * R, f32.const(Infinity)))),
    ...expRows((r) => [...g('st'), ...v128.load32_splat(8 * R + 4 * r)], as),
    ...rowSums,
    // every block row's accumulator += its weights · the tile's rows of v
    ...weightedRows(as, (r) => [...g('acc'), ...g('evb'), ...i32.const(r), ...i32.mul, ...i32.add], 'v', 'vs', 'Ev'),
  ];
  const block: Code = [
    ...blockStart,
    ...zeroBytes(g('acc'), [...g('evb'), ...i32.const(R), ...i32.mul]),
    ...forLoop(f, 'r', i32.const(0), i32.const(R), 1, [...setStat(0, NEG_INF), ...setStat(4 * R, f32.const(0))]),
    ...transposeBlock(g('q'), g('qs'), g('E'), g('qt')),
    ...tiles(tile),
    // o = acc / l (acc is all zeros when l is 0), and the rows' stats
    ...perRow(g('rb'), [
      ...f.set('l', stat(4 * R)),
      ...f.set('x', f32.const(0), f32.const(1), g('l'), op.f32Div, g('l'), f32.const(0), op.f32Eq, ctl.select, f32x4.splat),
      ...f.set('ar', g('acc'), g('r'), g('evb'), i32.mul, i32.add),
      ...f.set('oi', g('o'), g('i'), g('evb'), i32.mul, i32.add),
      ...forLoop(f, 'e', i32.const(0), g('evb'), 16, [
        ...g('oi'), ...g('e'), ...i32.add, ...g('ar'), ...g('e'), ...i32.add, ...v128.load(), ...g('x'), ...f32x4.mul, ...v128.store(),
      ]),
      ...g('stats'), ...g('i'), ...i32.const(8), ...i32.mul, ...i32.add, ...stat(0), ...f32.store(),
      ...g('stats'), ...g('i'), ...i32.const(8), ...i32.mul, ...i32.add, ...g('l'), ...f32.store(4),
    ]),
  ];
  const body = [
    ...f.set('evb', g('Ev'), i32.const(4), i32.mul),
    ...f.set('acc', g('buf'), i32.const(R * TILE * 4), i32.add),
    ...f.set('st', g('acc'), g('evb'), i32.const(R), i32.mul, i32.add),
    ...f.set('qt', g('st'), i32.const(3 * R * 4), i32.add),
    ...start([...g('qt'), ...g('E'), ...i32.const(R * 4), ...i32.mul, ...i32.add]),
    ...transposeIn(g('k'), g('ks'), g('E'), g('kt')),
    ...forLoop(f, 'i0', i32.const(0), g('L'), R, block),
  ];
  return { fn: f, body: [...K.k.prologue, ...body] };
}

/**
 * attn_bwd(q, k, v, o, go, lse, dq, dk, dv, os, gs, …shared): dq [L, E] = dS·k·scale,
 * dk [S, E] = dSᵀ·q·scale and dv [S, Ev] = (P∘Z)ᵀ·dO (all contiguous; dq zeroed beforehand),
 * with P = exp(s − lse) recomputed per tile, D = rowsum(dO∘O) and dS = P∘(Z∘(dO·vᵀ) − D). A row
 * whose lse is +∞ attends nowhere and adds nothing. buf holds backwardBufBytes: the block rows'
 * tile weights and dropout multipliers, (lse, D) pairs, q and dO transposed, spare dq rows, kᵀ,
 * vᵀ, dkᵀ, dvᵀ.
 */
export function attentionBackward(): { fn: Fn; body: Code } {
  const K = kernel('attn_bwd', ['q', 'k', 'v', 'o', 'go', 'lse', 'dq', 'dk', 'dv', 'os', 'gs']);
  const { f, g, ys, hsum, inTile, copyLine, blockDots, blockScores, masked, perRow, weightedRows, transposeIn, transposeBlock, expRow, dropAt, blockStart, tiles, start, setStat } = K;
  f.locals('i32', 'zb', 'gt', 'dqs', 'vt', 'dkt', 'dvt', 'oi', 'gi', 'w');
  const as = Array.from({ length: R }, (_, r) => `a${r}`);
  f.locals('v128', ...as, 'z4', 'p4');
  const lt = (a: Code, b: Code): Code => [...a, ...b, ...i32.lt_s];
  /** body twice, in a loop (one copy of its code): `a(x, y)` is local x the first time, y the second. */
  const pairs = (body: (a: (x: string, y: string) => Code) => Code): Code =>
    forLoop(f, 'w', i32.const(0), i32.const(2), 1, body((x, y) => [...g(x), ...g(y), ...g('w'), ...i32.eqz, ...ctl.select]));
  /** Row i0 + r's dq row, or its spare row in buf when i0 + r ≥ L. */
  const dqRow = (r: number): Code => [
    ...g('dq'), ...g('i0'), ...i32.const(r), ...i32.add, ...g('E'), ...i32.mul, ...i32.const(4), ...i32.mul, ...i32.add,
    ...g('dqs'), ...g('E'), ...i32.const(4 * r), ...i32.mul, ...i32.add,
    ...lt([...g('i0'), ...i32.const(r), ...i32.add], g('L')), ...ctl.select,
  ];
  /** t[e, j0 + jj + 0..4] += Σ_r rowsT[e·R + r]·as[r] for e < len: the block's rank-R update of four keys of a transposed gradient. */
  const updateT = (t: string, rowsT: string, len: string): Code => [
    ...f.set('p1', g(rowsT)),
    ...f.set('p2', g(t), g('j0'), g('jj'), i32.add, i32.const(4), i32.mul, i32.add),
    ...forLoop(f, 'e', i32.const(0), g(len), 1, [
      ...g('p2'),
      ...g('p2'), ...v128.load(),
      ...as.flatMap((a, r) => [...g('p1'), ...v128.load32_splat(4 * r), ...g(a), ...f32x4.mul, ...f32x4.add]),
      ...v128.store(),
      ...f.inc('p1', 4 * R),
      ...f.inc('p2', g('sp4')),
    ]),
  ];
  /** The f32x4 at row r, key vector jj (its byte offset in vj) of the per-row buffer at `base`. */
  const at = (base: string, r: number): Code => [...g(base), ...g('vj'), ...i32.add, ...v128.load(TILE * 4 * r)];
  const store = (base: string, r: number, value: Code): Code => [...g(base), ...g('vj'), ...i32.add, ...value, ...v128.store(TILE * 4 * r)];
  // Four keys: dp = dO·vᵀ (ys), then per row pz = p·z and ds = p·(z·dp − D)·scale (zero past the tile) over buf's weights and zb's multipliers; dvᵀ += dOᵀ·pz, dkᵀ += qᵀ·ds.
  const keys: Code = [
    ...blockDots('gt', 'vt', 'Ev'),
    ...f.set('vj', g('jj'), i32.const(4), i32.mul),
    ...ys.flatMap((y, r) => [
      ...f.set('p4', at('buf', r)),
      ...f.set('z4', K.k.of(1)),
      ...ifElse(g('drop'), f.set('z4', at('zb', r))),
      ...store('zb', r, [...g('p4'), ...g('z4'), ...f32x4.mul, ...ZERO, ...inTile, ...v128.bitselect]),
      ...store('buf', r, [
        ...g('p4'), ...g('z4'), ...g(y), ...f32x4.mul, ...g('st'), ...v128.load32_splat(4 * R + 4 * r), ...f32x4.sub, ...f32x4.mul, ...g('sc4'), ...f32x4.mul,
        ...ZERO, ...inTile, ...v128.bitselect,
      ]),
    ]),
    ...as.flatMap((a, r) => f.set(a, at('zb', r))),
    ...updateT('dvt', 'gt', 'Ev'),
    ...as.flatMap((a, r) => f.set(a, at('buf', r))),
    ...updateT('dkt', 'qt', 'E'),
  ];
  const weights: Code = [
    ...ifElse(lt(g('r'), g('rb')), masked),
    ...f.set('y', g('st'), g('r'), i32.const(4), i32.mul, i32.add, v128.load32_splat()),
    ...expRow,
    // the dropout multipliers; zeros for a row past L, whose weights are zeros too
    ...ifElse(g('drop'), forLoop(f, 'jj', i32.const(0), g('n'), 1, [
      ...f.set('kj', g('zb'), g('r'), i32.const(TILE * 4), i32.mul, i32.add, g('jj'), i32.const(4), i32.mul, i32.add),
      ...ifElse(lt(g('r'), g('rb')), [...g('kj'), ...dropAt, ...f32.store()], [...g('kj'), ...f32.const(0), ...f32.store()]),
    ])),
  ];
  const tile: Code = [
    ...forLoop(f, 'jj', i32.const(0), g('n'), 4, blockScores),
    ...perRow(i32.const(R), weights),
    ...forLoop(f, 'jj', i32.const(0), g('n'), 4, keys),
    // dq_i += Σ ds_j·k_j, from the ds the keys left in buf
    ...weightedRows(as, dqRow, 'k', 'ks', 'E'),
  ];
  // each row's lse (+∞ past L: no weight) and D = dO_i·O_i
  const rowStats = perRow(i32.const(R), ifElse(lt(g('r'), g('rb')), [
    ...setStat(0, [...g('lse'), ...g('i'), ...i32.const(4), ...i32.mul, ...i32.add, ...f32.load()]),
    ...f.set('oi', g('o'), g('i'), g('os'), i32.mul, i32.add),
    ...f.set('gi', g('go'), g('i'), g('gs'), i32.mul, i32.add),
    ...f.set('y', ZERO),
    ...forLoop(f, 'e', i32.const(0), [...g('Ev'), ...i32.const(4), ...i32.mul], 16, [
      ...f.set('y', g('y'), g('gi'), g('e'), i32.add, v128.load(), g('oi'), g('e'), i32.add, v128.load(), f32x4.mul, f32x4.add),
    ]),
    ...setStat(4 * R, hsum('y')),
  ], [...setStat(0, f32.const(Infinity)), ...setStat(4 * R, f32.const(0))]));
  const block: Code = [
    ...blockStart,
    ...rowStats,
    ...pairs((a) => transposeBlock(a('q', 'go'), a('qs', 'gs'), a('E', 'Ev'), a('qt', 'gt'))),
    ...tiles(tile),
  ];
  /** The contiguous rows [S, cols] at `to` = the transposed `from` (rows of sp4 bytes). */
  const transposeOut = (from: Code, cols: Code, to: Code): Code =>
    forLoop(f, 'j0', i32.const(0), g('S'), 1,
      copyLine([...from, ...g('j0'), ...i32.const(4), ...i32.mul, ...i32.add], g('sp4'), [...to, ...g('j0'), ...cols, ...i32.mul, ...i32.const(4), ...i32.mul, ...i32.add], i32.const(4), cols));
  const size = (cols: string): Code => [...g(cols), ...g('sp4'), ...i32.mul];
  const body = [
    ...f.set('zb', g('buf'), i32.const(R * TILE * 4), i32.add),
    ...f.set('st', g('zb'), i32.const(R * TILE * 4), i32.add),
    ...f.set('qt', g('st'), i32.const(2 * R * 4), i32.add),
    ...f.set('gt', g('qt'), g('E'), i32.const(R * 4), i32.mul, i32.add),
    ...f.set('dqs', g('gt'), g('Ev'), i32.const(R * 4), i32.mul, i32.add),
    ...start([...g('dqs'), ...g('E'), ...i32.const(R * 4), ...i32.mul, ...i32.add]),
    ...f.set('vt', g('kt'), size('E'), i32.add),
    ...f.set('dkt', g('vt'), size('Ev'), i32.add),
    ...f.set('dvt', g('dkt'), size('E'), i32.add),
    ...pairs((a) => transposeIn(a('k', 'v'), a('ks', 'vs'), a('E', 'Ev'), a('kt', 'vt'))),
    // dkᵀ and dvᵀ start at zero
    ...forLoop(f, 'e', g('dkt'), [...g('dvt'), ...size('Ev'), ...i32.add], 16, [...g('e'), ...ZERO, ...v128.store()]),
    ...forLoop(f, 'i0', i32.const(0), g('L'), R, block),
    ...pairs((a) => transposeOut(a('dkt', 'dvt'), a('E', 'Ev'), a('dk', 'dv'))),
  ];
  return { fn: f, body: [...K.k.prologue, ...body] };
}
