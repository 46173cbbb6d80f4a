// The WebAssembly emitter's encodings, the module's SIMD flavours, and the conformance suite and
// matmul tests rerun on relaxed SIMD in a child Node that accepts it.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { s32, u32 } from '../../src/backends/cpu/wasm/emitter.js';
import { moduleBytes, startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import { RELAXED_PROBE, expectedSimd } from './support/wasmProbes.js';

const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';

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

  it('passes the conformance suite and the matmul tests on relaxed SIMD', async () => {
    const probe = spawnSync(process.execPath, [RELAXED_FLAG, '-e', `process.exit(WebAssembly.validate(new Uint8Array([${RELAXED_PROBE.join(',')}])) ? 0 : 3)`]);
    if (probe.status !== 0) {
      if (process.env.CI) throw new Error(`this Node (${process.version}) does not validate relaxed SIMD even with ${RELAXED_FLAG}`);
      console.warn(`\n*** SKIPPING the relaxed-SIMD run: Node ${process.version} rejects it even with ${RELAXED_FLAG}\n`);
      return;
    }
    // V8 flags are per process, so the workers (threads pool) see relaxed SIMD too. Asynchronous,
    // so this test's worker keeps answering vitest while the child runs.
    const run = await promisify(execFile)(
      process.execPath,
      [RELAXED_FLAG, 'node_modules/vitest/vitest.mjs', 'run', 'test/conformance/cpu.test.ts', 'test/backends/cpu.test.ts', 'test/backends/cpu-matmul.test.ts', '--pool=threads', '--reporter=dot'],
      { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: undefined, NO_COLOR: '1', TSGRAD_EXPECT_RELAXED: '1' }, timeout: 280_000 },
    ).catch((e: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`the relaxed-SIMD run failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    });
    expect(run.stdout).toMatch(/Tests\s+\d+ passed/);
  }, 300_000);
});
