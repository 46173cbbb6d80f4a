import type { DType } from '../../../core/dtype.js';

/** A compiled-once kernel: `key` names the pipeline, `code` builds its WGSL on a cache miss. */
export interface KernelSource {
  key: string;
  code: () => string;
  /** Size of the metadata uniform in vec4<u32>. */
  metaVec4: number;
}

/** Threads per workgroup of the 1-D kernels (WebGPU's default limit, also met by compat mode). */
export const WG = 256;

/** The WGSL type a kernel computes `dtype` in: f32 for the floats (the 16-bit ones are stored packed, see half.ts). */
export function wgslType(dtype: DType): 'f32' | 'i32' {
  if (dtype === 'float64') throw new Error('float64 reached the WebGPU backend');
  return dtype === 'int32' ? 'i32' : 'f32';
}

/** Words of metadata → uniform size, at least 16 vec4 (256 bytes, one offset-alignment slot). */
export function metaSize(words: number): number {
  return Math.max(16, Math.ceil(words / 4));
}

/**
 * Shared helpers. Shapes, strides and offsets arrive in a uniform of u32 words (`M(i)`; `S(i)`
 * reads a word as a signed stride, `F(i)` as f32 bits), so a kernel is compiled once per rank and
 * dtype, never per shape. NaN tests use bit patterns because shader compilers may fold `x != x`.
 */
export function prelude(metaVec4: number): string {
  return /* wgsl */ `
struct Params { v: array<vec4<u32>, ${metaVec4}> }
@group(0) @binding(0) var<uniform> params: Params;
fn M(i: u32) -> u32 { return params.v[i / 4u][i % 4u]; }
fn S(i: u32) -> i32 { return bitcast<i32>(M(i)); }
fn F(i: u32) -> f32 { return bitcast<f32>(M(i)); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn nan_f32() -> f32 { var bits = 0x7fc00000u; return bitcast<f32>(bits); }
fn inf_f32() -> f32 { var bits = 0x7f800000u; return bitcast<f32>(bits); }
fn tanh_safe(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  let ax = abs(x);
  if (ax < 0.625) {
    let z = x * x;
    return ((((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z + 1.33314422036e-1) * z - 3.33332819422e-1) * z * x + x;
  }
  let t = 1.0 - 2.0 / (exp(2.0 * min(ax, 20.0)) + 1.0);
  return select(t, -t, x < 0.0);
}
fn erf_f32(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  let ax = abs(x);
  if (ax >= 4.0) { return sign(x); }
  var r: f32;
  if (ax < 3.0) {
    let x2 = ax * ax;
    var term = ax;
    var sum = ax;
    for (var n = 1; n < 60; n++) {
      term *= (2.0 * x2) / f32(2 * n + 1);
      sum += term;
      if (term < sum * 1e-8) { break; }
    }
    r = 1.1283791670955126 * exp(-x2) * sum;
  } else {
    var f = ax;
    for (var k = 40; k >= 1; k--) { f = ax + f32(k) * 0.5 / f; }
    r = 1.0 - exp(-ax * ax) * 0.5641895835477563 / f;
  }
  return select(r, -r, x < 0.0);
}
fn gelu_f32(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_f32(x * 0.70710678)); }
fn gelu_grad_f32(x: f32) -> f32 {
  let c = clamp(x, -15.0, 15.0);
  return 0.5 * (1.0 + erf_f32(x * 0.70710678)) + c * exp(-0.5 * c * c) * 0.39894228;
}
fn gelu_tanh_f32(x: f32) -> f32 { return 0.5 * x * (1.0 + tanh_safe(0.79788456 * (x + 0.044715 * x * x * x))); }
fn gelu_tanh_grad_f32(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  let c = clamp(x, -15.0, 15.0);
  let t = tanh_safe(0.79788456 * (c + 0.044715 * c * c * c));
  return 0.5 * (1.0 + t) + 0.5 * c * (1.0 - t * t) * 0.79788456 * (1.0 + 0.134145 * c * c);
}
fn pow_signed(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (is_nan(a) || is_nan(b)) { return nan_f32(); }
  if (b == 2.0) { return a * a; }
  if (b == 1.0) { return a; }
  let r = exp2(b * log2(abs(a)));
  if (a < 0.0) {
    if (floor(b) != b) { return nan_f32(); }
    let odd = abs(b) < 16777216.0 && fract(b * 0.5) != 0.0;
    return select(r, -r, odd);
  }
  if (a == 0.0 && b < 0.0) { return inf_f32(); }
  return r;
}
`;
}

/** The linear invocation id of a 1-D kernel dispatched as a 2-D grid (dims over 65535). */
export const LINEAR_ID = /* wgsl */ `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${WG}u + lid;`;

/**
 * WGSL that splits the linear index in `rem` over a row-major `rank`-dim shape stored at word
 * `shapeAt`, adding each coordinate times the stride at word `stridesAt + d` to each target
 * variable. Unrolled: rank is part of every kernel key.
 */
export function unflatten(rank: number, shapeAt: number, targets: [name: string, stridesAt: number][], rem = 'rem'): string {
  const lines: string[] = [];
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`  { let n = M(${shapeAt + d}u); let c = i32(${rem} % n); ${rem} = ${rem} / n;`);
    for (const [name, at] of targets) lines.push(`    ${name} += c * S(${at + d}u);`);
    lines.push('  }');
  }
  return lines.join('\n');
}
