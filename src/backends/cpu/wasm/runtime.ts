import { type Code, type Fn, encodeModule } from './emitter.js';
import { type BinaryForm, type WasmBinaryOp, type WasmUnaryOp, elementwiseFunctions, transcendentalFunctions } from './elementwise.js';
import { gemmFunctions } from './gemm.js';
import { type ReduceForm, type WasmReduceOp, reduceFunctions } from './reduce.js';
import { type WasmSpecialOp, specialFunctions } from './special.js';
import { type WasmCompareOp, type WhereForm, selectFunctions } from './select.js';
import { softmaxBackwardFunction } from './softmaxBackward.js';
import { fillFunction } from './fill.js';
import type { SimdFlavour } from '../options.js';

/*
 * The CPU backend's WebAssembly module: built by the emitter from the kernels' TypeScript,
 * validated and compiled once when the backend starts. Its memory holds float32 storages and
 * the kernels' scratch (see arena.ts), grows on demand and never shrinks. It is shared where the
 * engine allows, and every worker thread instantiates the same module on it.
 */


export interface WasmRuntime {
  /** The first module (matmul and most elementwise kernels), which worker threads instantiate too. */
  readonly module: WebAssembly.Module;
  /** Every module, the first included, in export order: threaded elementwise ops instantiate them all. */
  readonly modules: readonly WebAssembly.Module[];
  readonly memory: WebAssembly.Memory;
  readonly exports: WasmExports;
  readonly simd: SimdFlavour;
  readonly shared: boolean;
  /** The most bytes the memory may grow to. */
  readonly maxBytes: number;
  /** Makes the memory at least `bytes` long; false if it cannot grow that far. */
  reserve(bytes: number): boolean;
  /** A Float32Array over the whole memory now (growth replaces the buffer). */
  f32(): Float32Array;
}

export type WasmExports = {
  gemm(a: number, b: number, c: number, np: number, k: number, i0: number, i1: number, j0: number, j1: number): void;
  pack(src: number, lineStride: number, elemStride: number, lines: number, k: number, width: number, dst: number, l0: number, p0: number): void;
  pack_rows(src: number, elemStride: number, panels: number, k: number, width: number, dst: number): void;
  pack_cols(src: number, lineStride: number, panels: number, k4: number, width: number, dst: number, k: number): void;
  fill(dst: number, bytes: number, value: number): void;
  adam(param: number, grad: number, m: number, v: number, bytes: number, lr: number, beta1: number, beta2: number, eps: number, bc1: number, bc2: number, l2: number, decay: number): void;
} & Record<`${WasmBinaryOp}_${BinaryForm}`, (a: number, b: number, out: number, bytes: number) => void>
  & Record<`${WasmUnaryOp | WasmSpecialOp}_v`, (src: number, out: number, bytes: number) => void>
  & Record<`${WasmCompareOp}_${BinaryForm}`, (a: number, b: number, out: number, bytes: number) => void>
  & Record<`where_${WhereForm}`, (cond: number, a: number, b: number, out: number, bytes: number) => void>
  & { softmax_bwd(y: number, g: number, rows: number, len: number, ystride: number, gstride: number, dst: number): void }
  & Record<`${WasmReduceOp}_${ReduceForm}` | 'softmax_stats' | 'softmax_div' | 'logsoftmax_sub', (src: number, rows: number, len: number, stride: number, dst: number, stats: number) => void>;

const PAGE = 65536;
/** 2 GiB: past this, storages stay outside the memory and a kernel falls back to JavaScript. */
const MAX_PAGES = 32768;

/**
 * The functions of each module, in export order (a function calls another by its index in its
 * module). There are three modules because browsers compile at most 4 KiB synchronously on a
 * page's main thread, and the backend starts synchronously: each stays under that (a test checks
 * it). The first holds what worker threads need: matmul, with the cheap elementwise kernels; the
 * second exp and sigmoid; the third reductions and softmax; then one for each special function
 * (erf, tanh, the GELUs); the comparisons with `where`; softmax's backward with the fill.
 */
function modules(relaxed: boolean): { fn: Fn; body: Code }[][] {
  return [[...gemmFunctions(relaxed, 0), ...elementwiseFunctions()], transcendentalFunctions(), reduceFunctions(), ...specialFunctions().map((f) => [f]), selectFunctions(), [softmaxBackwardFunction(), fillFunction()]];
}

/** The modules' bytes; only the first has a relaxed-SIMD flavour. */
export function moduleBytes(relaxed: boolean, shared: boolean): Uint8Array<ArrayBuffer>[] {
  return modules(relaxed).map((fns) => encodeModule(fns, { minPages: 1, maxPages: MAX_PAGES, shared }));
}

function canShare(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/**
 * Builds, validates and compiles the module, or null where the engine has no WebAssembly SIMD
 * or refuses the module or its memory (then the backend stays on its JavaScript path). Relaxed
 * SIMD's fused multiply-add goes into the matmul wherever the engine has it, on Node 20 and 21
 * by turning on V8's flag for it (see enableRelaxedSimd); `relaxed: false` keeps plain SIMD128
 * and leaves the flag alone.
 */
export function startWasm(options: { relaxed?: boolean } = {}): WasmRuntime | null {
  if (typeof WebAssembly !== 'object') return null;
  try {
    return start(options.relaxed !== false);
  } catch {
    return null;
  }
}

/** What this file reads of Node's `process`, where there is one. */
interface NodeProcess {
  versions?: { node?: string };
  execArgv?: string[];
  getBuiltinModule?(id: string): unknown;
}

/**
 * Turns on V8's relaxed SIMD where Node has it behind a flag: Node 20 and 21 (V8 11.3 to 11.8)
 * implement it but validate it only under --experimental-wasm-relaxed-simd, which browsers and
 * Node 22 and later no longer need. V8 reads the flag whenever it validates or compiles a module,
 * so setting it before the backend's first module is enough, and the worker threads started
 * afterwards see it too. Not where the process froze its flags (--freeze-flags-after-init, when
 * V8 stops the process on any later change). True if the flag was set.
 */
function enableRelaxedSimd(): boolean {
  const proc = (globalThis as { process?: NodeProcess }).process;
  const major = Number(proc?.versions?.node?.split('.')[0]);
  if ((major !== 20 && major !== 21) || typeof proc?.getBuiltinModule !== 'function') return false;
  if ((proc.execArgv ?? []).some((a) => a.replaceAll('_', '-').includes('freeze-flags'))) return false;
  (proc.getBuiltinModule('node:v8') as { setFlagsFromString(flags: string): void }).setFlagsFromString('--experimental-wasm-relaxed-simd');
  return true;
}

function start(tryRelaxed: boolean): WasmRuntime | null {
  const shared = canShare();
  const relaxedBytes = tryRelaxed ? moduleBytes(true, shared) : null;
  let relaxed = relaxedBytes !== null && WebAssembly.validate(relaxedBytes[0]!);
  if (relaxedBytes && !relaxed && enableRelaxedSimd()) relaxed = WebAssembly.validate(relaxedBytes[0]!);
  const bytes = relaxed && relaxedBytes ? relaxedBytes : moduleBytes(false, shared);
  if (!bytes.every((b) => WebAssembly.validate(b))) return null;
  const compiled = bytes.map((b) => new WebAssembly.Module(b));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared } as WebAssembly.MemoryDescriptor);
  const exports = Object.assign({}, ...compiled.map((m) => new WebAssembly.Instance(m, { env: { memory } }).exports)) as WasmExports;
  const module = compiled[0]!;
  let view = new Float32Array(memory.buffer);
  return {
    module, modules: compiled, memory, shared, maxBytes: MAX_PAGES * PAGE,
    exports,
    simd: relaxed ? 'relaxed-simd' : 'simd128',
    reserve(n) {
      const have = memory.buffer.byteLength;
      if (n <= have) return true;
      const pages = Math.ceil((n - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES) return false;
      try {
        memory.grow(pages);
      } catch {
        return false;
      }
      return true;
    },
    f32() {
      if (view.buffer !== memory.buffer || view.length * 4 !== memory.buffer.byteLength) view = new Float32Array(memory.buffer);
      return view;
    },
  };
}
