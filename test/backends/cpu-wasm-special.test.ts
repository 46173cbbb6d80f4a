// The WebAssembly SIMD log, erf and tanh kernels against float64 references over the whole float32
// range (dense near 0 and ±4, log-spaced out to 1e38 and down to the subnormals), and every
// special-function kernel against the JavaScript path at ±0, ±∞ and NaN.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { configureWasmElementwise } from '../../src/backends/cpu/wasm/kernels.js';
import { WASM_SPECIAL } from '../../src/backends/cpu/wasm/special.js';
import type { UnaryOp } from '../../src/core/backend.js';
import { erfRef } from '../conformance/reference.js';

const wasm = new CpuBackend({ wasm: true });
const js = new CpuBackend({ wasm: false });

function apply(cpu: CpuBackend, op: UnaryOp, x: Float32Array): Float32Array {
  return cpu.unary(op, { storage: cpu.upload(x), shape: [x.length], strides: [1], offset: 0, dtype: 'float32' }) as Float32Array;
}

/** The spacing of float32 values at |v| (the subnormal spacing at 0). */
function ulp(v: number): number {
  const f = new Float32Array([Math.abs(v)]);
  const bits = new Int32Array(f.buffer);
  const lo = f[0]!;
  bits[0]! += 1;
  return Math.max(f[0]! - lo, 2 ** -149);
}

function points(): Float32Array {
  const v: number[] = [];
  for (let i = -6000; i <= 6000; i++) v.push(i / 1000);
  for (let e = -44; e <= 38; e += 0.02) v.push(10 ** e, -(10 ** e));
  return Float32Array.from(v);
}

/** The largest error in float32 ulps of the reference value. */
function maxUlps(got: Float32Array, x: Float32Array, ref: (v: number) => number): { ulps: number; at: number } {
  let worst = { ulps: 0, at: 0 };
  got.forEach((g, i) => {
    const r = ref(x[i]!);
    const u = Math.abs(g - r) / ulp(r);
    if (!(u <= worst.ulps)) worst = { ulps: u, at: x[i]! };
  });
  return worst;
}

describe('WebAssembly special functions', () => {
  let before: ReturnType<typeof configureWasmElementwise>;
  beforeAll(() => {
    before = configureWasmElementwise({ minElements: 1, minInMemory: 1, minRow: 1 });
  });
  afterAll(() => configureWasmElementwise(before));

  it('computes erf to 3 ulp (Simpson-integrated reference)', () => {
    expect(wasm.info.path).toBe('wasm');
    const x = points();
    expect(maxUlps(apply(wasm, 'erf', x), x, (v) => (Math.abs(v) >= 6 ? Math.sign(v) : erfRef(v))).ulps).toBeLessThanOrEqual(3);
  });

  it('computes tanh to 2 ulp (Math.tanh), tiny |x| included', () => {
    const x = points();
    expect(maxUlps(apply(wasm, 'tanh', x), x, Math.tanh).ulps).toBeLessThanOrEqual(2);
  });

  it('computes log to 2 ulp (Math.log), subnormals included', () => {
    const x = points().map(Math.abs).filter((v) => v > 0);
    expect(maxUlps(apply(wasm, 'log', x), x, Math.log).ulps).toBeLessThanOrEqual(2);
  });

  it.each(WASM_SPECIAL)('%s agrees with the JavaScript path at ±0, ±∞, NaN and past the clamps', (op) => {
    const x = Float32Array.from([0, -0, 1e-7, -1e-7, Infinity, -Infinity, NaN, 1e30, -1e30, 40, -40, 2 ** -149, -(2 ** -149)]);
    const got = [...apply(wasm, op, x)], want = [...apply(js, op, x)];
    got.forEach((g, i) => {
      if (Math.abs(want[i]!) > 1e-30 && Number.isFinite(want[i]!)) expect(Math.abs(g - want[i]!), `${op}(${x[i]})`).toBeLessThanOrEqual(4 * ulp(want[i]!));
      else expect(g, `${op}(${x[i]})`).toBe(want[i]!);
    });
  });
});
