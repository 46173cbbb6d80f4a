// The two 16-bit float formats tsgrad stores (as raw bits in a Uint16Array) and their exact
// conversions to and from float32. IEEE binary16 (float16): 1 sign, 5 exponent (bias 15), 10
// mantissa bits, subnormals below 2⁻¹⁴, largest finite 65504. bfloat16: the top half of a
// float32 (1 sign, 8 exponent, 7 mantissa bits). Narrowing rounds to nearest, ties to even, as
// PyTorch's c10::Half and c10::BFloat16 do; values past the largest finite round to ±Infinity; a
// NaN stays a NaN, made quiet, with the bits PyTorch writes (float16 keeps the sign and the top
// payload bits, bfloat16 is 0x7fc0).

/** The 16-bit float dtypes: stored as bits, computed on in float32. */
export type HalfDType = 'float16' | 'bfloat16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bits of `v` (a float32 once rounded) as a float32. */
function bitsOf(v: number): number {
  f32[0] = v;
  return u32[0]!;
}

/** `m / 2^shift` rounded to nearest, ties to even (shift ≥ 1). */
function roundShift(m: number, shift: number): number {
  const q = m >>> shift, rem = m & ((1 << shift) - 1), halfway = 1 << (shift - 1);
  return q + (rem > halfway || (rem === halfway && (q & 1) === 1) ? 1 : 0);
}

/**
 * The float16 bits nearest to `v` (first rounded to float32, as PyTorch converts a double).
 *
 * @example
 * float16Bits(1); // 0x3c00
 */
export function float16Bits(v: number): number {
  const x = bitsOf(v);
  const sign = (x >>> 16) & 0x8000, exp = (x >>> 23) & 0xff, mant = x & 0x7fffff;
  // A NaN keeps its sign and top payload bits and is made quiet, as x86's F16C conversion does.
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  // Below 2⁻²⁵ (half the smallest subnormal) everything rounds to zero.
  if (e < -10) return sign;
  // Subnormal: the value in units of 2⁻²⁴, the implicit bit included; rounding up to 0x400 gives the smallest normal.
  if (e <= 0) return sign | roundShift(mant | 0x800000, 14 - e);
  // A mantissa that rounds up to 1024 carries into the exponent (65520 and above become Infinity).
  return sign | ((e << 10) + roundShift(mant, 13));
}

/** The float32 bits of float16 `h` (exact: every float16 is a float32). */
function float16ToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0x1f) return (sign | 0x7f800000 | (m ? 0x400000 | (m << 13) : 0)) >>> 0;
  if (e !== 0) return (sign | ((e + 127 - 15) << 23) | (m << 13)) >>> 0;
  if (m === 0) return sign >>> 0;
  // Subnormal: shift the leading one up to the implicit bit.
  let shift = 0;
  while (((m << shift) & 0x400) === 0) shift++;
  return (sign | ((127 - 15 + 1 - shift) << 23) | (((m << shift) & 0x3ff) << 13)) >>> 0;
}

/**
 * The value of float16 bits `h`.
 *
 * @example
 * float16Value(0x7bff); // 65504
 */
export function float16Value(h: number): number {
  u32[0] = float16ToFloat32Bits(h);
  return f32[0]!;
}

/**
 * The bfloat16 bits nearest to `v` (first rounded to float32).
 *
 * @example
 * bfloat16Bits(1); // 0x3f80
 */
export function bfloat16Bits(v: number): number {
  const x = bitsOf(v);
  if ((x & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/**
 * The value of bfloat16 bits `h`.
 *
 * @example
 * bfloat16Value(0x3f80); // 1
 */
export function bfloat16Value(h: number): number {
  u32[0] = (h << 16) >>> 0;
  return f32[0]!;
}

/** float16 → float32 bits for all 65,536 patterns, built on first use (256 KiB). */
let float16Table: Uint32Array | null = null;

/**
 * Widens 16-bit `bits` of `dtype` to float32, bit-exactly (NaN payloads included).
 *
 * @example
 * widenHalf(Uint16Array.of(0x3c00), 'float16'); // Float32Array [1]
 */
export function widenHalf(bits: Uint16Array, dtype: HalfDType, out: Float32Array = new Float32Array(bits.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  if (dtype === 'bfloat16') {
    for (let i = 0; i < bits.length; i++) o[i] = bits[i]! << 16;
    return out;
  }
  if (!float16Table) {
    float16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) float16Table[h] = float16ToFloat32Bits(h);
  }
  const t = float16Table;
  for (let i = 0; i < bits.length; i++) o[i] = t[bits[i]!]!;
  return out;
}

/**
 * Rounds `values` to 16-bit `dtype` bits (nearest, ties to even).
 *
 * @example
 * narrowToHalf([1, 65520], 'float16'); // Uint16Array [0x3c00, 0x7c00]
 */
export function narrowToHalf(values: ArrayLike<number>, dtype: HalfDType): Uint16Array {
  const out = new Uint16Array(values.length);
  const round = dtype === 'float16' ? float16Bits : bfloat16Bits;
  for (let i = 0; i < values.length; i++) out[i] = round(values[i]!);
  return out;
}
