// Hand-assembled WebAssembly modules, independent of the backend's emitter, that tell a test
// which SIMD flavour this engine accepts.

const zeros16 = new Array<number>(16).fill(0);
/** A module of one function `() -> v128` whose body is `body` (no locals). */
function moduleReturningV128(body: number[]): Uint8Array<ArrayBuffer> {
  const code = [0x00, ...body, 0x0b];
  return new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 10, code.length + 2, 1, code.length, ...code]);
}

/** v128.const 0 */
export const SIMD_PROBE = moduleReturningV128([0xfd, 0x0c, ...zeros16]);
/** f32x4.relaxed_madd(v128.const 0, v128.const 0, v128.const 0) */
export const RELAXED_PROBE = moduleReturningV128([...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...zeros16]), 0xfd, 0x85, 0x02]);

/** The flavour the cpu backend must pick here. */
export function expectedSimd(): 'relaxed-simd' | 'simd128' {
  return WebAssembly.validate(RELAXED_PROBE) ? 'relaxed-simd' : 'simd128';
}

/** The Node major version running the tests. */
export const nodeMajor = Number(process.versions.node.split('.')[0]);

/**
 * Whether the cpu backend gets relaxed SIMD from this Node: by default from Node 22, and from
 * 20.16 (the first with process.getBuiltinModule) by setting V8's flag itself.
 */
export const nodeGivesRelaxed = nodeMajor >= 22 || typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule === 'function';
