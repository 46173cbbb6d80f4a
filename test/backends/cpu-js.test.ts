// The CPU backend's plain-JavaScript path (`setBackend('cpu', { wasm: false })`) through the
// same conformance suite as every backend; test/backends/cpu.test.ts runs the WebAssembly path.
import { describe, expect, it, vi } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { getBackendInfo, setBackend } from '../../src/index.js';
import { defineConformance } from '../conformance/suite.js';

defineConformance('cpu', {
  init: async () => {
    await setBackend('cpu', { wasm: false });
    if (getBackendInfo('cpu')['path'] !== 'js') throw new Error('the cpu backend did not switch to its JavaScript path');
  },
});

describe('cpu backend options', () => {
  it('reports the JavaScript path, and refuses bad options without changing it', async () => {
    // The options are typed; untyped callers (plain JS) can still pass anything, so cast here.
    await setBackend('cpu', { wasm: false });
    expect(getBackendInfo('cpu')).toMatchObject({ name: 'cpu', path: 'js', simd: null });
    await expect(setBackend('cpu', { wasm: 'yes' } as never)).rejects.toThrow(/cpu option 'wasm' must be true or false, got string 'yes'/);
    await expect(setBackend('cpu', { wasm: true, threads: 2 } as never)).rejects.toThrow(/unknown cpu option 'threads'/);
    expect(getBackendInfo('cpu')['path']).toBe('js');
  });

  it('keeps the JavaScript path under TSGRAD_CPU_WASM=0 unless the option says otherwise', () => {
    vi.stubEnv('TSGRAD_CPU_WASM', '0');
    try {
      expect(new CpuBackend().info.path).toBe('js');
      expect(new CpuBackend({ wasm: true }).info.path).toBe('wasm');
    } finally {
      vi.unstubAllEnvs();
    }
    expect(new CpuBackend().info.path).toBe('wasm');
  });
});
