// The backend registry: every backend registers through one shape, { name, checkOptions, create },
// and core checks options before it creates or reconfigures anything.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import {
  type BackendPlugin, TsgradError, getBackendInfo, initBackend, listBackends, registerBackend, removeBackend, setBackend,
} from '../../src/index.js';
import { errorOf } from '../errorOf.js';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, but the call succeeded');
}

describe('backend registry', () => {
  it('the built-in backends are registered once each, cpu ready without awaiting', () => {
    expect(listBackends().filter((n) => ['cpu', 'webgpu', 'gpujs'].includes(n)).sort()).toEqual(['cpu', 'gpujs', 'webgpu']);
    expect(getBackendInfo('cpu').name).toBe('cpu');
  });

  it('refuses bad options of a GPU backend before loading its driver', async () => {
    // Unchecked, { mod: 'cpu' } would have created gpujs in its default WebGL mode.
    const e = await rejection(initBackend('gpujs', { mod: 'cpu' } as never));
    expect(e).toBeInstanceOf(TsgradError);
    expect(e.message).toBe("setBackend: unknown gpujs option 'mod'; known: mode");
    expect((await rejection(initBackend('gpujs', { mode: 'webgl' } as never))).message)
      .toBe("setBackend: gpujs option 'mode' must be 'gpu' or 'cpu' or 'webasm', got string 'webgl'");
    expect((await rejection(initBackend('webgpu', null as never))).message)
      .toBe("setBackend: webgpu options must be an object such as { powerPreference: 'high-performance' }, got null");
    expect((await rejection(initBackend('webgpu', { powerPref: 'low-power' } as never))).message)
      .toBe("setBackend: unknown webgpu option 'powerPref'; known: device, powerPreference, dawnBackend, checkIndices");
    for (const name of ['gpujs', 'webgpu']) expect(() => getBackendInfo(name)).toThrow(`backend '${name}' is not initialized`);
  });

  it('bad options of the existing cpu backend change nothing', async () => {
    const before = getBackendInfo('cpu').path;
    expect((await rejection(setBackend('cpu', { wasm: 1 } as never))).message).toBe("setBackend: cpu option 'wasm' must be true or false, got number 1");
    expect((await rejection(setBackend('cpu', 'js' as never))).message).toBe("setBackend: cpu options must be an object such as { wasm: false }, got string 'js'");
    expect(getBackendInfo('cpu').path).toBe(before);
  });

  it('a plugin of ones own: its check runs first, and create gets the options it passed', async () => {
    const created: unknown[] = [];
    const plugin: BackendPlugin = {
      name: 'cpu-plugin-test',
      checkOptions(options) {
        if (Object.keys(options as object).some((k) => k !== 'lanes')) throw new TsgradError('setBackend', 'cpu-plugin-test takes { lanes }');
      },
      create(options) {
        created.push(options);
        return new CpuBackend();
      },
    };
    registerBackend(plugin);
    expect((await rejection(initBackend('cpu-plugin-test', { lane: 2 }))).message).toBe('setBackend: cpu-plugin-test takes { lanes }');
    expect(created).toEqual([]);
    await initBackend('cpu-plugin-test', { lanes: 2 });
    expect(created).toEqual([{ lanes: 2 }]);
    removeBackend('cpu-plugin-test');
  });

  it('the two-argument form still registers a bare factory', async () => {
    registerBackend('cpu-factory-test', () => new CpuBackend());
    expect((await initBackend('cpu-factory-test')).name).toBe('cpu');
    removeBackend('cpu-factory-test');
  });

  it('refuses a registration it could not create from', () => {
    expect(errorOf(() => registerBackend(null as never)).message).toBe('registerBackend: give a backend { name, checkOptions, create } or a name and a factory');
    expect(errorOf(() => registerBackend('mine', undefined as never)).message).toBe("registerBackend: backend 'mine' needs a create function (the second argument)");
    expect(errorOf(() => registerBackend({ name: 'mine', create: () => new CpuBackend() } as never)).message)
      .toBe("registerBackend: backend 'mine' needs create and checkOptions functions");
    expect(listBackends()).not.toContain('mine');
  });

  it("each backend's options are typed by its name", () => {
    const typed = async () => {
      await setBackend('gpujs', { mode: 'cpu' });
      await setBackend('webgpu', { dawnBackend: 'opengles' });
      // @ts-expect-error wasm is a boolean
      await setBackend('cpu', { wasm: 'yes' });
      await setBackend('anything', { any: 1 });
    };
    expectTypeOf(typed).toBeFunction();
  });
});
