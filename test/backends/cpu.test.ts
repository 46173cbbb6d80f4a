// The CPU backend's info on its default WebAssembly path. The shared suites run from
// test/matrix.ts (its 'cpu' entry; 'cpu-js' is the JavaScript path).
import { describe, expect, it } from 'vitest';
import { getBackendInfo } from '../../src/index.js';
import { SIMD_PROBE, expectedSimd } from './support/wasmProbes.js';

describe('cpu backend info', () => {
  it('says which path and which SIMD flavour is in use', () => {
    // Node 20 validates relaxed SIMD only behind --experimental-wasm-relaxed-simd (cpu-wasm.test.ts
    // reruns this file so).
    expect(WebAssembly.validate(SIMD_PROBE)).toBe(true);
    if (process.env.TSGRAD_EXPECT_RELAXED) expect(expectedSimd()).toBe('relaxed-simd');
    expect(getBackendInfo('cpu')).toMatchObject({ name: 'cpu', path: 'wasm', simd: expectedSimd() });
    expect(getBackendInfo('cpu')['threads']).toBeGreaterThanOrEqual(1);
  });
});
