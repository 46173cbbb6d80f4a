import { TsgradError } from '../../core/errors.js';
import type { GpuJsMode } from './options.js';
import { FILL_SOURCE, HELPERS } from './codegen.js';
import { GPU_REQUIREMENTS, openGpu } from './context.js';

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
  kernel?: { constructor: unknown };
}

interface GpuInstance {
  createKernel(source: string, settings: Record<string, unknown>): GpuKernel;
  addFunction(source: string): GpuInstance;
  destroy(): unknown;
}

type GpuCtor = (new (settings: Record<string, unknown>) => GpuInstance) & { isHeadlessGLSupported?: boolean };

/** The gpu.js module (Node or browser build): its GPU class and kernel classes. */
export type GpuJsLibrary = { GPU: GpuCtor } & Partial<Record<KernelType, unknown>>;

/** What a platform's `openGpu` hands the runtime: the instance and, in GPU mode, its GL context. */
export interface OpenedGpu {
  gpu: GpuInstance;
  gl: GlContext | null;
  lib: GpuJsLibrary;
}

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

/** gpu.js's kernel classes by their exported names. */
const KERNEL_TYPES = ['HeadlessGLKernel', 'WebGL2Kernel', 'WebGLKernel', 'WebGPUKernel', 'WebAssemblyKernel', 'CPUKernel'] as const;
type KernelType = (typeof KERNEL_TYPES)[number];

/** Kernel types that run on a GL context (headless-gl in Node, WebGL in browsers). */
const GL_KERNELS = new Set<string>(['HeadlessGLKernel', 'WebGL2Kernel', 'WebGLKernel']);

/** A kernel's class by the name gpu.js exports it under: a minified build renames the classes themselves. */
function kernelTypeOf(kernel: { constructor: unknown } | undefined, lib: GpuJsLibrary): string {
  return KERNEL_TYPES.find((name) => lib[name] !== undefined && kernel?.constructor === lib[name]) ?? 'unknown';
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
    lib: GpuJsLibrary,
  ) {
    if (gl) this.countTextures(gl);
    const probe = this.kernel(FILL_SOURCE, ['Float']);
    probe.setOutput([1]);
    const t = probe(0);
    if (typeof (t as GpuTexture).delete === 'function') (t as GpuTexture).delete();
    this.kernelType = kernelTypeOf(probe.kernel, lib);
    this.maxTextureSize = gl ? Number(gl.getParameter(gl.MAX_TEXTURE_SIZE)) : Infinity;
    this.renderer = gl ? `${String(gl.getParameter(gl.VERSION))} (${String(gl.getParameter(gl.RENDERER))})` : this.kernelType;
  }

  /** True when storages are GL textures (kernels run on the GL context). */
  get onGl(): boolean {
    return GL_KERNELS.has(this.kernelType);
  }

  /** The runtime for `mode` on this platform (Node: headless-gl; browsers: the page's WebGL). */
  static async create(mode: GpuJsMode): Promise<GpuRuntime> {
    const { gpu, gl, lib } = await openGpu(mode);
    for (const h of HELPERS) gpu.addFunction(h);
    const rt = new GpuRuntime(gpu, mode, gl, lib);
    if (mode === 'gpu' && !rt.onGl) {
      rt.destroy();
      throw new TsgradError('setBackend', `gpujs: gpu.js fell back to ${rt.kernelType} although the GPU path was requested; ${GPU_REQUIREMENTS}`);
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
