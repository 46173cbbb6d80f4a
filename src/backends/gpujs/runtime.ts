import { createRequire } from 'node:module';
import { TsgradError } from '../../core/errors.js';
import { FILL_SOURCE, HELPERS } from './codegen.js';
import { describeXDisplay } from './xDisplay.js';

/** What a storage holds: a GL texture in GPU modes, a Float32Array in 'cpu' and 'webasm'. */
export interface GpuTexture {
  toArray(): Float32Array;
  delete(): void;
}
export type GpuData = GpuTexture | Float32Array;

/** The part of a gpu.js kernel this backend drives. */
interface GpuKernel {
  (...args: unknown[]): GpuData;
  setOutput(output: number[]): GpuKernel;
  kernel?: { constructor: { name: string } };
}

interface GpuInstance {
  createKernel(source: string, settings: Record<string, unknown>): GpuKernel;
  addFunction(source: string): GpuInstance;
  destroy(): unknown;
}

type GpuCtor = (new (settings: Record<string, unknown>) => GpuInstance) & { isHeadlessGLSupported?: boolean };

/** The minimal WebGL surface used for the texture census and limits. */
export interface GlContext {
  createTexture(): unknown;
  deleteTexture(t: unknown): void;
  getParameter(p: number): unknown;
  getExtension(name: string): unknown;
  MAX_TEXTURE_SIZE: number;
  VERSION: number;
  RENDERER: number;
}

export type GpuJsMode = 'gpu' | 'cpu' | 'webasm';

/** Kernel types that run on a GL context (headless-gl in Node, WebGL in browsers). */
const GL_KERNELS = new Set(['HeadlessGLKernel', 'WebGL2Kernel', 'WebGLKernel']);

const REQUIREMENTS =
  "run under an X display (e.g. `Xvfb :99 -noreset -screen 0 1024x768x24 &` and `export DISPLAY=:99`) and make sure the 'gl' addon is built " +
  '(apt-get install libxi-dev libx11-dev libxext-dev pkg-config python3 g++ make, then `npm rebuild gl`); ' +
  "or opt into gpu.js's CPU paths with setBackend('gpujs', { mode: 'cpu' }) or { mode: 'webasm' }";

/**
 * A WebGL context from headless-gl on the X display in DISPLAY. headless-gl only returns null
 * when it fails, so the error adds what the X server itself answers to a new client.
 */
export async function createHeadlessGl(): Promise<GlContext> {
  let createGl: (w: number, h: number, o: object) => GlContext | null;
  try {
    createGl = createRequire(import.meta.url)('gl') as typeof createGl;
  } catch (e) {
    throw new TsgradError('setBackend', `gpujs: the 'gl' (headless-gl) addon could not be loaded (${(e as Error).message.split('\n')[0]}); ${REQUIREMENTS}`);
  }
  const gl = createGl(2, 2, { preserveDrawingBuffer: true });
  if (gl) return gl;
  const display = process.env.DISPLAY;
  // Xvfb without -noreset restarts itself whenever its last client disconnects and fails the
  // clients that connect meanwhile: with another process opening and closing the display (Dawn
  // probes it), a first context can fail while the next one succeeds.
  const reset = display ? ' An Xvfb started without -noreset refuses new clients while it resets after its last client left; start it with -noreset.' : '';
  throw new TsgradError('setBackend', `gpujs: headless-gl could not create a WebGL context (${await describeXDisplay(display)}).${reset} To fix: ${REQUIREMENTS}`);
}

/**
 * A gpu.js instance on a real GL context (or an explicitly requested CPU/WebAssembly mode),
 * with every kernel compiled once per source and the GL textures it owns counted.
 */
export class GpuRuntime {
  readonly kernelType: string;
  /** Texture dims past which a 1-D output cannot be laid out (GL only). */
  readonly maxTextureSize: number;
  readonly renderer: string;
  private readonly kernels = new Map<string, GpuKernel>();
  private glLive = 0;

  private constructor(
    private readonly gpu: GpuInstance,
    readonly mode: GpuJsMode,
    private readonly gl: GlContext | null,
  ) {
    if (gl) this.countTextures(gl);
    const probe = this.kernel(FILL_SOURCE, ['Float']);
    probe.setOutput([1]);
    const t = probe(0);
    if (typeof (t as GpuTexture).delete === 'function') (t as GpuTexture).delete();
    this.kernelType = probe.kernel?.constructor.name ?? 'unknown';
    this.maxTextureSize = gl ? Number(gl.getParameter(gl.MAX_TEXTURE_SIZE)) : Infinity;
    this.renderer = gl ? `${String(gl.getParameter(gl.VERSION))} (${String(gl.getParameter(gl.RENDERER))})` : this.kernelType;
  }

  /** True when storages are GL textures (kernels run on the GL context). */
  get onGl(): boolean {
    return GL_KERNELS.has(this.kernelType);
  }

  /** A gpu.js runtime in `mode`; the 'gpu' mode needs the headless-gl context from `createHeadlessGl`. */
  static create(mode: GpuJsMode, gl: GlContext | null = null): GpuRuntime {
    const { GPU } = createRequire(import.meta.url)('gpu.js') as { GPU: GpuCtor };
    let gpu: GpuInstance;
    if (mode !== 'gpu') gpu = new GPU({ mode });
    else {
      if (!gl) throw new TsgradError('setBackend', 'gpujs: the GPU mode needs a WebGL context');
      if (!gl.getExtension('OES_texture_float')) {
        throw new TsgradError('setBackend', 'gpujs: the WebGL context lacks OES_texture_float, so float32 textures are unavailable');
      }
      gpu = new GPU({ mode: 'headlessgl', context: gl });
    }
    for (const h of HELPERS) gpu.addFunction(h);
    const rt = new GpuRuntime(gpu, mode, gl);
    if (mode === 'gpu' && !rt.onGl) {
      rt.destroy();
      throw new TsgradError('setBackend', `gpujs: gpu.js fell back to ${rt.kernelType} although the GPU path was requested; ${REQUIREMENTS}`);
    }
    return rt;
  }

  /** Wraps the context's texture calls, so tests can prove textures are released. */
  private countTextures(gl: GlContext): void {
    const create = gl.createTexture.bind(gl);
    const del = gl.deleteTexture.bind(gl);
    gl.createTexture = () => {
      this.glLive++;
      return create();
    };
    gl.deleteTexture = (t: unknown) => {
      if (t) this.glLive--;
      del(t);
    };
  }

  /** Live GL textures on the context (storages plus each cached kernel's own output), or null off GL. */
  get glTextures(): number | null {
    return this.gl ? this.glLive : null;
  }

  /**
   * The compiled kernel for `source`; `types` names each argument ('Texture' for storages,
   * 'Float' for uniforms). Shapes and sizes are dynamic, so a kernel compiles once.
   */
  kernel(source: string, types: readonly ('Texture' | 'Float' | 'Array')[]): GpuKernel {
    let k = this.kernels.get(source);
    if (k) return k;
    const textureType = this.mode === 'gpu' ? 'MemoryOptimizedNumberTexture' : 'Array';
    k = this.gpu.createKernel(source, {
      output: [1],
      pipeline: true,
      immutable: true,
      precision: 'single',
      tactic: 'precision',
      optimizeFloatMemory: true,
      dynamicOutput: true,
      dynamicArguments: true,
      loopMaxIterations: 1 << 24,
      argumentTypes: types.map((t) => (t === 'Texture' ? textureType : t)),
    });
    this.kernels.set(source, k);
    return k;
  }

  /** Runs `source` over `size` output elements. */
  run(source: string, types: readonly ('Texture' | 'Float' | 'Array')[], size: number, args: unknown[]): GpuData {
    const k = this.kernel(source, types);
    k.setOutput([size]);
    return k(...args);
  }

  /** Releases every kernel and the GL context (gpu.js tears down on the next tick). */
  destroy(): void {
    this.kernels.clear();
    // A failed teardown leaves nothing the caller could act on; the context is gone either way.
    Promise.resolve(this.gpu.destroy()).catch(() => undefined);
  }
}
