import { type Code, Fn, ctl, f32, f32x4, forLoop, i32, i32x4, ifElse, v128 } from './emitter.js';
import { Splats, expInto } from './elementwise.js';

/*
 * Scaled dot-product attention in float32 SIMD, FlashAttention's way: each query row meets the
 * keys in tiles of TILE, the tile's scores go to a small buffer, and a running max m and sum l
 * (the online softmax) rescale the row's accumulator whenever a tile raises the max, so nothing
 * of size L·S is ever stored. The backward recomputes each tile's weights exp(s − lse) from q, k
 * and the forward's row logsumexp (FlashAttention-2's backward, one query row per tile).
 *
 * Head dims are small (16 to 128), so a dot product along one is mostly loop overhead and a
 * horizontal sum. Each call therefore first transposes k (and, backward, v) into its buffer,
 * [E, S] with rows of S rounded up to 4 and zero-padded: four keys' scores are then one vector,
 * summed over e as q[e]·kᵀ[e, j..j+4]. The forward takes ROWS query rows at a time, so each
 * vector of kᵀ and each row of v it loads serves all of them. Weighted sums over keys (p·v,
 * ds·k) run along the head dim, a vector of it per row held in a register while the tile's
 * keys are added in. The backward's dk and dv gather as dkᵀ and dvᵀ in the buffer,
 * four keys a vector, and are transposed out at the end.
 *
 * Addresses and row strides are in bytes; rows of q, k, v, the output and the gradients are
 * contiguous with E and Ev multiples of 4 (the caller checks). The mask, float (added) or int32
 * (0 hides the key), and the dropout multipliers are read one element at a time through their
 * row and column strides; an address of 0 means none.
 */

/** Keys per tile: the score buffer is TILE floats. */
export const TILE = 64;

/** Query rows the forward takes at a time: each key vector loaded serves all of them. */
export const ROWS = 4;

/** S rounded up to whole vectors: the row length of the transposed operands. */
const padded = (S: number) => Math.ceil(S / 4) * 4;

/** Bytes of the forward's buffer per thread: each block row's tile scores, accumulator and stats, q transposed, kᵀ. */
export const forwardBufBytes = (S: number, E: number, Ev: number) => (ROWS * (TILE + Ev + 2 + E) + E * padded(S)) * 4;

/** Bytes of the backward's buffer per thread: the tile's weights and dropout multipliers, kᵀ, vᵀ, dkᵀ and dvᵀ. */
export const backwardBufBytes = (S: number, E: number, Ev: number) => (2 * TILE + 2 * (E + Ev) * padded(S)) * 4;

/** Scalar instructions the emitter's tables leave out, named as in the text format. */
const op = {
  f32Add: [0x92], f32Sub: [0x93], f32Mul: [0x94], f32Div: [0x95], f32Eq: [0x5b], f32Ne: [0x5c],
  i32Load: [0x28, 2, 0], i32Ne: [0x47], i32And: [0x71], i32Or: [0x72],
} as const;

const NEG_INF = f32.const(-Infinity);

/** The parameters both kernels share, after their own operands. */
const SHARED = ['L', 'S', 'E', 'Ev', 'qs', 'ks', 'vs', 'mask', 'mrs', 'mcs', 'mint', 'drop', 'drs', 'dcs', 'causal', ['scale', 'f32'], 'buf'] as const;

/** A kernel under construction: its function, its splatted constants, and code helpers. */
function kernel(name: string, own: string[]) {
  const f = new Fn(name, [...own, ...SHARED]);
  f.locals('i32', 'i', 'j0', 'jj', 'j', 'n', 'kEnd', 'qi', 'kj', 'vj', 'e', 'mrow', 'drow', 'p1', 'p2', 'sp4', 'kt');
  f.locals('f32', 's', 'p');
  f.locals('v128', 'x', 'y', 'sum4', 'en', 'er', 'ep', 'lanes', 'sc4');
  const k = new Splats(f);
  const g = (n: string) => f.get(n);
  /** The horizontal sum of the f32x4 local `v`. */
  const hsum = (v: string): Code => [
    ...g(v), ...f32x4.extract_lane(0), ...g(v), ...f32x4.extract_lane(1), ...op.f32Add,
    ...g(v), ...f32x4.extract_lane(2), ...op.f32Add, ...g(v), ...f32x4.extract_lane(3), ...op.f32Add,
  ];
  /** Σ a[e]·b[e] over `len` floats at the byte addresses in locals a and b, into the f32x4 local `into`. */
  const dot = (a: string, b: string, len: string, into: string): Code => [
    ...f.set(into, v128.const_i32x4([0, 0, 0, 0])),
    ...forLoop(f, 'e', i32.const(0), [...g(len), ...i32.const(4), ...i32.mul], 16, [
      ...f.set(into, g(into), g(a), g('e'), i32.add, v128.load(), g(b), g('e'), i32.add, v128.load(), f32x4.mul, f32x4.add),
    ]),
  ];
  /** The lanes of the key vector at jj that lie inside the tile (jj + lane < n). */
  const inTile: Code = [...g('lanes'), ...g('n'), ...g('jj'), ...i32.sub, ...i32x4.splat, ...i32x4.lt_s];
  /**
   * Four keys' sums Σ_e row[e]·t[e, j0 + jj + 0..4] over `len` (a multiple of 4) into `into`:
   * `row` a byte address, `t` a transposed operand (rows of sp4 bytes), four e per round.
   */
  const dotT = (row: string, t: string, len: string, into: string): Code => [
    ...f.set(into, v128.const_i32x4([0, 0, 0, 0])),
    ...f.set('p1', g(row)),
    ...f.set('p2', g(t), g('j0'), g('jj'), i32.add, i32.const(4), i32.mul, i32.add),
    ...forLoop(f, 'e', i32.const(0), g(len), 4, [
      ...[0, 4, 8, 12].flatMap((o) => [
        ...f.set(into, g(into), g('p1'), v128.load32_splat(o), g('p2'), v128.load(), f32x4.mul, f32x4.add),
        ...f.inc('p2', g('sp4')),
      ]),
      ...f.inc('p1', 16),
    ]),
  ];
  /** t[e, j0 + jj + 0..4] += row[e]·(the f32x4 local `by`) for e < len (a multiple of 4), four e per round: a rank-one update of four keys of a transposed gradient. */
  const updateT = (t: string, row: string, len: string, by: string): Code => [
    ...f.set('p1', g(row)),
    ...f.set('p2', g(t), g('j0'), g('jj'), i32.add, i32.const(4), i32.mul, i32.add),
    ...forLoop(f, 'e', i32.const(0), g(len), 4, [
      ...[0, 4, 8, 12].flatMap((o) => [
        ...g('p2'), ...g('p2'), ...v128.load(), ...g('p1'), ...v128.load32_splat(o), ...g(by), ...f32x4.mul, ...f32x4.add, ...v128.store(),
        ...f.inc('p2', g('sp4')),
      ]),
      ...f.inc('p1', 16),
    ]),
  ];
  /**
   * acc[0..len) += Σ over the tile's keys of buf[jj]·row(j0 + jj), rows of `base` `stride` bytes
   * apart: one vector of acc at a time, held while the keys are added in.
   */
  const weightedRows = (acc: Code, base: string, stride: string, len: string): Code =>
    forLoop(f, 'e', i32.const(0), [...g(len), ...i32.const(4), ...i32.mul], 16, [
      ...f.set('x', acc, g('e'), i32.add, v128.load()),
      ...f.set('p2', g(base), g('j0'), g(stride), i32.mul, i32.add, g('e'), i32.add),
      ...forLoop(f, 'jj', i32.const(0), g('n'), 1, [
        ...f.set('x', g('x'), g('buf'), g('jj'), i32.const(4), i32.mul, i32.add, v128.load32_splat(), g('p2'), v128.load(), f32x4.mul, f32x4.add),
        ...f.inc('p2', g(stride)),
      ]),
      ...acc, ...g('e'), ...i32.add, ...g('x'), ...v128.store(),
    ]);
  /** to[c·sp4 + j·4] = from[j·stride + c·4] for j < S, c < cols, and zeros for S ≤ j < S rounded up to 4. */
  const transposeIn = (from: string, stride: string, cols: string, to: string): Code =>
    forLoop(f, 'j', i32.const(0), [...g('S'), ...i32.const(3), ...i32.add, ...i32.const(-4), ...op.i32And], 1, [
      ...forLoop(f, 'e', i32.const(0), g(cols), 1, [
        ...f.set('s', f32.const(0)),
        ...ifElse([...g('j'), ...g('S'), ...i32.lt_s], f.set('s', g(from), g('j'), g(stride), i32.mul, i32.add, g('e'), i32.const(4), i32.mul, i32.add, f32.load())),
        ...g(to), ...g('e'), ...g('sp4'), ...i32.mul, ...i32.add, ...g('j'), ...i32.const(4), ...i32.mul, ...i32.add, ...g('s'), ...f32.store(),
      ]),
    ]);
  /** The contiguous rows [S, cols] at `to` = the transposed `from` (rows of sp4 bytes). */
  const transposeOut = (from: string, cols: string, to: string): Code =>
    forLoop(f, 'j', i32.const(0), g('S'), 1, [
      ...forLoop(f, 'e', i32.const(0), g(cols), 1, [
        ...g(to), ...g('j'), ...g(cols), ...i32.mul, ...g('e'), ...i32.add, ...i32.const(4), ...i32.mul, ...i32.add,
        ...g(from), ...g('e'), ...g('sp4'), ...i32.mul, ...i32.add, ...g('j'), ...i32.const(4), ...i32.mul, ...i32.add, ...f32.load(),
        ...f32.store(),
      ]),
    ]);
  /** exp of the f32x4 on the stack. */
  const exp = (): Code => expInto(f, k, { n: 'en', r: 'er', p: 'ep' });
  /** The row's setup: its query row, mask and dropout rows, and its last key + 1. */
  const rowStart: Code = [
    ...f.set('qi', g('q'), g('i'), g('qs'), i32.mul, i32.add),
    ...f.set('mrow', g('mask'), g('i'), g('mrs'), i32.mul, i32.add),
    ...f.set('drow', g('drop'), g('i'), g('drs'), i32.mul, i32.add),
    // causal: keys 0..i only
    ...f.set('kEnd', g('S')),
    ...ifElse([...g('causal'), ...g('i'), ...i32.const(1), ...i32.add, ...g('S'), ...i32.lt_s, ...op.i32And], f.set('kEnd', g('i'), i32.const(1), i32.add)),
  ];
  /**
   * The scores of keys j0..j0+n into buf (scaled, masked: −∞ where hidden), four keys at a time
   * from kᵀ, the rest of the tile's last vector −∞, so that exp gives 0 there.
   */
  const scoreTile: Code = [
    ...forLoop(f, 'jj', i32.const(0), g('n'), 4, [
      ...dotT('qi', 'kt', 'E', 'y'),
      ...g('buf'), ...g('jj'), ...i32.const(4), ...i32.mul, ...i32.add,
      ...g('y'), ...g('sc4'), ...f32x4.mul, ...k.of(-Infinity), ...inTile, ...v128.bitselect,
      ...v128.store(),
    ]),
    ...ifElse(g('mask'), forLoop(f, 'jj', i32.const(0), g('n'), 1, [
      // the mask element's address, mrow + j·mcs, in vj for the moment
      ...f.set('vj', g('mrow'), g('j0'), g('jj'), i32.add, g('mcs'), i32.mul, i32.add),
      ...f.set('kj', g('buf'), g('jj'), i32.const(4), i32.mul, i32.add),
      ...f.set('s', g('kj'), f32.load()),
      ...ifElse(g('mint'),
        f.set('s', g('s'), NEG_INF, g('vj'), op.i32Load, ctl.select),
        f.set('s', g('s'), g('vj'), f32.load(), op.f32Add)),
      ...g('kj'), ...g('s'), ...f32.store(),
    ])),
  ];
  /** base[0..n rounded up to 4) = exp(base − y), their sum into sum4. */
  const expTileAt = (base: string): Code => [
    ...f.set('sum4', v128.const_i32x4([0, 0, 0, 0])),
    ...forLoop(f, 'jj', i32.const(0), [...g('n'), ...i32.const(4), ...i32.mul], 16, [
      ...f.set('x', g(base), g('jj'), i32.add, v128.load(), g('y'), f32x4.sub, exp()),
      ...g(base), ...g('jj'), ...i32.add, ...g('x'), ...v128.store(),
      ...f.set('sum4', g('sum4'), g('x'), f32x4.add),
    ]),
  ];
  const expTile = expTileAt('buf');
  /** The key loop in tiles: j0 from 0 to kEnd in steps of TILE, n keys each. */
  const tiles = (body: Code): Code =>
    forLoop(f, 'j0', i32.const(0), g('kEnd'), TILE, [
      ...f.set('n', g('kEnd'), g('j0'), i32.sub),
      ...ifElse([...g('n'), ...i32.const(TILE), ...i32.lt_s], [], f.set('n', i32.const(TILE))),
      ...body,
    ]);
  /** The dropout multiplier of key j0 + jj (row drow) on the stack. */
  const dropAt: Code = [...g('drow'), ...g('j0'), ...g('jj'), ...i32.add, ...g('dcs'), ...i32.mul, ...i32.add, ...f32.load()];
  /** What every kernel sets first: constants, lane numbers, the scale in every lane, the transposed rows' stride. */
  const start = (kt: Code): Code => [
    ...f.set('lanes', v128.const_i32x4([0, 1, 2, 3])),
    ...f.set('sc4', g('scale'), f32x4.splat),
    ...f.set('sp4', g('S'), i32.const(3), i32.add, i32.const(-4), op.i32And, i32.const(4), i32.mul),
    ...f.set('kt', kt),
  ];
  return { f, k, g, hsum, dot, inTile, dotT, updateT, weightedRows, transposeIn, transposeOut, exp, rowStart, scoreTile, expTile, expTileAt, tiles, dropAt, start };
}

/**
 * attn_fwd(q, k, v, o, stats, …shared): o [L, Ev] (contiguous) = softmax(q·kᵀ·scale + mask)·v
 * with dropout, and each row's running max and sum at stats[2i], stats[2i + 1] (sum 0 for a
 * row that attends nowhere, whose output is zeros). Query rows go ROWS at a time: their scores
 * against four keys are four vectors from one vector of kᵀ, and each row of v is loaded once
 * for all of them. buf holds forwardBufBytes: each row's tile scores, accumulator and (max,
 * sum), the block's q transposed ([E, ROWS]), kᵀ.
 */
export function attentionForward(): { fn: Fn; body: Code } {
  const K = kernel('attn_fwd', ['q', 'k', 'v', 'o', 'stats']);
  const { f, g, k, hsum, expTileAt, dropAt, transposeIn, inTile, start } = K;
  f.locals('i32', 'i0', 'rb', 'r', 'acc', 'st', 'qt', 'sr', 'ar', 'oi', 'evb', 'climit').locals('f32', 'm', 'mNew', 'l').locals('v128', 'm4', 'kv', 'jv');
  const R = ROWS;
  const ys = Array.from({ length: R }, (_, r) => `y${r}`), as = Array.from({ length: R }, (_, r) => `a${r}`);
  f.locals('v128', ...ys, ...as);
  const zero = v128.const_i32x4([0, 0, 0, 0]);
  /** dst[0..bytes) = 0, a vector at a time (bytes a multiple of 16). */
  const zeroBytes = (dst: string, bytes: Code): Code => forLoop(f, 'e', i32.const(0), bytes, 16, [...g(dst), ...g('e'), ...i32.add, ...zero, ...v128.store()]);
  const nBytes: Code = [...g('n'), ...i32.const(3), ...i32.add, ...i32.const(-4), ...op.i32And, ...i32.const(4), ...i32.mul];
  /** Block rows' scores of keys j0 + jj + 0..4: ys from q transposed and one vector of kᵀ per e; then scaled, −∞ past the tile and (causal) past each row's own position. */
  const scores: Code = [
    ...ys.flatMap((y) => f.set(y, zero)),
    ...f.set('p1', g('qt')),
    ...f.set('p2', g('kt'), g('j0'), g('jj'), i32.add, i32.const(4), i32.mul, i32.add),
    ...forLoop(f, 'e', i32.const(0), g('E'), 1, [
      ...f.set('kv', g('p2'), v128.load()),
      ...ys.flatMap((y, r) => f.set(y, g(y), g('p1'), v128.load32_splat(4 * r), g('kv'), f32x4.mul, f32x4.add)),
      ...f.inc('p1', 4 * R),
      ...f.inc('p2', g('sp4')),
    ]),
    ...f.set('jv', g('lanes'), g('j0'), g('jj'), i32.add, i32x4.splat, i32x4.add),
    ...ys.flatMap((y, r) => [
      ...g('buf'), ...g('jj'), ...i32.const(4), ...i32.mul, ...i32.add,
      ...g(y), ...g('sc4'), ...f32x4.mul, ...k.of(-Infinity),
      ...inTile, ...g('jv'), ...g('climit'), ...i32.const(r), ...i32.add, ...i32x4.splat, ...i32x4.lt_s, ...v128.and,
      ...v128.bitselect, ...v128.store(TILE * 4 * r),
    ]),
  ];
  /** Row i0 + r's mask added to its tile scores (sr). */
  const masked: Code = ifElse(g('mask'), forLoop(f, 'jj', i32.const(0), g('n'), 1, [
    ...f.set('vj', g('mask'), g('i'), g('mrs'), i32.mul, i32.add, g('j0'), g('jj'), i32.add, g('mcs'), i32.mul, i32.add),
    ...f.set('kj', g('sr'), g('jj'), i32.const(4), i32.mul, i32.add),
    ...f.set('s', g('kj'), f32.load()),
    ...ifElse(g('mint'),
      f.set('s', g('s'), NEG_INF, g('vj'), op.i32Load, ctl.select),
      f.set('s', g('s'), g('vj'), f32.load(), op.f32Add)),
    ...g('kj'), ...g('s'), ...f32.store(),
  ]));
  /** Row r's online softmax over the tile: its weights into sr (zeros where it attends to nothing in the tile), its accumulator rescaled. */
  const rowSoftmax: Code = [
    ...f.set('i', g('i0'), g('r'), i32.add),
    ...f.set('drow', g('drop'), g('i'), g('drs'), i32.mul, i32.add),
    ...f.set('m', g('st'), g('r'), i32.const(4), i32.mul, i32.add, f32.load()),
    ...f.set('l', g('st'), g('r'), i32.const(4), i32.mul, i32.add, f32.load(4 * R)),
    ...masked,
    ...f.set('m4', k.of(-Infinity)),
    ...forLoop(f, 'jj', i32.const(0), nBytes, 16, [...f.set('m4', g('m4'), g('sr'), g('jj'), i32.add, v128.load(), f32x4.max)]),
    ...f.set('mNew', g('m'),
      g('m4'), f32x4.extract_lane(0), g('m4'), f32x4.extract_lane(1), f32.max, g('m4'), f32x4.extract_lane(2), f32.max, g('m4'), f32x4.extract_lane(3), f32.max,
      f32.max),
    // A tile that leaves the max at −∞ has no key to attend to: its weights are zeros (its exps would be NaN).
    ...ifElse([...g('mNew'), ...NEG_INF, ...op.f32Ne], [
      // Rescale what the row has so far by e^(m − mNew): 0 while m is −∞.
      ...f.set('x', g('m'), g('mNew'), op.f32Sub, f32x4.splat, K.exp()),
      ...f.set('l', g('l'), g('x'), f32x4.extract_lane(0), op.f32Mul),
      ...f.set('x', g('x'), f32x4.extract_lane(0), f32x4.splat),
      ...forLoop(f, 'e', i32.const(0), g('evb'), 16, [
        ...g('ar'), ...g('e'), ...i32.add, ...g('ar'), ...g('e'), ...i32.add, ...v128.load(), ...g('x'), ...f32x4.mul, ...v128.store(),
      ]),
      ...f.set('y', g('mNew'), f32x4.splat),
      ...expTileAt('sr'),
      ...f.set('l', g('l'), hsum('sum4'), op.f32Add),
      // dropout scales the weights after their sum
      ...ifElse(g('drop'), forLoop(f, 'jj', i32.const(0), g('n'), 1, [
        ...f.set('kj', g('sr'), g('jj'), i32.const(4), i32.mul, i32.add),
        ...g('kj'), ...g('kj'), ...f32.load(), ...dropAt, ...op.f32Mul, ...f32.store(),
      ])),
      ...f.set('m', g('mNew')),
    ], zeroBytes('sr', nBytes)),
    ...g('st'), ...g('r'), ...i32.const(4), ...i32.mul, ...i32.add, ...g('m'), ...f32.store(),
    ...g('st'), ...g('r'), ...i32.const(4), ...i32.mul, ...i32.add, ...g('l'), ...f32.store(4 * R),
  ];
  /** Every block row's accumulator += its weights · the tile's rows of v, one vector of Ev at a time. */
  const weighted: Code = forLoop(f, 'e', i32.const(0), g('evb'), 16, [
    ...as.flatMap((a, r) => f.set(a, g('acc'), g('e'), i32.add, g('evb'), i32.const(r), i32.mul, i32.add, v128.load())),
    ...f.set('p1', g('buf')),
    ...f.set('p2', g('v'), g('j0'), g('vs'), i32.mul, i32.add, g('e'), i32.add),
    ...forLoop(f, 'jj', i32.const(0), g('n'), 1, [
      ...f.set('kv', g('p2'), v128.load()),
      ...as.flatMap((a, r) => f.set(a, g(a), g('p1'), v128.load32_splat(TILE * 4 * r), g('kv'), f32x4.mul, f32x4.add)),
      ...f.inc('p1', 4),
      ...f.inc('p2', g('vs')),
    ]),
    ...as.flatMap((a, r) => [...g('acc'), ...g('e'), ...i32.add, ...g('evb'), ...i32.const(r), ...i32.mul, ...i32.add, ...g(a), ...v128.store()]),
  ]);
  const perRow = (body: Code, rows: Code): Code => forLoop(f, 'r', i32.const(0), rows, 1, [
    ...f.set('sr', g('buf'), g('r'), i32.const(TILE * 4), i32.mul, i32.add),
    ...f.set('ar', g('acc'), g('r'), g('evb'), i32.mul, i32.add),
    ...body,
  ]);
  const tile: Code = [
    ...f.set('n', g('kEnd'), g('j0'), i32.sub),
    ...ifElse([...g('n'), ...i32.const(TILE), ...i32.lt_s], [], f.set('n', i32.const(TILE))),
    ...forLoop(f, 'jj', i32.const(0), g('n'), 4, scores),
    // rows past L take part in the vector work above but not here: their weights are zeros
    ...perRow(ifElse([...g('r'), ...g('rb'), ...i32.lt_s], rowSoftmax, zeroBytes('sr', nBytes)), i32.const(R)),
    ...weighted,
  ];
  const block: Code = [
    ...f.set('rb', g('L'), g('i0'), i32.sub),
    ...ifElse([...g('rb'), ...i32.const(R), ...i32.lt_s], [], f.set('rb', i32.const(R))),
    // causal: keys up to the block's last row; each row's own limit is climit + r
    ...f.set('kEnd', g('S')),
    ...ifElse([...g('causal'), ...g('i0'), ...i32.const(R), ...i32.add, ...g('S'), ...i32.lt_s, ...op.i32And], f.set('kEnd', g('i0'), i32.const(R), i32.add)),
    ...ifElse(g('causal'), f.set('climit', g('i0'), i32.const(1), i32.add), f.set('climit', g('S'))),
    ...zeroBytes('acc', [...g('evb'), ...i32.const(R), ...i32.mul]),
    ...forLoop(f, 'r', i32.const(0), i32.const(R), 1, [
      ...g('st'), ...g('r'), ...i32.const(4), ...i32.mul, ...i32.add, ...NEG_INF, ...f32.store(),
      ...g('st'), ...g('r'), ...i32.const(4), ...i32.mul, ...i32.add, ...f32.const(0), ...f32.store(4 * R),
    ]),
    // q's block rows transposed, qt[e·R + r]; a row past L repeats the last one
    ...forLoop(f, 'r', i32.const(0), i32.const(R), 1, [
      ...f.set('i', g('i0'), g('r'), i32.add),
      ...ifElse([...g('i'), ...g('L'), ...i32.lt_s], [], f.set('i', g('L'), i32.const(1), i32.sub)),
      ...forLoop(f, 'e', i32.const(0), g('E'), 1, [
        ...g('qt'), ...g('e'), ...i32.const(R), ...i32.mul, ...g('r'), ...i32.add, ...i32.const(4), ...i32.mul, ...i32.add,
        ...g('q'), ...g('i'), ...g('qs'), ...i32.mul, ...i32.add, ...g('e'), ...i32.const(4), ...i32.mul, ...i32.add, ...f32.load(),
        ...f32.store(),
      ]),
    ]),
    ...forLoop(f, 'j0', i32.const(0), g('kEnd'), TILE, tile),
    // o = acc / l (acc is all zeros when l is 0), and the rows' stats
    ...perRow([
      ...f.set('i', g('i0'), g('r'), i32.add),
      ...f.set('l', g('st'), g('r'), i32.const(4), i32.mul, i32.add, f32.load(4 * R)),
      ...f.set('x', f32.const(0), f32.const(1), g('l'), op.f32Div, g('l'), f32.const(0), op.f32Eq, ctl.select, f32x4.splat),
      ...f.set('oi', g('o'), g('i'), g('evb'), i32.mul, i32.add),
      ...forLoop(f, 'e', i32.const(0), g('evb'), 16, [
        ...g('oi'), ...g('e'), ...i32.add, ...g('ar'), ...g('e'), ...i32.add, ...v128.load(), ...g('x'), ...f32x4.mul, ...v128.store(),
      ]),
      ...g('stats'), ...g('i'), ...i32.const(8), ...i32.mul, ...i32.add, ...g('st'), ...g('r'), ...i32.const(4), ...i32.mul, ...i32.add, ...f32.load(), ...f32.store(),
      ...g('stats'), ...g('i'), ...i32.const(8), ...i32.mul, ...i32.add, ...g('l'), ...f32.store(4),
    ], g('rb')),
  ];
  // buf: scores (R·TILE floats), accumulators (R·Ev), stats (2R), q transposed (E·R), kᵀ
  const body = [
    ...f.set('evb', g('Ev'), i32.const(4), i32.mul),
    ...f.set('acc', g('buf'), i32.const(R * TILE * 4), i32.add),
    ...f.set('st', g('acc'), g('evb'), i32.const(R), i32.mul, i32.add),
    ...f.set('qt', g('st'), i32.const(2 * R * 4), i32.add),
    ...start([...g('qt'), ...g('E'), ...i32.const(R * 4), ...i32.mul, ...i32.add]),
    ...transposeIn('k', 'ks', 'E', 'kt'),
    ...forLoop(f, 'i0', i32.const(0), g('L'), R, block),
  ];
  return { fn: f, body: [...K.k.prologue, ...body] };
}

/**
 * attn_bwd(q, k, v, o, go, lse, dq, dk, dv, os, gs, …shared): dq [L, E] = dS·k·scale,
 * dk [S, E] = dSᵀ·q·scale and dv [S, Ev] = (P∘Z)ᵀ·dO (all contiguous), with P = exp(s − lse)
 * recomputed per tile, D = rowsum(dO∘O) and dS = P∘(Z∘(dO·vᵀ) − D). A row whose lse is +∞
 * attends nowhere and adds nothing. buf holds backwardBufBytes: the tile's weights, its
 * dropout multipliers, kᵀ, vᵀ, dkᵀ and dvᵀ.
 */
export function attentionBackward(): { fn: Fn; body: Code } {
  const K = kernel('attn_bwd', ['q', 'k', 'v', 'o', 'go', 'lse', 'dq', 'dk', 'dv', 'os', 'gs']);
  const { f, g, hsum, dot, inTile, rowStart, scoreTile, expTile, tiles, dropAt, dotT, updateT, weightedRows, transposeIn, transposeOut, start } = K;
  f.locals('i32', 'oi', 'gi', 'dqi', 'vt', 'dkt', 'dvt', 'zb').locals('f32', 'rowLse', 'D').locals('v128', 'pz', 'ds', 'D4');
  const zero = v128.const_i32x4([0, 0, 0, 0]);
  // Four keys: dp = dO_i·v_j, pz = p·z, ds = p·(z·dp − D)·scale (zero past the tile), dvᵀ += dO_i·pz, dkᵀ += q_i·ds.
  const keys: Code = [
    ...dotT('gi', 'vt', 'Ev', 'y'),
    ...f.set('x', g('buf'), g('jj'), i32.const(4), i32.mul, i32.add, v128.load()),
    ...f.set('sum4', K.k.of(1)),
    ...ifElse(g('drop'), f.set('sum4', g('zb'), g('jj'), i32.const(4), i32.mul, i32.add, v128.load())),
    ...f.set('pz', g('x'), g('sum4'), f32x4.mul, zero, inTile, v128.bitselect),
    ...f.set('ds', g('x'), g('sum4'), g('y'), f32x4.mul, g('D4'), f32x4.sub, f32x4.mul, g('sc4'), f32x4.mul, zero, inTile, v128.bitselect),
    ...g('buf'), ...g('jj'), ...i32.const(4), ...i32.mul, ...i32.add, ...g('ds'), ...v128.store(),
    ...updateT('dvt', 'gi', 'Ev', 'pz'),
    ...updateT('dkt', 'qi', 'E', 'ds'),
  ];
  const tile: Code = [
    ...scoreTile,
    ...f.set('y', g('rowLse'), f32x4.splat),
    ...expTile,
    ...ifElse(g('drop'), forLoop(f, 'jj', i32.const(0), g('n'), 1, [...g('zb'), ...g('jj'), ...i32.const(4), ...i32.mul, ...i32.add, ...dropAt, ...f32.store()])),
    ...forLoop(f, 'jj', i32.const(0), g('n'), 4, keys),
    // dq_i += Σ ds_j·k_j, from the ds the keys left in buf
    ...weightedRows(g('dqi'), 'k', 'ks', 'E'),
  ];
  const rowOf = (base: string, j: string, width: string): Code => [...g(base), ...g(j), ...g(width), ...i32.mul, ...i32.const(4), ...i32.mul, ...i32.add];
  const row: Code = [
    ...f.set('rowLse', g('lse'), g('i'), i32.const(4), i32.mul, i32.add, f32.load()),
    ...ifElse([...g('rowLse'), ...f32.const(Infinity), ...op.f32Ne], [
      ...rowStart,
      ...f.set('oi', g('o'), g('i'), g('os'), i32.mul, i32.add),
      ...f.set('gi', g('go'), g('i'), g('gs'), i32.mul, i32.add),
      ...f.set('dqi', rowOf('dq', 'i', 'E')),
      ...dot('gi', 'oi', 'Ev', 'y'),
      ...f.set('D', hsum('y')),
      ...f.set('D4', g('D'), f32x4.splat),
      ...tiles(tile),
    ]),
  ];
  const size = (cols: string): Code => [...g(cols), ...g('sp4'), ...i32.mul];
  const body = [
    ...start([...g('buf'), ...i32.const(2 * TILE * 4), ...i32.add]),
    ...f.set('zb', g('buf'), i32.const(TILE * 4), i32.add),
    ...f.set('vt', g('kt'), size('E'), i32.add),
    ...f.set('dkt', g('vt'), size('Ev'), i32.add),
    ...f.set('dvt', g('dkt'), size('E'), i32.add),
    ...transposeIn('k', 'ks', 'E', 'kt'),
    ...transposeIn('v', 'vs', 'Ev', 'vt'),
    // dkᵀ and dvᵀ start at zero
    ...forLoop(f, 'e', g('dkt'), [...g('dvt'), ...size('Ev'), ...i32.add], 16, [...g('e'), ...zero, ...v128.store()]),
    ...forLoop(f, 'i', i32.const(0), g('L'), 1, row),
    ...transposeOut('dkt', 'E', 'dk'),
    ...transposeOut('dvt', 'Ev', 'dv'),
  ];
  return { fn: f, body: [...K.k.prologue, ...body] };
}
