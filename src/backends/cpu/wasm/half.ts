import { type Code, Fn, encodeModule, f32x4, forLoop, i32, i32x4, v128 } from './emitter.js';
import type { Arena } from './arena.js';
import { ownModule } from './ownModule.js';
import type { HalfDType } from '../../../core/half.js';

/*
 * Widens 16-bit float patterns to float32 in the module's memory, four lanes at a time, for the
 * half-operand matmul (../halfMatmul.ts). bfloat16 is the top half of a float32: a shift.
 * float16 follows Maratyszcza's FP16 library (fp16_ieee_to_fp32_value), as PyTorch's c10::Half
 * does: the exponent and mantissa shifted into place and rescaled by 2⁻¹¹² with one float multiply
 * (which also makes Infinity and NaN, quieting a signalling NaN as x86's conversion does), or,
 * below the smallest normal, rebuilt as a float32 magic number minus 0.5.
 */

/** The instructions this kernel adds to the emitter's set (SIMD numbers LEB128-encoded after 0xfd). */
const op = {
  shl: [0x74] as Code,
  /** v128.load16x4_u: four u16 widened to i32 lanes (align 2³, offset 0). */
  load16x4_u: [0xfd, 0x04, 3, 0] as Code,
  /** i32x4.shr_u (0xad). */
  shr_u: [0xfd, 0xad, 0x01] as Code,
  /** i32x4.lt_u (0x3a). */
  lt_u: [0xfd, 0x3a] as Code,
};
const splat = (bits: number): Code => v128.const_i32x4([bits, bits, bits, bits]);

/** widen(src, dst, n): dst[e] = float32 of 16-bit src[e] for e in [0, n), n a multiple of 4. */
function widenFunction(dtype: HalfDType): { fn: Fn; body: Code } {
  const fn = new Fn(dtype === 'float16' ? 'widen16' : 'widenbf16', ['src', 'dst', 'n']).locals('i32', 'e').locals('v128', 'w', 'two');
  const g = (n: string) => fn.get(n);
  const load = [...g('src'), ...g('e'), ...i32.const(1), ...op.shl, ...i32.add, ...op.load16x4_u];
  const storeAt = [...g('dst'), ...g('e'), ...i32.const(2), ...op.shl, ...i32.add];
  const body: Code = dtype === 'bfloat16'
    ? [...storeAt, ...load, ...i32.const(16), ...i32x4.shl, ...v128.store()]
    : [
      ...fn.set('w', load, i32.const(16), i32x4.shl),
      ...fn.set('two', g('w'), g('w'), i32x4.add),
      ...storeAt,
      // The sign bit, or-ed onto the magnitude below.
      ...g('w'), ...splat(0x80000000), ...v128.and,
      // Subnormal: (two >> 17) | bits(0.5) as a float, minus 0.5.
      ...g('two'), ...i32.const(17), ...op.shr_u, ...splat(0x3f000000), ...v128.or, ...splat(0x3f000000), ...f32x4.sub,
      // Normal, Infinity, NaN: (two >> 4) + (0xe0 << 23), times 2⁻¹¹².
      ...g('two'), ...i32.const(4), ...op.shr_u, ...splat(0xe0 << 23), ...i32x4.add, ...splat(0x07800000), ...f32x4.mul,
      // bitselect takes the first (subnormal) where the mask is set: magnitudes below 2⁻¹⁴.
      ...g('two'), ...splat(1 << 27), ...op.lt_u,
      ...v128.bitselect,
      ...v128.or,
      ...v128.store(),
    ];
  return { fn, body: forLoop(fn, 'e', i32.const(0), g('n'), 4, body) };
}

type Widen = (src: number, dst: number, n: number) => void;

/** The module's kernels on the runtime's memory, or null where it does not validate (no SIMD). */
const kernelsOn = ownModule<{ widen16: Widen; widenbf16: Widen }>((memory) =>
  encodeModule([widenFunction('float16'), widenFunction('bfloat16')], { minPages: 1, ...memory }));

/**
 * Widens `bits` into `out`, a float32 storage in the module's memory, in WebAssembly (the last
 * n mod 4 values in JavaScript by `tail`); false, writing nothing, where it cannot.
 */
export function widenInMemory(arena: Arena, bits: Uint16Array, dtype: HalfDType, out: Float32Array, tail: (bits: Uint16Array, out: Float32Array) => void): boolean {
  const k = kernelsOn(arena);
  if (!k || arena.addressOf(out) < 0) return false;
  const n4 = bits.length - (bits.length % 4);
  const src = arena.scratch(Math.max(16, n4 * 2));
  if (src < 0) return false;
  new Uint16Array(arena.rt.memory.buffer, src, n4).set(bits.subarray(0, n4));
  (dtype === 'float16' ? k.widen16 : k.widenbf16)(src, arena.addressOf(out), n4);
  if (n4 < bits.length) tail(bits.subarray(n4), out.subarray(n4));
  return true;
}
