// Node's gpu.js: the package's Node build on a headless-gl context. The browser build swaps in context.browser.ts.
import { createRequire } from 'node:module';
import { TsgradError } from '../../core/errors.js';
import type { GpuJsMode } from './options.js';
import type { GlContext, GpuJsLibrary, OpenedGpu } from './runtime.js';
import { describeXDisplay } from './xDisplay.js';

export const GPU_REQUIREMENTS =
  "run under an X display (e.g. `Xvfb :99 -noreset -screen 0 1024x768x24 &` and `export DISPLAY=:99`) and make sure the 'gl' addon is built " +
  '(apt-get install libxi-dev libx11-dev libxext-dev pkg-config python3 g++ make, then `npm rebuild gl`); ' +
  "or opt into gpu.js's CPU paths with setBackend('gpujs', { mode: 'cpu' }) or { mode: 'webasm' }";

/**
 * A WebGL context from headless-gl on the X display in DISPLAY. headless-gl only returns null
 * when it fails, so the error adds what the X server itself answers to a new client.
 */
async function createHeadlessGl(): Promise<GlContext> {
  let createGl: (w: number, h: number, o: object) => GlContext | null;
  try {
    createGl = createRequire(import.meta.url)('gl') as typeof createGl;
  } catch (e) {
    throw new TsgradError('setBackend', `gpujs: the 'gl' (headless-gl) addon could not be loaded (${(e as Error).message.split('\n')[0]}); ${GPU_REQUIREMENTS}`);
  }
  const gl = createGl(2, 2, { preserveDrawingBuffer: true });
  if (gl) return gl;
  const display = process.env.DISPLAY;
  // Xvfb without -noreset restarts itself whenever its last client disconnects and fails the
  // clients that connect meanwhile: with another process opening and closing the display (Dawn
  // probes it), a first context can fail while the next one succeeds.
  const reset = display ? ' An Xvfb started without -noreset refuses new clients while it resets after its last client left; start it with -noreset.' : '';
  throw new TsgradError('setBackend', `gpujs: headless-gl could not create a WebGL context (${await describeXDisplay(display)}).${reset} To fix: ${GPU_REQUIREMENTS}`);
}

/** A gpu.js instance for `mode`: in 'gpu' mode on a fresh headless-gl context. */
export async function openGpu(mode: GpuJsMode): Promise<OpenedGpu> {
  const lib = createRequire(import.meta.url)('gpu.js') as GpuJsLibrary;
  if (mode !== 'gpu') return { gpu: new lib.GPU({ mode }), gl: null, lib };
  const gl = await createHeadlessGl();
  if (!gl.getExtension('OES_texture_float')) {
    throw new TsgradError('setBackend', 'gpujs: the WebGL context lacks OES_texture_float, so float32 textures are unavailable');
  }
  return { gpu: new lib.GPU({ mode: 'headlessgl', context: gl }), gl, lib };
}
