import { type Code, Fn, ctl, doWhile, f32, f32x4, forLoop, i32, i8x16, ifElse, minI32, v128 } from './emitter.js';

/*
 * C = A·B in float32 on packed panels, the XNNPACK way: A in panels of MR rows and B in panels
 * of NR columns, each interleaved along k (`panel[p·MR + r]`) and zero-padded to a whole panel,
 * so the micro-kernel reads both with stride 1. The MR×NR tile of C lives in MR·NR/4 f32x4
 * registers; each step of k loads NR/4 vectors of B, splats MR scalars of A and does MR·NR/4
 * vector multiply-adds. 4×8 uses 8 accumulators + 2 B vectors + 1 splat of x64's 16 vector
 * registers; 6×8 (12 accumulators, 15 registers) measured slower here.
 *
 * Blocking: KC = 256 steps of k keep one A panel (4 KiB) in L1 while it meets a block of NC = 128
 * B panels' columns (128 KiB, L2).
 */
export const MR = 4;
export const NR = 8;
const KC = 256;
const NC = 128;
const F = 4; // bytes per float32

/**
 * tile(pa, pb, kLen, ci, ldc, first): C[ci.., MR × NR, row stride ldc bytes] += A panel · B panel
 * over kLen (≥ 1) steps; with `first` (the first block of k) C is set instead, so it needs no
 * zeroing beforehand.
 */
function tile(relaxed: boolean): { fn: Fn; body: Code } {
  const f = new Fn('tile', ['pa', 'pb', 'kLen', 'ci', 'ldc', 'first']).locals('i32', 'end', 'row').locals('v128', 'a');
  const acc = (r: number, h: number) => `acc${r}_${h}`;
  const bv = (h: number) => `b${h}`;
  for (let r = 0; r < MR; r++) for (let h = 0; h < NR / 4; h++) f.locals('v128', acc(r, h));
  for (let h = 0; h < NR / 4; h++) f.locals('v128', bv(h));
  /** acc += a · b, fused where the engine offers relaxed SIMD. */
  const madd = (accName: string, b: string): Code =>
    relaxed
      ? f.set(accName, f.get('a'), f.get(b), f.get(accName), f32x4.relaxed_madd)
      : f.set(accName, f.get(accName), f.get('a'), f.get(b), f32x4.mul, f32x4.add);
  const step: number[] = [];
  for (let h = 0; h < NR / 4; h++) step.push(...f.set(bv(h), f.get('pb'), v128.load(16 * h)));
  for (let r = 0; r < MR; r++) {
    step.push(...f.set('a', f.get('pa'), v128.load32_splat(F * r)));
    for (let h = 0; h < NR / 4; h++) step.push(...madd(acc(r, h), bv(h)));
  }
  step.push(...f.inc('pa', MR * F), ...f.inc('pb', NR * F));
  const store = (accumulate: boolean): Code => {
    const code: number[] = [...f.set('row', f.get('ci'))];
    for (let r = 0; r < MR; r++) {
      for (let h = 0; h < NR / 4; h++) {
        const value = accumulate ? [...f.get('row'), ...v128.load(16 * h), ...f.get(acc(r, h)), ...f32x4.add] : f.get(acc(r, h));
        code.push(...f.get('row'), ...value, ...v128.store(16 * h));
      }
      code.push(...f.inc('row', f.get('ldc')));
    }
    return code;
  };
  const body = [
    ...f.set('end', f.get('pa'), f.get('kLen'), i32.const(MR * F), i32.mul, i32.add),
    ...doWhile(step, [...f.get('pa'), ...f.get('end'), ...i32.lt_u]),
    ...ifElse(f.get('first'), store(false), store(true)),
  ];
  return { fn: f, body };
}

/**
 * gemm(a, b, c, np, k, i0, i1, j0, j1): C[rows i0..i1, cols j0..j1] = packed A · packed B, with
 * A's panels at byte address a (mp × k), B's at b (k × np), C at c (mp × np, row-major), the
 * ranges whole panels and k ≥ 1; `tileIndex` is the index of `tile` in the module.
 */
function gemm(tileIndex: number): { fn: Fn; body: Code } {
  const f = new Fn('gemm', ['a', 'b', 'c', 'np', 'k', 'i0', 'i1', 'j0', 'j1']).locals('i32', 'k0', 'kLen', 'jb', 'jbEnd', 'i', 'j', 'pa', 't0', 't1');
  const g = (n: string) => f.get(n);
  const mul = (...xs: Code[]): Code => [...xs[0]!, ...xs.slice(1).flatMap((x) => [...x, ...i32.mul])];
  const callTile = [
    // pb = b + (j·k + k0·NR)·4; ci = c + (i·np + j)·4; ldc = np·4
    ...g('pa'),
    ...mul(g('j'), g('k')), ...mul(g('k0'), i32.const(NR)), ...i32.add, ...i32.const(F), ...i32.mul, ...g('b'), ...i32.add,
    ...g('kLen'),
    ...mul(g('i'), g('np')), ...g('j'), ...i32.add, ...i32.const(F), ...i32.mul, ...g('c'), ...i32.add,
    ...mul(g('np'), i32.const(F)),
    ...g('k0'), ...i32.eqz,
    ...ctl.call(tileIndex),
  ];
  const rows = forLoop(f, 'i', g('i0'), g('i1'), MR, [
    // pa = a + (i·k + k0·MR)·4
    ...f.set('pa', mul(g('i'), g('k')), mul(g('k0'), i32.const(MR)), i32.add, i32.const(F), i32.mul, g('a'), i32.add),
    ...forLoop(f, 'j', g('jb'), g('jbEnd'), NR, callTile),
  ]);
  const colBlocks = forLoop(f, 'jb', g('j0'), g('j1'), NC, [
    ...f.set('jbEnd', minI32(g('j1'), [...g('jb'), ...i32.const(NC), ...i32.add], f, 't0', 't1')),
    ...rows,
  ]);
  const body = forLoop(f, 'k0', i32.const(0), g('k'), KC, [
    ...f.set('kLen', minI32([...g('k'), ...g('k0'), ...i32.sub], i32.const(KC), f, 't0', 't1')),
    ...colBlocks,
  ]);
  return { fn: f, body };
}

/**
 * pack(src, lineStride, elemStride, lines, k, width, dst, l0, p0): `lines` strided lines of k
 * floats at byte address src (strides in floats) into zero-padded panels of `width` lines at dst,
 * dst[(l / width)·k·width + p·width + l % width] = line l, element p, for the lines from l0 and
 * the elements from p0 (the SIMD packs below leave the rest to it).
 */
function pack(): { fn: Fn; body: Code } {
  const f = new Fn('pack', ['src', 'lineStride', 'elemStride', 'lines', 'k', 'width', 'dst', 'l0', 'p0']).locals('i32', 'l', 'p', 's', 'q', 'padded', 'step', 'qStep');
  const g = (n: string) => f.get(n);
  const body = [
    // padded = ceil(lines / width) · width; q advances by width floats per element
    ...f.set('padded', g('lines'), g('width'), i32.add, i32.const(1), i32.sub, g('width'), i32.div_u, g('width'), i32.mul),
    ...f.set('step', g('elemStride'), i32.const(4), i32.mul),
    ...f.set('qStep', g('width'), i32.const(4), i32.mul),
    ...forLoop(f, 'l', g('l0'), g('padded'), 1, [
      // q = dst + ((l / width)·k·width + p0·width + l % width)·4
      ...f.set('q', g('l'), g('width'), i32.div_u, g('k'), i32.mul, g('p0'), i32.add, g('width'), i32.mul, g('l'), g('width'), i32.rem_u, i32.add, i32.const(4), i32.mul, g('dst'), i32.add),
      ...ifElse([...g('l'), ...g('lines'), ...i32.lt_s],
        [
          ...f.set('s', g('l'), g('lineStride'), i32.mul, g('p0'), g('elemStride'), i32.mul, i32.add, i32.const(4), i32.mul, g('src'), i32.add),
          ...forLoop(f, 'p', g('p0'), g('k'), 1, [
            ...g('q'), ...g('s'), ...f32.load(), ...f32.store(),
            ...f.inc('s', g('step')), ...f.inc('q', g('qStep')),
          ]),
        ],
        forLoop(f, 'p', g('p0'), g('k'), 1, [...g('q'), ...f32.const(0), ...f32.store(), ...f.inc('q', g('qStep'))]),
      ),
    ]),
  ];
  return { fn: f, body };
}

/**
 * pack_rows(src, elemStride, panels, k, width, dst): `pack` of whole panels whose lines lie side
 * by side (line stride 1, as B's columns in a row-major B): each element's `width` lines are
 * contiguous, so a panel row is width/4 vector copies, unrolled (width is MR or NR: a loop over
 * two vectors cost more than the copies, and packing a [2048, 256] gradient took a tenth of its
 * matmul).
 */
function packRows(): { fn: Fn; body: Code } {
  const f = new Fn('pack_rows', ['src', 'elemStride', 'panels', 'k', 'width', 'dst']).locals('i32', 'panel', 'p', 's', 'd', 'step');
  const g = (n: string) => f.get(n);
  const rowBytes: Code = [...g('width'), ...i32.const(F), ...i32.mul];
  /** The panels, with `copy` moving one panel row from s to d. */
  const panels = (copy: Code): Code => forLoop(f, 'panel', i32.const(0), g('panels'), 1, [
    ...f.set('s', g('panel'), rowBytes, i32.mul, g('src'), i32.add),
    ...forLoop(f, 'p', i32.const(0), g('k'), 1, [...copy, ...f.inc('s', g('step')), ...f.inc('d', rowBytes)]),
  ]);
  const vectors = (n: number): Code => Array.from({ length: n }, (_, h) => [...g('d'), ...g('s'), ...v128.load(16 * h), ...v128.store(16 * h)]).flat();
  const body = [
    ...f.set('d', g('dst')),
    ...f.set('step', g('elemStride'), i32.const(F), i32.mul),
    ...ifElse([...g('width'), ...i32.const(NR), ...i32.eq], panels(vectors(NR / 4)), panels(vectors(MR / 4))),
  ];
  return { fn: f, body };
}

/** Byte lanes of two f32x4 (a: 0–15, b: 16–31) for a 4×4 transpose in two rounds of shuffles. */
const INTERLEAVE_LO = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23];
const INTERLEAVE_HI = [8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31];
const HALVES_LO = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const HALVES_HI = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];

/**
 * pack_cols(src, lineStride, panels, k4, width, dst, k): `pack` of whole panels, elements below
 * k4 (a multiple of 4), for lines that are contiguous (element stride 1, as the rows of A, or
 * B's columns in a transposed weight): four elements of four lines are loaded as four vectors,
 * transposed with shuffles and stored as four panel rows.
 */
function packCols(): { fn: Fn; body: Code } {
  const f = new Fn('pack_cols', ['src', 'lineStride', 'panels', 'k4', 'width', 'dst', 'k']).locals('i32', 'panel', 'p', 'h', 's', 'd');
  f.locals('v128', 'r0', 'r1', 'r2', 'r3', 't0', 't1', 't2', 't3');
  const g = (n: string) => f.get(n);
  // s: line (panel·width + h) at element p; d: the panel's row p, lanes h..h+3
  const line = (i: number): Code => [...g('s'), ...g('lineStride'), ...i32.const(i * F), ...i32.mul, ...i32.add, ...v128.load()];
  const shuffle = (a: string, b: string, lanes: number[]) => [...g(a), ...g(b), ...i8x16.shuffle(lanes)];
  const rowBytes = [...g('width'), ...i32.const(F), ...i32.mul];
  const store = (c: number, a: string, b: string, lanes: number[]): Code => [
    ...g('d'), ...rowBytes, ...i32.const(c), ...i32.mul, ...i32.add, ...shuffle(a, b, lanes), ...v128.store(),
  ];
  const block = [
    ...[0, 1, 2, 3].flatMap((i) => f.set(`r${i}`, line(i))),
    ...f.set('t0', shuffle('r0', 'r1', INTERLEAVE_LO)), ...f.set('t1', shuffle('r0', 'r1', INTERLEAVE_HI)),
    ...f.set('t2', shuffle('r2', 'r3', INTERLEAVE_LO)), ...f.set('t3', shuffle('r2', 'r3', INTERLEAVE_HI)),
    ...store(0, 't0', 't2', HALVES_LO), ...store(1, 't0', 't2', HALVES_HI),
    ...store(2, 't1', 't3', HALVES_LO), ...store(3, 't1', 't3', HALVES_HI),
  ];
  const body = forLoop(f, 'panel', i32.const(0), g('panels'), 1, [
    ...forLoop(f, 'p', i32.const(0), g('k4'), 4, [
      ...forLoop(f, 'h', i32.const(0), g('width'), 4, [
        // s = src + ((panel·width + h)·lineStride + p)·4; d = dst + ((panel·k + p)·width + h)·4
        ...f.set('s', g('panel'), g('width'), i32.mul, g('h'), i32.add, g('lineStride'), i32.mul, g('p'), i32.add, i32.const(F), i32.mul, g('src'), i32.add),
        ...f.set('d', g('panel'), g('k'), i32.mul, g('p'), i32.add, g('width'), i32.mul, g('h'), i32.add, i32.const(F), i32.mul, g('dst'), i32.add),
        ...block,
      ]),
    ]),
  ]);
  return { fn: f, body };
}

/** The matmul functions of the module, `tile` first (gemm calls it by index `first`). */
export function gemmFunctions(relaxed: boolean, first: number): { fn: Fn; body: Code }[] {
  return [tile(relaxed), gemm(first), pack(), packRows(), packCols()];
}
