// The CPU backend's options: the plain-JavaScript path (`setBackend('cpu', { wasm: false })`).
// The conformance suite runs on it from test/matrix.ts (its 'cpu-js' entry).
import { describe, expect, it, vi } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { getBackendInfo, setBackend } from '../../src/index.js';

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
