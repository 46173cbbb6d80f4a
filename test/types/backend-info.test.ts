// getBackendInfo is typed by the name passed: each backend's fields by dot access, no casts.
// `npm run typecheck` checks the types here (a wrong type fails it); the runtime tests check
// that the cpu info really has the fields its type promises.
import { describe, expectTypeOf, expect, it } from 'vitest';
import { type BackendInfo, type CpuInfo, type GpuJsInfo, type InfoOf, type WebGPUInfo, getBackendInfo } from '../../src/index.js';

describe('getBackendInfo types', () => {
  it('selects each backend info by name', () => {
    expectTypeOf(getBackendInfo<'cpu'>).returns.toEqualTypeOf<{ name: 'cpu' } & CpuInfo>();
    expectTypeOf(getBackendInfo<'webgpu'>).returns.toEqualTypeOf<{ name: 'webgpu' } & WebGPUInfo>();
    expectTypeOf(getBackendInfo<'gpujs'>).returns.toEqualTypeOf<{ name: 'gpujs' } & GpuJsInfo>();
    // An undeclared backend's info is still an object with a name (declaring one: browser-snippets.test.ts).
    expectTypeOf<InfoOf<'other'>>().toEqualTypeOf<{ name: 'other' } & Record<string, unknown>>();
    const typed = () => {
      const cpu = getBackendInfo('cpu');
      expectTypeOf(cpu.path).toEqualTypeOf<'wasm' | 'js'>();
      expectTypeOf(cpu.threads).toEqualTypeOf<number>();
      expectTypeOf(getBackendInfo('webgpu').limits).toEqualTypeOf<Record<string, number>>();
      expectTypeOf(getBackendInfo('gpujs').kernelType).toEqualTypeOf<string>();
      // @ts-expect-error the cpu backend has no kernel type
      void cpu.kernelType;
    };
    expect(typeof typed).toBe('function');
  });

  it('without a name, the current backend info tells the backends apart by name', () => {
    const describe = (info: BackendInfo): string =>
      info.name === 'webgpu' ? info.backendType : info.name === 'gpujs' ? info.kernelType : info.path;
    expectTypeOf(getBackendInfo).toBeCallableWith();
    expect(['wasm', 'js']).toContain(describe(getBackendInfo()));
  });

  it('the cpu info has the fields CpuInfo names', () => {
    const info = getBackendInfo('cpu');
    expect(Object.keys(info).sort()).toEqual(['name', 'path', 'simd', 'threads', 'wasmBytes']);
  });
});
