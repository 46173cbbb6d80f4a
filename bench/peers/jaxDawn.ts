// jax-js's WebGPU device in Node, on the adapter tsgrad's webgpu backend runs on. jax-js looks for
// `navigator.gpu`, which Node lacks; here it gets Dawn's, through the `webgpu` package tsgrad
// uses, on the same backend (Vulkan, or OpenGL ES where Mesa's llvmpipe is the only adapter) and
// at the same feature level: OpenGL ES adapters exist only in WebGPU's compatibility mode, which
// jax-js does not ask for. jax-js also reads `navigator.userAgent` (to spot Firefox).
import type { WebGPUInfo } from '../../src/index.js';

/** Gives jax-js a `navigator.gpu` whose adapters are Dawn's, on tsgrad's backend and feature level; call before initJax('webgpu'). */
export async function dawnNavigatorFor(info: WebGPUInfo): Promise<void> {
  const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): GPU };
  const gpu = dawn.create([`backend=${info.backendType}`]);
  const featureLevel = info.featureLevel;
  const navigatorGpu = { requestAdapter: (o: GPURequestAdapterOptions = {}) => gpu.requestAdapter({ ...o, featureLevel } as GPURequestAdapterOptions) };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: navigatorGpu, userAgent: `Node.js/${process.versions.node}` }, configurable: true });
}
