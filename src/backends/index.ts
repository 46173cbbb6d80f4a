import { installBackend, registerBackend } from '../core/backend.js';
import { cpuPlugin } from './cpu/plugin.js';
import { gpujsPlugin } from './gpujs/plugin.js';
import { webgpuPlugin } from './webgpu/plugin.js';

let registered = false;

/**
 * Registers the built-in backends, the one place that does: cpu, also created at once and made
 * the default so plain scripts compute without awaiting, and webgpu and gpujs, whose code and
 * drivers load when first created. Calling it again does nothing.
 */
export function registerBuiltinBackends(): void {
  if (registered) return;
  registered = true;
  for (const plugin of [cpuPlugin, webgpuPlugin, gpujsPlugin]) registerBackend(plugin);
  installBackend('cpu', cpuPlugin.create());
}
