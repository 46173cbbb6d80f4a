// Node's gpu.js: the package's Node build on a headless-gl context. The browser build swaps in context.browser.ts.
import { createRequire } from 'node:module';
import { TsgradError } from '../../core/errors.js';
import type { GlContext, GpuJsLibrary, GpuJsMode, OpenedGpu } from './runtime.js';

export const GPU_REQUIREMENTS =
  "run under an X display (e.g. `Xvfb :99 -screen 0 1024x768x24 &` and `export DISPLAY=:99`) and make sure the 'gl' addon is built " +
  '(apt-get install libxi-dev libx11-dev libxext-dev pkg-config python3 g++ make, then `npm rebuild gl`); ' +
  "or opt into gpu.js's CPU paths with setBackend('gpujs', { mode: 'cpu' }) or { mode: 'webasm' }";

/** A gpu.js instance for `mode`: in 'gpu' mode on a fresh headless-gl context. */
export function openGpu(mode: GpuJsMode): OpenedGpu {
  const require = createRequire(import.meta.url);
  const lib = require('gpu.js') as GpuJsLibrary;
  if (mode !== 'gpu') return { gpu: new lib.GPU({ mode }), gl: null, lib };
  let createGl: (w: number, h: number, o: object) => GlContext | null;
  try {
    createGl = require('gl') as typeof createGl;
  } catch (e) {
    throw new TsgradError('setBackend', `gpujs: the 'gl' (headless-gl) addon could not be loaded (${(e as Error).message.split('\n')[0]}); ${GPU_REQUIREMENTS}`);
  }
  const gl = createGl(2, 2, { preserveDrawingBuffer: true });
  if (!gl) {
    throw new TsgradError('setBackend', `gpujs: no WebGL context could be created${process.env.DISPLAY ? ` on DISPLAY=${process.env.DISPLAY}` : ' (DISPLAY is not set)'}; ${GPU_REQUIREMENTS}`);
  }
  if (!gl.getExtension('OES_texture_float')) {
    throw new TsgradError('setBackend', 'gpujs: the WebGL context lacks OES_texture_float, so float32 textures are unavailable');
  }
  return { gpu: new lib.GPU({ mode: 'headlessgl', context: gl }), gl, lib };
}
