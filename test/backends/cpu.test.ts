// The CPU backend's info on its default WebAssembly path. The shared suites run from
// test/matrix.ts (its 'cpu' entry; 'cpu-js' is the JavaScript path).
import { describe, expect, it } from 'vitest';
import { getBackendInfo } from '../../src/index.js';
import { SIMD_PROBE, expectedSimd, nodeGivesRelaxed } from './support/wasmProbes.js';

describe('cpu backend info', () => {
  it('says which path and which SIMD flavour is in use', () => {
    // Relaxed SIMD wherever Node has it, behind a flag or not (the backend sets Node 20's);
    // cpu-wasm.test.ts reruns this file with TSGRAD_CPU_RELAXED=0, on plain SIMD128.
    expect(WebAssembly.validate(SIMD_PROBE)).toBe(true);
    const info = getBackendInfo('cpu');
    expect(info).toMatchObject({ name: 'cpu', path: 'wasm', simd: expectedSimd() });
    expect(info.simd).toBe(process.env.TSGRAD_EXPECT_SIMD ?? (nodeGivesRelaxed ? 'relaxed-simd' : 'simd128'));
    expect(getBackendInfo('cpu')['threads']).toBeGreaterThanOrEqual(1);
  });
});
