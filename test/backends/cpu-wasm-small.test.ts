// The WebAssembly elementwise, reduction and softmax kernels taking every float32 op they cover,
// however small (they normally start at 2,048 elements). The conformance suite runs so from
// test/matrix.ts (its 'cpu-wasm-small' entry).
import { describe, expect, it, vi } from 'vitest';
import { WasmElementwise, configureWasmElementwise } from '../../src/backends/cpu/wasm/kernels.js';
import { WasmReductions } from '../../src/backends/cpu/wasm/reductions.js';
import { backendStats, randn, resetStats } from '../../src/index.js';

configureWasmElementwise({ minElements: 1, minInMemory: 1, minRow: 1 });

describe('small tensors through the wasm kernels', () => {
  it('run there, and give the results of the plain definitions for odd lengths and row broadcasts', () => {
    resetStats('cpu');
    const binary = vi.spyOn(WasmElementwise.prototype, 'binary'), unary = vi.spyOn(WasmElementwise.prototype, 'unary');
    const a = randn([3, 5]), b = randn([5]);
    const [x, y] = [a.dataSync(), b.dataSync()];
    const sum = a.add(b).dataSync(), e = a.exp().dataSync();
    for (let i = 0; i < 15; i++) {
      expect(sum[i]).toBe(Math.fround(x[i]! + y[i % 5]!));
      expect(Math.abs(e[i]! - Math.exp(x[i]!))).toBeLessThanOrEqual(2.4e-7 * Math.exp(x[i]!));
    }
    expect(backendStats('cpu').byOp.get('binary:add')).toBe(1);
    expect(binary.mock.results.map((r) => r.value)).toEqual([sum]);
    expect(unary.mock.results.map((r) => r.value)).toEqual([e]);
    vi.restoreAllMocks();
  });
});

describe('small reductions and softmax through the wasm kernels', () => {
  it('run there', () => {
    const reduce = vi.spyOn(WasmReductions.prototype, 'reduce'), softmax = vi.spyOn(WasmReductions.prototype, 'softmax');
    const a = randn([3, 5]);
    a.sum(-1).dataSync();
    a.max(0).dataSync();
    a.logSoftmax(-1).dataSync();
    expect(reduce.mock.results.map((r) => r.value === null)).toEqual([false, false]);
    expect(softmax.mock.results.map((r) => r.value === null)).toEqual([false]);
    vi.restoreAllMocks();
  });
});
