import type { DType, HalfDType } from '../../../core/dtype.js';
import { isHalf } from '../../../core/dtype.js';
import { wgslType } from './common.js';

// float16 and bfloat16 on the GPU: two 16-bit patterns per u32 word, the element with the even
// index in the low half (a little-endian Uint16Array's layout, so uploads and reads are plain
// byte copies). Kernels read a pattern, widen it to f32 and compute in f32; they narrow in
// integer arithmetic, transcribing core/half.ts, because WGSL lets an f32 → f16 conversion round
// either way and leaves out-of-range values undefined, while tsgrad rounds to nearest-even as
// PyTorch does, bit for bit on every backend. One path serves both formats (shader-f16 has no
// bfloat16), and every device runs it.

/** Element bytes as stored: 2 for the 16-bit floats, else 4 (float64 never reaches the GPU). */
export function storedBytes(dtype: DType): number {
  return isHalf(dtype) ? 2 : 4;
}

/** The WGSL conversions between f32 and the 16-bit patterns (held in the low bits of a u32). */
export const HALF_WGSL = /* wgsl */ `
fn f16_to_f32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0x1fu) { return bitcast<f32>(sign | 0x7f800000u | select(0u, 0x400000u | (m << 13u), m != 0u)); }
  if (e != 0u) { return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u)); }
  if (m == 0u) { return bitcast<f32>(sign); }
  // Subnormal: shift the leading one up to the implicit bit.
  let shift = countLeadingZeros(m) - 21u;
  return bitcast<f32>(sign | ((113u - shift) << 23u) | (((m << shift) & 0x3ffu) << 13u));
}
fn bf16_to_f32(h: u32) -> f32 { return bitcast<f32>(h << 16u); }
// m / 2^shift rounded to nearest, ties to even (1 <= shift <= 24).
fn round_shift(m: u32, shift: u32) -> u32 {
  let q = m >> shift;
  let rem = m & ((1u << shift) - 1u);
  let halfway = 1u << (shift - 1u);
  return q + select(0u, 1u, rem > halfway || (rem == halfway && (q & 1u) == 1u));
}
fn f32_to_f16(v: f32) -> u32 {
  let x = bitcast<u32>(v);
  let sign = (x >> 16u) & 0x8000u;
  let exp = i32((x >> 23u) & 0xffu);
  let mant = x & 0x7fffffu;
  // A NaN keeps its sign and top payload bits and is made quiet.
  if (exp == 0xff) { return sign | 0x7c00u | select(0u, 0x200u | (mant >> 13u), mant != 0u); }
  let e = exp - 112;
  if (e >= 0x1f) { return sign | 0x7c00u; }
  if (e < -10) { return sign; }
  if (e <= 0) { return sign | round_shift(mant | 0x800000u, u32(14 - e)); }
  // A mantissa that rounds up carries into the exponent (65520 and above become Infinity).
  return sign | ((u32(e) << 10u) + round_shift(mant, 13u));
}
fn f32_to_bf16(v: f32) -> u32 {
  let x = bitcast<u32>(v);
  if ((x & 0x7fffffffu) > 0x7f800000u) { return 0x7fc0u; }
  return (x + 0x7fffu + ((x >> 16u) & 1u)) >> 16u;
}`;

/** The 16-bit pattern at element `index` (an i32 or u32 expression) of packed array `buf`, as a u32. */
export function halfBits(buf: string, index: string): string {
  return `((${buf}[u32(${index}) >> 1u] >> ((u32(${index}) & 1u) * 16u)) & 0xffffu)`;
}

/** The f32 value of element `index` of packed array `buf` holding `dtype`. */
export function halfLoad(dtype: HalfDType, buf: string, index: string): string {
  return `${dtype === 'float16' ? 'f16' : 'bf16'}_to_f32(${halfBits(buf, index)})`;
}

/** The `dtype` pattern nearest to f32 expression `value`, as a u32. */
export function halfNarrow(dtype: HalfDType, value: string): string {
  return `f32_to_${dtype === 'float16' ? 'f16' : 'bf16'}(${value})`;
}

/**
 * Statements writing pattern `bits` into element `index` of `buf`, an `array<atomic<u32>>`:
 * neighbouring invocations share a word, so the half is cleared and set with atomics (they
 * touch disjoint bits, so any order gives the same word).
 */
export function halfStore(buf: string, index: string, bits: string): string {
  return `{
    let w = u32(${index}) >> 1u;
    let sh = (u32(${index}) & 1u) * 16u;
    atomicAnd(&${buf}[w], ~(0xffffu << sh));
    atomicOr(&${buf}[w], (${bits}) << sh);
  }`;
}

/** A binding's WGSL declaration for an array of `dtype`: packed words for the 16-bit floats. */
export function arrayOf(dtype: DType, writable: boolean): string {
  if (!isHalf(dtype)) return `array<${wgslType(dtype)}>`;
  return writable ? 'array<atomic<u32>>' : 'array<u32>';
}
