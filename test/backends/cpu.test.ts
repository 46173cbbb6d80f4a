// The CPU backend in float32 against CPU float64: the same suite every backend runs, here on
// its default WebAssembly path (test/backends/cpu-js.test.ts runs the JavaScript one).
import { describe, expect, it } from 'vitest';
import { getBackendInfo } from '../../src/index.js';
import { defineConformance } from '../conformance/suite.js';
import { SIMD_PROBE, expectedSimd } from './support/wasmProbes.js';

defineConformance('cpu', {
  init: async () => {
    if (getBackendInfo('cpu')['path'] !== 'wasm') throw new Error(`the cpu backend is not on its WebAssembly path: ${JSON.stringify(getBackendInfo('cpu'))}`);
  },
});

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
