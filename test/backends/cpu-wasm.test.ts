// The WebAssembly emitter's encodings, the module's SIMD flavours (relaxed SIMD wherever Node has
// it, Node 20's flag set by the backend), and the conformance suite and matmul tests rerun on plain
// SIMD128 in a child Node told to keep it.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { s32, u32 } from '../../src/backends/cpu/wasm/emitter.js';
import { moduleBytes, startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import { RELAXED_PROBE, expectedSimd, nodeGivesRelaxed, nodeMajor } from './support/wasmProbes.js';

describe('wasm emitter', () => {
  it('encodes LEB128 as the WebAssembly spec does', () => {
    // The spec's and DWARF's worked examples.
    expect(u32(0)).toEqual([0]);
    expect(u32(127)).toEqual([0x7f]);
    expect(u32(128)).toEqual([0x80, 0x01]);
    expect(u32(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(s32(-1)).toEqual([0x7f]);
    expect(s32(63)).toEqual([0x3f]);
    expect(s32(64)).toEqual([0xc0, 0x00]);
    expect(s32(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });
});

describe('wasm runtime', () => {
  it("keeps each module under browsers' 4 KiB limit for compiling on a page's main thread", () => {
    for (const relaxed of [false, true]) {
      const modules = moduleBytes(relaxed, true);
      expect(modules).toHaveLength(12);
      for (const m of modules) expect(m.length).toBeLessThan(4096);
    }
  });

  it('picks relaxed SIMD exactly where the engine validates it, and plain SIMD128 when asked', () => {
    expect(startWasm()!.simd).toBe(expectedSimd());
    expect(startWasm({ relaxed: false })!.simd).toBe('simd128');
  });

  it("turns on Node 20's relaxed SIMD flag, but not where the process froze its flags", () => {
    // Once a runtime has started, relaxed SIMD validates in this process; a process started with
    // --freeze-flags-after-init, where V8 stops on any later flag change, keeps SIMD128.
    if (nodeGivesRelaxed) {
      expect(startWasm()!.simd).toBe('relaxed-simd');
      expect(WebAssembly.validate(RELAXED_PROBE)).toBe(true);
    }
    const script = "const { startWasm } = await import('./src/backends/cpu/wasm/runtime.ts'); console.log(startWasm().simd);";
    const frozen = spawnSync(process.execPath, ['--freeze-flags-after-init', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(frozen.stderr).toBe('');
    expect(frozen.status).toBe(0);
    expect(frozen.stdout.trim()).toBe(nodeMajor >= 22 ? 'relaxed-simd' : 'simd128');
  });

  it('passes the conformance suite and the matmul tests on plain SIMD128 (TSGRAD_CPU_RELAXED=0)', async () => {
    // This process runs relaxed SIMD (above); a child told not to keeps SIMD128 and leaves the
    // flag alone, its worker threads too. Asynchronous, so this test's worker keeps answering
    // vitest while the child runs.
    const run = await promisify(execFile)(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', 'test/conformance/cpu.test.ts', 'test/backends/cpu.test.ts', 'test/backends/cpu-matmul.test.ts', '--pool=threads', '--reporter=dot'],
      { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: undefined, NO_COLOR: '1', TSGRAD_CPU_RELAXED: '0', TSGRAD_EXPECT_SIMD: 'simd128' }, timeout: 280_000 },
    ).catch((e: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`the SIMD128 run failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    });
    expect(run.stdout).toMatch(/Tests\s+\d+ passed/);
  }, 300_000);
});
