// The browser's gpu.js: the package's browser build on the page's own WebGL2 (else WebGL1) canvas context.
// Swapped in for context.ts by the browser build.
import * as gpujs from 'gpu.js';
import { TsgradError } from '../../core/errors.js';
import type { GpuJsMode } from './options.js';
import type { GlContext, GpuJsLibrary, OpenedGpu } from './runtime.js';

export const GPU_REQUIREMENTS =
  'use a browser with WebGL2, or WebGL1 with OES_texture_float, enabled (check chrome://gpu); ' +
  "or opt into gpu.js's CPU paths with setBackend('gpujs', { mode: 'cpu' }) or { mode: 'webasm' }";

/** gpu.js's context attributes: exact readback, no compositing work. */
const ATTRIBUTES = { alpha: false, antialias: false, depth: false, premultipliedAlpha: false, preserveDrawingBuffer: true };

/** A gpu.js instance for `mode`: in 'gpu' mode on a canvas of its own (OffscreenCanvas in workers). */
export async function openGpu(mode: GpuJsMode): Promise<OpenedGpu> {
  const lib = ((gpujs as unknown as { default?: GpuJsLibrary }).default ?? gpujs) as unknown as GpuJsLibrary;
  if (mode !== 'gpu') return { gpu: new lib.GPU({ mode }), gl: null, lib };
  const canvas = typeof document !== 'undefined' ? document.createElement('canvas') : typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(2, 2) : null;
  if (!canvas) throw new TsgradError('setBackend', `gpujs: this page has neither document nor OffscreenCanvas to draw on; ${GPU_REQUIREMENTS}`);
  const webgl2 = canvas.getContext('webgl2', ATTRIBUTES) as GlContext | null;
  const gl = webgl2 ?? (canvas.getContext('webgl', ATTRIBUTES) as GlContext | null);
  if (!gl) throw new TsgradError('setBackend', `gpujs: this browser gave the page no WebGL2 or WebGL context; ${GPU_REQUIREMENTS}`);
  if (!webgl2 && !gl.getExtension('OES_texture_float')) {
    throw new TsgradError('setBackend', `gpujs: the page's WebGL1 context lacks OES_texture_float, so float32 textures are unavailable; ${GPU_REQUIREMENTS}`);
  }
  return { gpu: new lib.GPU({ mode: 'gpu', canvas, context: gl }), gl, lib };
}
