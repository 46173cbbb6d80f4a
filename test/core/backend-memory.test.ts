// Core counts every backend's live storages and bytes itself, in the wrapper that sees each
// storage a primitive returns and each free: a backend implements no memory() of its own.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { installBackend } from '../../src/core/backend.js';
import { type BackendImplementation, ones, removeBackend, tensor, zeros } from '../../src/index.js';

describe('storage accounting in core', () => {
  it('counts what primitives return until it is freed, by the bytes the backend reports', () => {
    const raw = new CpuBackend({ wasm: false });
    expect('memory' in raw).toBe(false);
    const b = installBackend('cpu-memory-test', raw);
    expect(b.memory()).toEqual({ buffers: 0, bytes: 0 });
    const x = tensor([1, 2, 3], { backend: 'cpu-memory-test' });
    const s = x.add(x);
    const y = s.mul(x);
    // x, x + x and the product; float64 storages count 8 bytes an element.
    const w = tensor([1, 2], { backend: 'cpu-memory-test', dtype: 'float64' });
    expect(b.memory()).toEqual({ buffers: 4, bytes: 3 * 12 + 16 });
    // copy_ writes into an existing storage: nothing new to count.
    const z = zeros([3], { backend: 'cpu-memory-test' });
    const o = ones([3], { backend: 'cpu-memory-test' });
    z.copy_(o);
    expect(b.memory()).toEqual({ buffers: 6, bytes: 5 * 12 + 16 });
    for (const t of [x, s, y, w, z]) t.dispose();
    expect(b.memory()).toEqual({ buffers: 1, bytes: 12 });
    o.dispose();
    expect(b.memory()).toEqual({ buffers: 0, bytes: 0 });
    removeBackend('cpu-memory-test');
  });

  it('counts nothing after destroy(), and frees after it release nothing twice', () => {
    const raw = new CpuBackend({ wasm: false });
    const destroyable: BackendImplementation = Object.assign(Object.create(raw) as CpuBackend, { destroy: () => undefined });
    const b = installBackend('cpu-destroy-test', destroyable);
    const x = tensor([1, 2, 3, 4], { backend: 'cpu-destroy-test' });
    expect(b.memory()).toEqual({ buffers: 1, bytes: 16 });
    removeBackend('cpu-destroy-test');
    expect(b.memory()).toEqual({ buffers: 0, bytes: 0 });
    x.dispose();
    expect(b.memory()).toEqual({ buffers: 0, bytes: 0 });
  });
});
