import { elementwisePool, runThreaded, threadedParts } from '../threads.js';
import type { PoolKernel, PoolProgram } from '../workerPool.js';
import type { WasmRuntime } from './runtime.js';

/*
 * Large elementwise ops split between the worker threads: each thread instantiates every module
 * of the runtime on the shared memory and runs the same exported kernel on its share of the
 * vectors. An element's result depends on that element alone, so the bits are the same for any
 * split. Parts are whole vectors; the last part runs into the vector past the end, as the single
 * call would.
 */

/** What every thread's kernel is built from: the modules, the shared memory, and the exports a job may name. */
interface ElementwiseSetup {
  modules: readonly WebAssembly.Module[];
  memory: WebAssembly.Memory;
  names: readonly string[];
}

/**
 * One thread's kernel (see workerPool.ts: compiled from its text, so self-contained). args =
 * [export, a, b, out, vectors, binary, aStep, bStep]: a unary export takes (a, out, bytes), a
 * binary one (a, b, out, bytes), where an operand of step 0 is one broadcast value.
 */
function elementwisePartKernel(setup: ElementwiseSetup): PoolKernel {
  const ex = Object.assign({}, ...setup.modules.map((m) => new WebAssembly.Instance(m, { env: { memory: setup.memory } }).exports)) as Record<string, (...a: number[]) => void>;
  const fns = setup.names.map((n) => ex[n]!);
  return (_buffers, args, part, parts) => {
    const vectors = args[4]!;
    const v0 = Math.floor((part * vectors) / parts), v1 = Math.floor(((part + 1) * vectors) / parts);
    if (v1 <= v0) return;
    const at = v0 * 16, bytes = (v1 - v0) * 16, fn = fns[args[0]!]!;
    if (args[5]) fn(args[1]! + at * args[6]!, args[2]! + at * args[7]!, args[3]! + at, bytes);
    else fn(args[1]! + at, args[3]! + at, bytes);
  };
}

/** The elementwise thread program of one runtime. */
export class ParallelElementwise {
  private readonly program: PoolProgram;
  private readonly index: Map<string, number>;

  constructor(rt: WasmRuntime) {
    // The exports of one vector in, one out (`_v`), or two in (`_vv`, `_sv`, `_vs`).
    const names = Object.keys(rt.exports).filter((n) => /_(v|vv|sv|vs)$/.test(n));
    this.index = new Map(names.map((n, i) => [n, i]));
    const setup: ElementwiseSetup = { modules: rt.modules, memory: rt.memory, names };
    this.program = { kernel: elementwisePartKernel, setup };
  }

  /**
   * Runs the export `name` over `bytes` (whole vectors) with threads, and returns true; false,
   * having done nothing, when n elements are too few for threads or the export is not one of
   * these forms. For a binary export, `b` is its second operand; a form's `s` side steps 0.
   */
  run(name: string, n: number, a: number, b: number | null, out: number, bytes: number): boolean {
    const fn = this.index.get(name);
    const pool = fn === undefined ? null : elementwisePool(this.program, n);
    if (!pool) return false;
    const vectors = bytes / 16, form = name.slice(name.lastIndexOf('_') + 1);
    const args = [fn!, a, b ?? 0, out, vectors, b === null ? 0 : 1, form[0] === 's' ? 0 : 1, form[1] === 's' ? 0 : 1];
    runThreaded(pool, [], args, threadedParts(pool, vectors));
    return true;
  }
}
