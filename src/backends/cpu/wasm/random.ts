import { type FastFills, type NormalFill, STREAM_STEP } from '../../../core/random.js';
import type { Arena } from './arena.js';
import { type Code, Fn, encodeModule, forLoop, i32, i8x16, ifElse, v128 } from './emitter.js';
import { type ModuleMemory, ownModule } from './ownModule.js';

/*
 * rand's and randn's float32 draws in WebAssembly SIMD, with the bits of core's JavaScript loops
 * (core/random.ts). mulberry32 is a counter (draw k of a stream at state s mixes s + k·step), so
 * four draws come from four lanes at once. rand's draw is the mix over 2³², rounded to float32
 * (exact in float64 first, as in JavaScript). randn's is mulberry32's u and v, then
 * sqrt(−2·ln u)·cos(2π·v) in float64, rounded to float32.
 *
 * ln and cos are polynomials here (fdlibm's coefficients, within about an ulp in float64), not
 * the engine's Math.log and Math.cos, so a float64 result may differ from JavaScript's in its
 * last bits. Rounded to float32 it cannot, unless it lies within a relative DELTA of a point
 * halfway between two float32s (about one draw in 500,000): then both neighbours z·(1 ± DELTA)
 * would round differently, and the kernel lists the draw for the caller to compute in
 * JavaScript. A u of 0 makes the JavaScript loop draw again, which shifts the rest of the
 * stream, so the kernel stops before such a draw (one in 2³²) and leaves it to the caller.
 */

/** The relative margin of the float32 rounding check: 2⁻⁴⁴, some 25 times the two float64 computations' combined error. */
export const DELTA = 2 ** -44;

/** Instructions the emitter's tables leave out, named as in the text format. */
const simd = (n: number): Code => [0xfd, ...(n < 0x80 ? [n] : [(n & 0x7f) | 0x80, n >> 7])];
const op = {
  i32GtS: [0x4a], i32Store: [0x36, 2, 0], ret: [0x0f],
  i32x4Splat: simd(0x11), i32x4Eq: simd(0x37), i32x4ShrU: simd(0xad), i32x4Mul: simd(0xb5), i32x4Add: simd(0xae), i32x4Sub: simd(0xb1),
  i32x4ExtractLane: (lane: number): Code => [...simd(0x1b), lane],
  xor: simd(0x51), not: simd(0x4d), anyTrue: simd(0x53),
  f64x2Splat: simd(0x14), f64x2Add: simd(0xf0), f64x2Sub: simd(0xf1), f64x2Mul: simd(0xf2), f64x2Div: simd(0xf3),
  f64x2Sqrt: simd(0xef), f64x2Neg: simd(0xed), f64x2Floor: simd(0x75), f64x2Nearest: simd(0x94),
  f64x2Ne: simd(0x48), f64x2Gt: simd(0x4a), f64x2Lt: simd(0x49),
  f64x2ConvertLowI32x4S: simd(0xfe), f64x2ConvertLowI32x4U: simd(0xff),
  f32x4DemoteF64x2Zero: simd(0x5e),
  f64Const: (x: number): Code => [0x44, ...new Uint8Array(new Float64Array([x]).buffer)],
} as const;

/** Lanes 2 and 3 of an i32x4 moved to 0 and 1. */
const HIGH_PAIR = i8x16.shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
/** The high i32 halves of two f64 lanes moved to i32 lanes 0 and 1. */
const HIGH_WORDS = i8x16.shuffle([4, 5, 6, 7, 12, 13, 14, 15, 4, 5, 6, 7, 12, 13, 14, 15]);
/** The low 8 bytes of a and of b: two f32 pairs into one vector. */
const JOIN_LOW = i8x16.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);

/** fdlibm's ln constants (e_log.c) and kernel sin/cos coefficients (k_sin.c, k_cos.c), and π/2 in three parts. */
const LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
const LG = [6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01];
const S = [-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04, 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10];
const C = [4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05, -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11];
const PIO2 = [1.57079632673412561417e+00, 6.07710050630396597660e-11, 2.02226624871116645580e-21];

const i4 = (x: number): Code => [...i32.const(x), ...op.i32x4Splat];

/** mulberry32's mix of the i32x4 local `v` (four states), left in the local `t` (four 32-bit draws). */
function mixInto(f: Fn, v: string, t: string): Code {
  const g = (n: string) => f.get(n);
  return [
    // t = imul(x ^ (x >>> 15), x | 1)
    ...f.set(t, g(v), g(v), i32.const(15), op.i32x4ShrU, op.xor, g(v), i4(1), v128.or, op.i32x4Mul),
    // t ^= t + imul(t ^ (t >>> 7), t | 61)
    ...f.set(t, g(t), g(t), g(t), g(t), i32.const(7), op.i32x4ShrU, op.xor, g(t), i4(61), v128.or, op.i32x4Mul, op.i32x4Add, op.xor),
    // t ^ (t >>> 14)
    ...f.set(t, g(t), g(t), i32.const(14), op.i32x4ShrU, op.xor),
  ];
}

/** k·step, wrapped to an i32. */
const steps = (k: number): number => Number(BigInt.asIntN(32, BigInt(k) * BigInt(STREAM_STEP)));

/**
 * uniform_f32(out, n, state): n (a multiple of 4) float32 draws into out, four at a time: draw
 * k mixes state + (k + 1)·step.
 */
function uniformF32(): { fn: Fn; body: Code } {
  const f = new Fn('uniform_f32', ['out', 'n', 'state']).locals('i32', 'i').locals('v128', 'ks', 'v', 't', 'scale');
  const g = (n: string) => f.get(n);
  /** Lanes 0 and 1 of the draws in t, as float32 in the low half. */
  const half = (draws: Code): Code => [...draws, ...op.f64x2ConvertLowI32x4U, ...g('scale'), ...op.f64x2Mul, ...op.f32x4DemoteF64x2Zero];
  const step = [
    ...f.set('v', g('state'), op.i32x4Splat, g('ks'), op.i32x4Add),
    ...mixInto(f, 'v', 't'),
    ...g('out'), ...g('i'), ...i32.const(4), ...i32.mul, ...i32.add,
    ...half(g('t')), ...half([...g('t'), ...g('t'), ...HIGH_PAIR]), ...JOIN_LOW, ...v128.store(),
    ...f.set('state', g('state'), i32.const(steps(4)), i32.add),
  ];
  const body = [
    ...f.set('ks', v128.const_i32x4([steps(1), steps(2), steps(3), steps(4)])),
    ...f.set('scale', op.f64Const(2 ** -32), op.f64x2Splat),
    ...forLoop(f, 'i', i32.const(0), g('n'), 4, step),
  ];
  return { fn: f, body };
}

/**
 * normal_f32(out, n, state, fix, cap, delta) → written: float32 draws into out[0..], four at a
 * time, up to n (a multiple of 4) or to the first vector with a u of 0, or until the fix list
 * could overflow. fix[0] counts the listed draws (those within a relative delta of a float32
 * rounding point; their out holds a float32 next to the result), their indices follow; at most
 * cap of them.
 */
function normalF32(): { fn: Fn; body: Code } {
  const f = new Fn('normal_f32', ['out', 'n', 'state', 'fix', 'cap', ['delta', 'f64']], ['i32']);
  f.locals('i32', 'i', 'count').locals('v128', 'us', 'vs', 'a', 'b', 'ku', 'kv', 't', 'lo', 'hi', 'badLo', 'badHi', 'bad');
  f.locals('v128', 'u', 'x', 'k', 'm', 'g', 'fr', 's', 'z', 'w', 'r', 'n4', 'sn', 'cs', 'hz', 'c', 'zz', 'below', 'above');
  const g = (n: string) => f.get(n);
  // Each constant is splatted once, before the loop, into a local of its own.
  const constants = new Map<number, string>();
  const setConstants: number[] = [];
  const k64 = (x: number): Code => {
    let name = constants.get(x);
    if (!name) {
      constants.set(x, (name = `k${constants.size}`));
      f.locals('v128', name);
      setConstants.push(...f.set(name, op.f64Const(x), op.f64x2Splat));
    }
    return g(name);
  };
  const mix = (v: string) => mixInto(f, v, 't');
  /** ln of the f64x2 `u` (in (0, 1)), left on the stack. */
  const ln = (): Code => [
    // k = the exponent; m = the mantissa in [1, 2), then in [√2/2, √2) with k adjusted
    ...f.set('k', g('u'), g('u'), HIGH_WORDS, i32.const(20), op.i32x4ShrU, i4(1023), op.i32x4Sub, op.f64x2ConvertLowI32x4S),
    ...f.set('m', g('u'), v128.const_i32x4([-1, 0x000fffff, -1, 0x000fffff]), v128.and, v128.const_i32x4([0, 0x3ff00000, 0, 0x3ff00000]), v128.or),
    ...f.set('g', g('m'), k64(Math.SQRT2), op.f64x2Gt),
    ...f.set('m', g('m'), k64(0.5), op.f64x2Mul, g('m'), g('g'), v128.bitselect),
    ...f.set('k', g('k'), k64(1), op.f64x2Add, g('k'), g('g'), v128.bitselect),
    // f = m − 1, s = f / (2 + f), z = s², w = z²
    ...f.set('fr', g('m'), k64(1), op.f64x2Sub),
    ...f.set('s', g('fr'), k64(2), g('fr'), op.f64x2Add, op.f64x2Div),
    ...f.set('z', g('s'), g('s'), op.f64x2Mul),
    ...f.set('w', g('z'), g('z'), op.f64x2Mul),
    // R = z·(Lg1 + w·(Lg3 + w·(Lg5 + w·Lg7))) + w·(Lg2 + w·(Lg4 + w·Lg6))
    ...f.set('r',
      g('z'), k64(LG[0]!), g('w'), k64(LG[2]!), g('w'), k64(LG[4]!), g('w'), k64(LG[6]!), op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.f64x2Mul,
      g('w'), k64(LG[1]!), g('w'), k64(LG[3]!), g('w'), k64(LG[5]!), op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.f64x2Mul,
      op.f64x2Add),
    // hfsq = f²/2; ln = k·ln2_hi − ((hfsq − (s·(hfsq + R) + k·ln2_lo)) − f)
    ...f.set('hz', k64(0.5), g('fr'), op.f64x2Mul, g('fr'), op.f64x2Mul),
    ...g('k'), ...k64(LN2_HI), ...op.f64x2Mul,
    ...g('hz'), ...g('s'), ...g('hz'), ...g('r'), ...op.f64x2Add, ...op.f64x2Mul, ...g('k'), ...k64(LN2_LO), ...op.f64x2Mul, ...op.f64x2Add, ...op.f64x2Sub,
    ...g('fr'), ...op.f64x2Sub,
    ...op.f64x2Sub,
  ];
  /** cos of the f64x2 `x` (in [0, 2π)), left on the stack. */
  const cos = (): Code => [
    // n = the nearest multiple of π/2; r = x − n·π/2 in three parts (each n·part exact)
    ...f.set('n4', g('x'), k64(2 / Math.PI), op.f64x2Mul, op.f64x2Nearest),
    ...f.set('r', g('x'), g('n4'), k64(PIO2[0]!), op.f64x2Mul, op.f64x2Sub, g('n4'), k64(PIO2[1]!), op.f64x2Mul, op.f64x2Sub, g('n4'), k64(PIO2[2]!), op.f64x2Mul, op.f64x2Sub),
    ...f.set('z', g('r'), g('r'), op.f64x2Mul),
    // sin r = r + r·z·(S1 + z·(S2 + … + z·S6))
    ...f.set('sn', g('r'), g('r'), g('z'), op.f64x2Mul,
      k64(S[0]!), g('z'), k64(S[1]!), g('z'), k64(S[2]!), g('z'), k64(S[3]!), g('z'), k64(S[4]!), g('z'), k64(S[5]!),
      op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add,
      op.f64x2Mul, op.f64x2Add),
    // cos r = w + (((1 − w) − z/2) + z²·(C1 + z·(C2 + … + z·C6))), w = 1 − z/2
    ...f.set('hz', g('z'), k64(0.5), op.f64x2Mul),
    ...f.set('w', k64(1), g('hz'), op.f64x2Sub),
    ...f.set('cs', g('w'),
      k64(1), g('w'), op.f64x2Sub, g('hz'), op.f64x2Sub,
      g('z'), g('z'), op.f64x2Mul,
      k64(C[0]!), g('z'), k64(C[1]!), g('z'), k64(C[2]!), g('z'), k64(C[3]!), g('z'), k64(C[4]!), g('z'), k64(C[5]!),
      op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.f64x2Mul, op.f64x2Add,
      op.f64x2Mul, op.f64x2Add, op.f64x2Add),
    // odd n: ±sin r; n of 1 or 2: negated
    ...f.set('c', g('sn'), g('cs'), g('n4'), k64(0.5), op.f64x2Mul, op.f64x2Floor, g('n4'), k64(0.5), op.f64x2Mul, op.f64x2Ne, v128.bitselect),
    ...g('c'), ...op.f64x2Neg, ...g('c'),
    ...g('n4'), ...k64(0.5), ...op.f64x2Gt, ...g('n4'), ...k64(2.5), ...op.f64x2Lt, ...v128.and,
    ...v128.bitselect,
  ];
  /**
   * The draws of one pair of lanes (u bits in the low i32 lanes of `a`, v's of `b`): their
   * float32 values into `toLo`, and into `toBad` a mask of the lanes that must be listed.
   */
  const pair = (toLo: string, toBad: string): Code => [
    ...f.set('u', g('a'), op.f64x2ConvertLowI32x4U, k64(2 ** -32), op.f64x2Mul),
    ...f.set('x', g('b'), op.f64x2ConvertLowI32x4U, k64(2 ** -32), op.f64x2Mul),
    ...f.set('x', k64(2 * Math.PI), g('x'), op.f64x2Mul),
    // z = sqrt(−2·ln u)·cos x
    ...f.set('zz', k64(-2), ln(), op.f64x2Mul, op.f64x2Sqrt, cos(), op.f64x2Mul),
    ...f.set(toLo, g('zz'), op.f32x4DemoteF64x2Zero),
    ...f.set(toBad,
      g('zz'), g('below'), op.f64x2Mul, op.f32x4DemoteF64x2Zero,
      g('zz'), g('above'), op.f64x2Mul, op.f32x4DemoteF64x2Zero,
      op.i32x4Eq, op.not),
  ];
  const step: Code = [
    ...f.set('us', g('state'), op.i32x4Splat, g('ku'), op.i32x4Add),
    ...f.set('vs', g('state'), op.i32x4Splat, g('kv'), op.i32x4Add),
    ...mix('us'), ...f.set('us', g('t')),
    ...mix('vs'), ...f.set('vs', g('t')),
    // a u of 0: stop before this vector
    ...ifElse([...g('us'), ...i4(0), ...op.i32x4Eq, ...op.anyTrue], [...g('i'), ...op.ret]),
    ...f.set('a', g('us')), ...f.set('b', g('vs')),
    ...pair('lo', 'badLo'),
    ...f.set('a', g('us'), g('us'), HIGH_PAIR), ...f.set('b', g('vs'), g('vs'), HIGH_PAIR),
    ...pair('hi', 'badHi'),
    ...g('out'), ...g('i'), ...i32.const(4), ...i32.mul, ...i32.add, ...g('lo'), ...g('hi'), ...JOIN_LOW, ...v128.store(),
    ...f.set('bad', g('badLo'), g('badHi'), JOIN_LOW),
    // listed lanes: fix[1 + count] = i + lane, fix[0] = ++count
    ...ifElse([...g('bad'), ...op.anyTrue], [0, 1, 2, 3].flatMap((l) => ifElse([...g('bad'), ...op.i32x4ExtractLane(l)], [
      ...f.set('count', g('count'), i32.const(1), i32.add),
      ...g('fix'), ...g('count'), ...i32.const(4), ...i32.mul, ...i32.add, ...g('i'), ...i32.const(l), ...i32.add, ...op.i32Store,
      ...g('fix'), ...g('count'), ...op.i32Store,
    ]))),
    ...f.set('state', g('state'), i32.const(steps(8)), i32.add),
    // room for a whole vector's indices in the list, or stop after this one
    ...ifElse([...g('count'), ...i32.const(4), ...i32.add, ...g('cap'), ...op.i32GtS], [...g('i'), ...i32.const(4), ...i32.add, ...op.ret]),
  ];
  const body: Code = [
    ...setConstants,
    ...f.set('below', k64(1), g('delta'), op.f64x2Splat, op.f64x2Sub),
    ...f.set('above', k64(1), g('delta'), op.f64x2Splat, op.f64x2Add),
    ...f.set('ku', v128.const_i32x4([steps(1), steps(3), steps(5), steps(7)])),
    ...f.set('kv', v128.const_i32x4([steps(2), steps(4), steps(6), steps(8)])),
    ...f.set('count', i32.const(0)),
    ...g('fix'), ...i32.const(0), ...op.i32Store,
    ...forLoop(f, 'i', i32.const(0), g('n'), 4, step),
    ...g('n'),
  ];
  return { fn: f, body };
}

/** The module's bytes (under the 4 KiB a browser compiles synchronously on a page's main thread). */
export function randomModuleBytes(memory: ModuleMemory): Uint8Array<ArrayBuffer> {
  return encodeModule([normalF32(), uniformF32()], { minPages: 1, ...memory });
}

type Kernels = {
  normal_f32(out: number, n: number, state: number, fix: number, cap: number, delta: number): number;
  uniform_f32(out: number, n: number, state: number): void;
};
const kernels = ownModule<Kernels>(randomModuleBytes);

/** Draws a call makes at most (its scratch), and the indices its list holds. */
const BLOCK = 1 << 16, CAP = 60;

/** core's fast float32 fills (see `setFastFills`) on an arena's memory, or null where the engine has no SIMD. */
export function fastFills(arena: Arena): FastFills | null {
  const k = kernels(arena), normal = normalFill(arena);
  if (!k || !normal) return null;
  return {
    normal,
    uniform(out, from, state) {
      const n = Math.min(BLOCK, out.length - from) & ~3;
      const at = n > 0 ? arena.scratch(n * 4) : -1;
      if (at < 0) return 0;
      k.uniform_f32(at, n, state);
      out.set(arena.rt.f32().subarray(at / 4, at / 4 + n), from);
      return n;
    },
  };
}

/**
 * core's fast float32 normal fill on an arena's memory (see `setNormalFill`), or null where the
 * engine has no SIMD: whole vectors of draws from `from`, at most BLOCK of them, through the
 * scratch into `out`. `delta` is the rounding check's margin (tests widen it to list many draws).
 */
export function normalFill(arena: Arena, delta = DELTA): NormalFill | null {
  const k = kernels(arena);
  if (!k) return null;
  return (out, from, state) => {
    const n = Math.min(BLOCK, out.length - from) & ~3;
    const at = n > 0 ? arena.scratch((n + CAP + 1) * 4) : -1;
    if (at < 0) return { written: 0, fixes: [] };
    const written = k.normal_f32(at, n, state, at + n * 4, CAP, delta);
    out.set(arena.rt.f32().subarray(at / 4, at / 4 + written), from);
    const list = new Int32Array(arena.rt.memory.buffer, at + n * 4, CAP + 1);
    return { written, fixes: Array.from(list.subarray(1, 1 + list[0]!), (j) => from + j) };
  };
}
