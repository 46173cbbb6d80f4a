import { TsgradError } from '../../core/errors.js';
import { NO_ADAPTER_HINT, adapterSources } from './adapters.js';
import type { WebGPUInfo } from './options.js';

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


/** One place to ask for an adapter: a Dawn instance in Node, `navigator.gpu` in browsers. */
export interface AdapterSource {
  /** Dawn's backend (`vulkan`, `opengles`...) or `browser`, as reported in the info. */
  backendType: string;
  featureLevel: WebGPUInfo['featureLevel'];
  request(): Promise<GPUAdapter | null>;
}

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

/**
 * Finds a device: the caller's, or the first adapter of the platform's sources (Node: Dawn
 * through the `webgpu` package, native GPU API then OpenGL ES; browsers: `navigator.gpu`).
 */
export async function acquireDevice(options: WebGPUOptions = {}): Promise<AcquiredDevice> {
  if (options.device) {
    checkLimits(options.device);
    return { device: options.device, info: describeAdapter(null, options.device, 'user-device', 'core'), owned: false };
  }
  const failures: string[] = [];
  for (const source of await adapterSources(options)) {
    try {
      const adapter = await source.request();
      if (adapter) return await deviceFrom(adapter, source.backendType, source.featureLevel);
      failures.push(`${source.backendType}: no adapter`);
    } catch (e) {
      failures.push(`${source.backendType}: ${(e as Error).message}`);
    }
  }
  throw new TsgradError('setBackend', `${NO_ADAPTER_HINT} (tried ${failures.join('; ')})`);
}
