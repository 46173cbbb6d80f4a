import { type Code, Fn, ctl, f32, f32x4, forLoop, i32, ifElse, v128 } from './emitter.js';
import { Splats, expInto } from './elementwise.js';

/*
 * Scaled dot-product attention in float32 SIMD, FlashAttention's way: each query row meets the
 * keys in tiles of TILE, the tile's scores go to a small buffer, and a running max m and sum l
 * (the online softmax) rescale the row's accumulator whenever a tile raises the max, so nothing
 * of size L·S is ever stored. The backward recomputes each tile's weights exp(s − lse) from q, k
 * and the forward's row logsumexp (FlashAttention-2's backward, one query row per tile).
 *
 * Addresses and row strides are in bytes; rows of q, k, v, the output and the gradients are
 * contiguous with E and Ev multiples of 4 (the caller checks). The mask, float (added) or int32
 * (0 hides the key), and the dropout multipliers are read one element at a time through their
 * row and column strides; an address of 0 means none.
 */

/** Keys per tile: the score buffer is TILE floats. */
export const TILE = 64;

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
  f.locals('i32', 'i', 'j0', 'jj', 'j', 'n', 'kEnd', 'qi', 'kj', 'vj', 'e', 'mrow', 'drow');
  f.locals('f32', 's', 'p');
  f.locals('v128', 'x', 'y', 'sum4', 'en', 'er', 'ep');
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
  /** mem[at + e] += x · mem[from + e] over `len` floats (x is the f32x4 local `x`). */
  const axpy = (at: Code, from: Code, len: string): Code =>
    forLoop(f, 'e', i32.const(0), [...g(len), ...i32.const(4), ...i32.mul], 16, [
      ...at, ...g('e'), ...i32.add,
      ...at, ...g('e'), ...i32.add, ...v128.load(),
      ...g('x'), ...from, ...g('e'), ...i32.add, ...v128.load(), ...f32x4.mul, ...f32x4.add,
      ...v128.store(),
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
   * The scores of keys j0..j0+n into buf (scaled, masked: −∞ where hidden), the rest of the
   * tile's last vector −∞, so that exp gives 0 there.
   */
  const scoreTile: Code = [
    ...forLoop(f, 'jj', i32.const(0), g('n'), 1, [
      ...f.set('j', g('j0'), g('jj'), i32.add),
      ...f.set('kj', g('k'), g('j'), g('ks'), i32.mul, i32.add),
      ...dot('qi', 'kj', 'E', 'y'),
      ...f.set('s', hsum('y'), g('scale'), op.f32Mul),
      ...ifElse(g('mask'), [
        // the mask element's address, mrow + j·mcs, in vj for the moment
        ...f.set('vj', g('mrow'), g('j'), g('mcs'), i32.mul, i32.add),
        ...ifElse(g('mint'),
          f.set('s', g('s'), NEG_INF, g('vj'), op.i32Load, ctl.select),
          f.set('s', g('s'), g('vj'), f32.load(), op.f32Add)),
      ]),
      ...g('buf'), ...g('jj'), ...i32.const(4), ...i32.mul, ...i32.add, ...g('s'), ...f32.store(),
    ]),
    ...forLoop(f, 'jj', g('n'), [...g('n'), ...i32.const(3), ...i32.add, ...i32.const(-4), ...op.i32And], 1, [
      ...g('buf'), ...g('jj'), ...i32.const(4), ...i32.mul, ...i32.add, ...NEG_INF, ...f32.store(),
    ]),
  ];
  /** buf[0..n rounded up to 4) = exp(buf − y), their sum into sum4. */
  const expTile: Code = [
    ...f.set('sum4', v128.const_i32x4([0, 0, 0, 0])),
    ...forLoop(f, 'jj', i32.const(0), [...g('n'), ...i32.const(4), ...i32.mul], 16, [
      ...f.set('x', g('buf'), g('jj'), i32.add, v128.load(), g('y'), f32x4.sub, exp()),
      ...g('buf'), ...g('jj'), ...i32.add, ...g('x'), ...v128.store(),
      ...f.set('sum4', g('sum4'), g('x'), f32x4.add),
    ]),
  ];
  /** The key loop in tiles: j0 from 0 to kEnd in steps of TILE, n keys each. */
  const tiles = (body: Code): Code =>
    forLoop(f, 'j0', i32.const(0), g('kEnd'), TILE, [
      ...f.set('n', g('kEnd'), g('j0'), i32.sub),
      ...ifElse([...g('n'), ...i32.const(TILE), ...i32.lt_s], [], f.set('n', i32.const(TILE))),
      ...body,
    ]);
  /** s ·= the dropout multiplier of key j (none without dropout). */
  const dropped: Code = ifElse(g('drop'), f.set('s', g('s'), g('drow'), g('j'), g('dcs'), i32.mul, i32.add, f32.load(), op.f32Mul));
  return { f, k, g, hsum, dot, axpy, exp, rowStart, scoreTile, expTile, tiles, dropped };
}

/**
 * attn_fwd(q, k, v, o, stats, …shared): o [L, Ev] (contiguous) = softmax(q·kᵀ·scale + mask)·v
 * with dropout, and each row's running max and sum at stats[2i], stats[2i + 1] (sum 0 for a
 * row that attends nowhere, whose output is zeros). buf holds TILE + Ev floats.
 */
export function attentionForward(): { fn: Fn; body: Code } {
  const K = kernel('attn_fwd', ['q', 'k', 'v', 'o', 'stats']);
  const { f, g, hsum, axpy, exp, rowStart, scoreTile, expTile, tiles, dropped } = K;
  f.locals('i32', 'acc', 'oi').locals('f32', 'm', 'mNew', 'l', 'tmax');
  const accAt = g('acc');
  const tile: Code = [
    ...scoreTile,
    ...f.set('tmax', NEG_INF),
    ...forLoop(f, 'jj', i32.const(0), g('n'), 1, [...f.set('tmax', g('tmax'), g('buf'), g('jj'), i32.const(4), i32.mul, i32.add, f32.load(), f32.max)]),
    ...f.set('mNew', g('m'), g('tmax'), f32.max),
    // A tile that leaves the max at −∞ has no key to attend to: skip it (its exps would be NaN).
    ...ifElse([...g('mNew'), ...NEG_INF, ...op.f32Ne], [
      // Rescale what the row has so far by e^(m − mNew): 0 while m is −∞.
      ...f.set('x', g('m'), g('mNew'), op.f32Sub, f32x4.splat, exp()),
      ...f.set('l', g('l'), g('x'), f32x4.extract_lane(0), op.f32Mul),
      ...f.set('x', g('x'), f32x4.extract_lane(0), f32x4.splat),
      ...forLoop(f, 'e', i32.const(0), [...g('Ev'), ...i32.const(4), ...i32.mul], 16, [
        ...accAt, ...g('e'), ...i32.add, ...accAt, ...g('e'), ...i32.add, ...v128.load(), ...g('x'), ...f32x4.mul, ...v128.store(),
      ]),
      ...f.set('y', g('mNew'), f32x4.splat),
      ...expTile,
      ...f.set('l', g('l'), hsum('sum4'), op.f32Add),
      ...forLoop(f, 'jj', i32.const(0), g('n'), 1, [
        ...f.set('j', g('j0'), g('jj'), i32.add),
        ...f.set('s', g('buf'), g('jj'), i32.const(4), i32.mul, i32.add, f32.load()),
        ...dropped,
        ...ifElse([...g('s'), ...f32.const(0), ...op.f32Ne], [
          ...f.set('x', g('s'), f32x4.splat),
          ...axpy(accAt, [...g('v'), ...g('j'), ...g('vs'), ...i32.mul, ...i32.add], 'Ev'),
        ]),
      ]),
      ...f.set('m', g('mNew')),
    ]),
  ];
  const row: Code = [
    ...rowStart,
    ...f.set('m', NEG_INF), ...f.set('l', f32.const(0)),
    ...forLoop(f, 'e', i32.const(0), [...g('Ev'), ...i32.const(4), ...i32.mul], 16, [...accAt, ...g('e'), ...i32.add, ...v128.const_i32x4([0, 0, 0, 0]), ...v128.store()]),
    ...tiles(tile),
    // o = acc / l (acc is all zeros when l is 0)
    ...f.set('x', f32.const(0), f32.const(1), g('l'), op.f32Div, g('l'), f32.const(0), op.f32Eq, ctl.select, f32x4.splat),
    ...f.set('oi', g('o'), g('i'), g('Ev'), i32.mul, i32.const(4), i32.mul, i32.add),
    ...forLoop(f, 'e', i32.const(0), [...g('Ev'), ...i32.const(4), ...i32.mul], 16, [
      ...g('oi'), ...g('e'), ...i32.add, ...accAt, ...g('e'), ...i32.add, ...v128.load(), ...g('x'), ...f32x4.mul, ...v128.store(),
    ]),
    ...g('stats'), ...g('i'), ...i32.const(8), ...i32.mul, ...i32.add, ...g('m'), ...f32.store(),
    ...g('stats'), ...g('i'), ...i32.const(8), ...i32.mul, ...i32.add, ...g('l'), ...f32.store(4),
  ];
  const body = [...f.set('acc', g('buf'), i32.const(TILE * 4), i32.add), ...forLoop(f, 'i', i32.const(0), g('L'), 1, row)];
  return { fn: f, body: [...K.k.prologue, ...body] };
}

/**
 * attn_bwd(q, k, v, o, go, lse, dq, dk, dv, os, gs, …shared): dq [L, E] = dS·k·scale,
 * dk [S, E] += dSᵀ·q·scale and dv [S, Ev] += (P∘Z)ᵀ·dO (all contiguous, zeroed beforehand), with
 * P = exp(s − lse) recomputed per tile, D = rowsum(dO∘O) and dS = P∘(Z∘(dO·vᵀ) − D). A row
 * whose lse is +∞ attends nowhere and adds nothing. buf holds TILE floats.
 */
export function attentionBackward(): { fn: Fn; body: Code } {
  const K = kernel('attn_bwd', ['q', 'k', 'v', 'o', 'go', 'lse', 'dq', 'dk', 'dv', 'os', 'gs']);
  const { f, g, hsum, dot, axpy, rowStart, scoreTile, expTile, tiles, dropped } = K;
  f.locals('i32', 'oi', 'gi', 'dqi').locals('f32', 'rowLse', 'D', 'z');
  const rowOf = (base: string, j: string, width: string): Code => [...g(base), ...g(j), ...g(width), ...i32.mul, ...i32.const(4), ...i32.mul, ...i32.add];
  const key: Code = [
    ...f.set('j', g('j0'), g('jj'), i32.add),
    ...f.set('p', g('buf'), g('jj'), i32.const(4), i32.mul, i32.add, f32.load()),
    ...ifElse([...g('p'), ...f32.const(0), ...op.f32Ne], [
      ...f.set('s', f32.const(1)),
      ...dropped,
      ...f.set('z', g('s')),
      ...f.set('vj', g('v'), g('j'), g('vs'), i32.mul, i32.add),
      ...f.set('kj', g('k'), g('j'), g('ks'), i32.mul, i32.add),
      // dv_j += p·z·dO_i
      ...f.set('x', g('p'), g('z'), op.f32Mul, f32x4.splat),
      ...axpy(rowOf('dv', 'j', 'Ev'), g('gi'), 'Ev'),
      // ds = p·(z·(dO_i·v_j) − D)·scale
      ...dot('gi', 'vj', 'Ev', 'y'),
      ...f.set('x', g('p'), g('z'), hsum('y'), op.f32Mul, g('D'), op.f32Sub, op.f32Mul, g('scale'), op.f32Mul, f32x4.splat),
      ...axpy(g('dqi'), g('kj'), 'E'),
      ...axpy(rowOf('dk', 'j', 'E'), g('qi'), 'E'),
    ]),
  ];
  const row: Code = [
    ...f.set('rowLse', g('lse'), g('i'), i32.const(4), i32.mul, i32.add, f32.load()),
    ...ifElse([...g('rowLse'), ...f32.const(Infinity), ...op.f32Ne], [
      ...rowStart,
      ...f.set('oi', g('o'), g('i'), g('os'), i32.mul, i32.add),
      ...f.set('gi', g('go'), g('i'), g('gs'), i32.mul, i32.add),
      ...f.set('dqi', rowOf('dq', 'i', 'E')),
      ...dot('gi', 'oi', 'Ev', 'y'),
      ...f.set('D', hsum('y')),
      ...tiles([...scoreTile, ...f.set('y', g('rowLse'), f32x4.splat), ...expTile, ...forLoop(f, 'jj', i32.const(0), g('n'), 1, key)]),
    ]),
  ];
  return { fn: f, body: [...K.k.prologue, ...forLoop(f, 'i', i32.const(0), g('L'), 1, row)] };
}
