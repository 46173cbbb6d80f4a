// Node's adapters: Dawn through the `webgpu` package. The browser build swaps in adapters.browser.ts.
import { TsgradError } from '../../core/errors.js';
import type { AdapterSource, WebGPUOptions } from './device.js';

export const NO_ADAPTER_HINT =
  'no WebGPU adapter was found. In Node, tsgrad uses the `webgpu` package (Dawn); without a GPU it runs on ' +
  'Mesa llvmpipe through OpenGL ES: install the Debian/Ubuntu packages libegl-mesa0 libgles2 mesa-vulkan-drivers ' +
  'and set EGL_PLATFORM=surfaceless';

/** Dawn's backend for a `create()` flag list, as reported in the info. */
function nativeBackendName(): string {
  return process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan';
}

/**
 * Dawn instances stay referenced for the life of the process: letting the garbage collector
 * destroy one (even one that found no adapter) can abort the process from a native thread.
 */
const instances: GPU[] = [];

/**
 * Where Node finds adapters, in order: the native GPU API first, then OpenGL ES in
 * compatibility mode, which is what runs on Mesa's llvmpipe on machines without a GPU.
 */
export async function adapterSources(options: WebGPUOptions): Promise<AdapterSource[]> {
  let dawn: { create(flags: string[]): GPU; globals: object };
  try {
    dawn = (await import('webgpu')) as typeof dawn;
  } catch (e) {
    throw new TsgradError('setBackend', `the 'webgpu' package (Dawn for Node) could not be loaded (${(e as Error).message}); install it with npm i webgpu`);
  }
  // Dawn's constants (GPUBufferUsage...) are globals in browsers; provide them once in Node.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const instance = (flags: string[]) => {
    const gpu = dawn.create(flags);
    instances.push(gpu);
    return gpu;
  };
  const mode = options.dawnBackend ?? 'auto';
  const sources: AdapterSource[] = [];
  if (mode !== 'opengles') {
    sources.push({
      backendType: nativeBackendName(),
      featureLevel: 'core',
      request: () => instance([]).requestAdapter({ powerPreference: options.powerPreference }),
    });
  }
  if (mode !== 'native') {
    sources.push({
      backendType: 'opengles',
      featureLevel: 'compatibility',
      request: () => {
        // Headless EGL needs the surfaceless platform; respect a value the user set.
        process.env['EGL_PLATFORM'] ??= 'surfaceless';
        return instance(['backend=opengles']).requestAdapter({ featureLevel: 'compatibility', powerPreference: options.powerPreference } as GPURequestAdapterOptions);
      },
    });
  }
  return sources;
}
