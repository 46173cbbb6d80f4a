// The browser's adapter: navigator.gpu. Swapped in for adapters.ts by the browser build.
import { TsgradError } from '../../core/errors.js';
import type { AdapterSource, WebGPUOptions } from './device.js';

export const NO_ADAPTER_HINT =
  "this browser exposes no WebGPU adapter; use a browser with WebGPU enabled (Chrome or Edge 113+, Safari 26+, " +
  "Firefox 141+ on Windows) on an https:// or localhost page, or pick another backend: setBackend('cpu') or setBackend('gpujs')";

/** The one place a browser finds adapters; a missing `navigator.gpu` fails with what to do. */
export async function adapterSources(options: WebGPUOptions): Promise<AdapterSource[]> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new TsgradError('setBackend', `${NO_ADAPTER_HINT} (navigator.gpu is undefined)`);
  return [{ backendType: 'browser', featureLevel: 'core', request: () => gpu.requestAdapter({ powerPreference: options.powerPreference }) }];
}
