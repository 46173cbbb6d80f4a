// The CPU backend's WebAssembly memory as an allocator: size classes, reuse of freed blocks,
// storages that stay valid while the memory grows, the fallback when it is full, and, through
// the backend, blocks that come back on dispose and on garbage collection.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Arena, SLACK, sizeClass } from '../../src/backends/cpu/wasm/arena.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import { getBackendInfo, randn, scope, tensor } from '../../src/index.js';
import { collectGarbage } from '../gc.js';

describe('sizeClass', () => {
  it('is a multiple of 16, at least the request and at most an eighth above it (past 1 KiB)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 30 }), (bytes) => {
        const c = sizeClass(bytes);
        expect(c % 16).toBe(0);
        expect(c).toBeGreaterThanOrEqual(bytes);
        expect(c - bytes).toBeLessThanOrEqual(Math.max(15, bytes / 8));
      }),
    );
  });
});

describe('Arena', () => {
  const rt = startWasm()!;

  it('keeps float32 storages in the shared memory, with the slack after each one free', () => {
    const arena = new Arena(rt);
    expect(arena.resident).toBe(true);
    const a = arena.float32(5)!, b = arena.float32(5)!;
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(arena.addressOf(a) % 16).toBe(0);
    expect(arena.addressOf(b) - arena.addressOf(a)).toBeGreaterThanOrEqual(5 * 4 + SLACK);
    expect(arena.addressOf(new Float32Array(5))).toBe(-1);
    expect(arena.float32(0)).toBeNull();
  });

  it('hands a freed block to the next storage of its class, and nothing else', () => {
    const arena = new Arena(rt);
    const a = arena.float32(1000)!;
    const at = arena.addressOf(a);
    expect(arena.release(a)).toBe(true);
    expect(arena.release(new Float32Array(1000))).toBe(false);
    expect(arena.addressOf(arena.float32(3000)!)).not.toBe(at);
    expect(arena.addressOf(arena.float32(1000)!)).toBe(at);
    const used = arena.usedBytes;
    for (let i = 0; i < 100; i++) arena.release(arena.float32(1000)!);
    expect(arena.usedBytes).toBe(used + sizeClass(1000 * 4 + SLACK));
  });

  it('leaves every storage valid and unchanged while the memory grows under it', () => {
    const arena = new Arena(rt);
    const small = arena.float32(4)!;
    small.set([1, 2, 3, 4]);
    const before = rt.memory.buffer.byteLength;
    const big = arena.float32(4 << 20)!; // 16 MiB: the memory must grow
    expect(rt.memory.buffer.byteLength).toBeGreaterThan(before);
    big.fill(7);
    expect(Array.from(small)).toEqual([1, 2, 3, 4]);
    expect(arena.addressOf(small)).toBeGreaterThan(0);
    expect(arena.release(small)).toBe(true);
  });

  it('stops placing storages at its limit, and the backend then uses ordinary arrays', () => {
    const arena = new Arena(rt, 1 << 16);
    const got: (Float32Array | null)[] = [];
    for (let i = 0; i < 64; i++) got.push(arena.float32(1024));
    expect(got.filter((a) => a === null).length).toBeGreaterThan(0);
    expect(arena.usedBytes).toBeLessThanOrEqual(1 << 16);
    // Scratch may still use the memory past the storages' limit.
    expect(arena.scratch(1 << 20)).toBeGreaterThan(0);
  });

  it('reuses one scratch block while it is large enough', () => {
    const arena = new Arena(rt);
    const at = arena.scratch(1000);
    expect(arena.scratch(500)).toBe(at);
    expect(arena.scratch(5000)).not.toBe(at);
  });
});

describe('the cpu backend on its WebAssembly path', () => {
  it('puts float32 tensors in the module memory, and reads them out as ordinary copies', () => {
    const x = tensor([1, 2, 3]);
    const view = x._view('test').storage as Float32Array;
    expect(view.buffer).toBeInstanceOf(SharedArrayBuffer);
    const read = x.dataSync();
    expect(read.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    read[0] = 99;
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3]);
    expect((tensor([1, 2], { dtype: 'int32' })._view('test').storage as Int32Array).buffer).not.toBeInstanceOf(SharedArrayBuffer);
  });

  const used = () => getBackendInfo('cpu')['wasmBytes'] as number;

  it('gets every block back on dispose: a training-like loop stops growing the memory after its first step', () => {
    const w = randn([64, 64]);
    const step = () => scope(() => w.matmul(randn([64, 64])).relu().sum().exp().dataSync());
    step();
    const after = used();
    expect(after).toBeGreaterThan(0);
    for (let i = 0; i < 200; i++) step();
    expect(used()).toBe(after);
  });

  it('gets a block back when a tensor nobody disposed is garbage-collected', async () => {
    const churn = () => {
      for (let i = 0; i < 50; i++) randn([256, 256]).exp();
    };
    churn();
    await collectGarbage();
    const after = used();
    churn();
    await collectGarbage();
    expect(used()).toBe(after);
  });
});
