import { TsgradError } from '../../core/errors.js';

/** Options of `setBackend('webgpu', options)`. */
export interface WebGPUOptions {
  /** Use this device instead of finding one (the caller keeps ownership of its lifetime). */
  device?: GPUDevice;
  powerPreference?: GPUPowerPreference;
  /**
   * Which Dawn backend to try in Node: `'auto'` (default: the platform's native GPU API, then
   * OpenGL ES in compatibility mode), `'native'` or `'opengles'` only.
   */
  dawnBackend?: 'auto' | 'native' | 'opengles';
}

/** What the backend found and runs on, for logs and bug reports. */
export interface WebGPUInfo {
  vendor: string;
  architecture: string;
  /** The adapter's device name, e.g. `llvmpipe-llvm-15-0-6-256-bits-`. */
  device: string;
  description: string;
  /** Dawn's backend (`vulkan`, `metal`, `d3d12`, `opengles`...) or `browser`/`user-device`. */
  backendType: string;
  featureLevel: 'core' | 'compatibility';
  /** True for a software adapter (llvmpipe/lavapipe/SwiftShader). */
  software: boolean;
  /** The device limits the kernels were sized for. */
  limits: Record<string, number>;
}

export const INSTALL_HINT =
  'no WebGPU adapter was found. In Node, tsgrad uses the `webgpu` package (Dawn); without a GPU it runs on ' +
  'Mesa llvmpipe through OpenGL ES: install the Debian/Ubuntu packages libegl-mesa0 libgles2 mesa-vulkan-drivers ' +
  'and set EGL_PLATFORM=surfaceless';

/** Limits the kernels use: asked for up to these values (never above the adapter's). */
const WANTED_LIMITS: Record<string, number> = {
  maxStorageBuffersPerShaderStage: 8,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupStorageSize: 32768,
  maxStorageBufferBindingSize: Number.MAX_SAFE_INTEGER,
  maxBufferSize: Number.MAX_SAFE_INTEGER,
  maxComputeWorkgroupsPerDimension: 65535,
};

/** The least each limit must be for the kernels to run at all. */
const REQUIRED_LIMITS: Record<string, number> = {
  maxStorageBuffersPerShaderStage: 4,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupStorageSize: 8192,
};

export interface AcquiredDevice {
  device: GPUDevice;
  info: WebGPUInfo;
  /** True when tsgrad created the device and should destroy it. */
  owned: boolean;
}

function describeAdapter(adapter: GPUAdapter | null, device: GPUDevice, backendType: string, featureLevel: WebGPUInfo['featureLevel']): WebGPUInfo {
  const a = (adapter?.info ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo) as GPUAdapterInfo | undefined;
  const description = a?.description ?? '';
  const limits: Record<string, number> = {};
  for (const k of Object.keys(WANTED_LIMITS)) limits[k] = Number((device.limits as unknown as Record<string, number>)[k]);
  limits['minUniformBufferOffsetAlignment'] = device.limits.minUniformBufferOffsetAlignment;
  const name = (a as GPUAdapterInfo & { device?: string } | undefined)?.device ?? '';
  return {
    vendor: a?.vendor ?? '',
    architecture: a?.architecture ?? '',
    device: name,
    description,
    backendType,
    featureLevel,
    software: /llvmpipe|lavapipe|swiftshader|software/i.test(`${name} ${description} ${a?.vendor ?? ''} ${a?.architecture ?? ''}`) || (adapter as GPUAdapter & { isFallbackAdapter?: boolean })?.isFallbackAdapter === true,
    limits,
  };
}

function checkLimits(device: GPUDevice): void {
  const have = device.limits as unknown as Record<string, number>;
  for (const [k, need] of Object.entries(REQUIRED_LIMITS)) {
    if (have[k]! < need) throw new TsgradError('setBackend', `the WebGPU device allows ${k} = ${have[k]}; tsgrad's kernels need at least ${need}`);
  }
}

async function deviceFrom(adapter: GPUAdapter, backendType: string, featureLevel: WebGPUInfo['featureLevel']): Promise<AcquiredDevice> {
  const have = adapter.limits as unknown as Record<string, number>;
  const requiredLimits: Record<string, number> = {};
  for (const [k, want] of Object.entries(WANTED_LIMITS)) if (k in adapter.limits) requiredLimits[k] = Math.min(want, have[k]!);
  const device = await adapter.requestDevice({ requiredLimits });
  checkLimits(device);
  return { device, info: describeAdapter(adapter, device, backendType, featureLevel), owned: true };
}

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
 * Finds a device: the caller's, the browser's `navigator.gpu`, or (in Node) Dawn through the
 * `webgpu` package: the native GPU API first, then OpenGL ES in compatibility mode, which is
 * what runs on Mesa's llvmpipe on machines without a GPU.
 */
export async function acquireDevice(options: WebGPUOptions = {}): Promise<AcquiredDevice> {
  if (options.device) {
    checkLimits(options.device);
    return { device: options.device, info: describeAdapter(null, options.device, 'user-device', 'core'), owned: false };
  }
  const browserGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (browserGpu && !isNode) {
    const adapter = await browserGpu.requestAdapter({ powerPreference: options.powerPreference });
    if (!adapter) throw new TsgradError('setBackend', 'this browser exposes WebGPU but returned no adapter');
    return deviceFrom(adapter, 'browser', 'core');
  }
  let dawn: { create(flags: string[]): GPU; globals: object };
  try {
    dawn = (await import('webgpu')) as typeof dawn;
  } catch (e) {
    throw new TsgradError('setBackend', `the 'webgpu' package (Dawn for Node) could not be loaded (${(e as Error).message}); install it with npm i webgpu`);
  }
  // Dawn's constants (GPUBufferUsage...) are globals in browsers; provide them once in Node.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const mode = options.dawnBackend ?? 'auto';
  const instance = (flags: string[]) => {
    const gpu = dawn.create(flags);
    instances.push(gpu);
    return gpu;
  };
  const failures: string[] = [];
  if (mode !== 'opengles') {
    try {
      const adapter = await instance([]).requestAdapter({ powerPreference: options.powerPreference });
      if (adapter) return await deviceFrom(adapter, nativeBackendName(), 'core');
      failures.push(`${nativeBackendName()}: no adapter`);
    } catch (e) {
      failures.push(`${nativeBackendName()}: ${(e as Error).message}`);
    }
  }
  if (mode !== 'native') {
    // Headless EGL needs the surfaceless platform; respect a value the user set.
    process.env['EGL_PLATFORM'] ??= 'surfaceless';
    try {
      const adapter = await instance(['backend=opengles']).requestAdapter({ featureLevel: 'compatibility', powerPreference: options.powerPreference } as GPURequestAdapterOptions);
      if (adapter) return await deviceFrom(adapter, 'opengles', 'compatibility');
      failures.push('opengles: no adapter');
    } catch (e) {
      failures.push(`opengles: ${(e as Error).message}`);
    }
  }
  throw new TsgradError('setBackend', `${INSTALL_HINT} (tried ${failures.join('; ')})`);
}
