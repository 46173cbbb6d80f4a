// TensorFlow.js's WebGPU backend on the Dawn adapter tsgrad's webgpu backend chose, so both
// libraries run on the same device in one process. tfjs finds WebGPU through navigator.gpu, and
// it requests an adapter without a feature level, which Dawn's OpenGL ES backend refuses: the
// shim passes tsgrad's backend flags and feature level along. Call after tsgrad's webgpu init.
import { create } from 'webgpu';
import { webgpuInfo } from '../../src/backends/webgpu/index.js';

export async function registerTfjsWebgpu(): Promise<void> {
  const info = webgpuInfo();
  const gpu = create(info.backendType === 'opengles' ? ['backend=opengles'] : []);
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  const shim = {
    requestAdapter: (o?: GPURequestAdapterOptions) =>
      requestAdapter(info.featureLevel === 'compatibility' ? ({ ...o, featureLevel: 'compatibility' } as GPURequestAdapterOptions) : o),
    getPreferredCanvasFormat: () => 'rgba8unorm',
  };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: shim }, configurable: true });
  // The package registers its backend at import only if navigator.gpu exists by then.
  await import('@tensorflow/tfjs-backend-webgpu');
}
