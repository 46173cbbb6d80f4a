import { TsgradError } from '../../core/errors.js';
import { type PoolProgram, WorkerPool, availableThreads } from './workerPool.js';

/*
 * How the CPU backend's kernels use threads: matmuls on both paths (WebAssembly and plain
 * JavaScript), and on the WebAssembly path attention and large elementwise ops. A large matmul
 * splits C between min(cores, 4) threads (see workerPool.ts). The environment variable
 * TSGRAD_CPU_THREADS sets the count instead; TSGRAD_CPU_THREADS=1 keeps every kernel on the
 * calling thread.
 *
 * Handing a job to the workers costs about 50 µs, so on 2 cores threads start to pay at about
 * 80³ multiply-adds. With k < 8 a matmul is mostly packing and writing C, which stay on this
 * thread, and two threads measured slower (512·4·768), so LoRA's rank-4 products at batch 64
 * stay on one thread, while its frozen 768×768 base matmuls use threads.
 */
const MIN_PARALLEL_WORK = 96 ** 3;
const MIN_PARALLEL_K = 8;
/**
 * Elementwise ops split between threads from this many elements. With every kernel on one pool,
 * the workers are awake between the step's jobs, and splitting the GPT step's [2048, 64] adds
 * and [2048, 256] GELUs made its step 5–7% faster on 2 threads than splitting only from a
 * million elements (when each program had its own pool, splitting them made the step slower).
 */
const MIN_PARALLEL_ELEMENTS = 1 << 16;

export interface ThreadConfig {
  /** Threads in all, the calling one included; 1 turns threading off. */
  threads: number;
  /** Multiply-adds (m·k·n) from which a matmul is split between threads. */
  minWork: number;
  /** The smallest inner dimension k that is split between threads. */
  minK: number;
  /** Elements from which an elementwise op is split between threads. */
  minElements: number;
}

function defaultThreads(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['TSGRAD_CPU_THREADS'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new TsgradError('matmul', `TSGRAD_CPU_THREADS must be a whole number ≥ 1, got '${env}'`);
    return n;
  }
  return Math.min(availableThreads(), 4);
}

let config: ThreadConfig | null = null;
/**
 * The one pool every kernel program runs on (see workerPool.ts), so its workers stay awake
 * between the step's matmuls, attention and elementwise jobs.
 */
let shared: WorkerPool | null = null;
/** A program's view of the shared pool. */
export interface ThreadPool {
  /** Threads in all, the calling one included. */
  readonly size: number;
  run(buffers: Float64Array[], args: readonly number[], parts?: number): void;
}
const handles = new Map<PoolProgram, ThreadPool>();

function threadConfig(): ThreadConfig {
  return (config ??= { threads: defaultThreads(), minWork: MIN_PARALLEL_WORK, minK: MIN_PARALLEL_K, minElements: MIN_PARALLEL_ELEMENTS });
}

function closePools(): void {
  shared?.close();
  shared = null;
  handles.clear();
}

/**
 * Sets how matmuls use threads and returns the previous settings; tests use it to force the
 * threaded path onto small sizes. A new thread count restarts the workers.
 *
 * @example
 * const before = configureMatmulThreads({ threads: 1 }); // single-threaded from here on
 */
export function configureMatmulThreads(next: Partial<ThreadConfig>): ThreadConfig {
  const prev = threadConfig();
  config = { ...prev, ...next };
  if (config.threads !== prev.threads) closePools();
  return prev;
}

/** Threads a large matmul is split between now, the calling one included. */
export function matmulThreads(): number {
  return threadConfig().threads;
}

/** The pool running `program` for an m×k by k×n matmul, or null to run it on this thread. */
export function matmulPool(program: PoolProgram, m: number, k: number, n: number): ThreadPool | null {
  const { threads, minWork, minK } = threadConfig();
  if (threads < 2 || m * k * n < minWork || k < minK) return null;
  return poolOf(program);
}

/** The pool running `program` for an elementwise op of n elements, or null to run it on this thread. */
export function elementwisePool(program: PoolProgram, n: number): ThreadPool | null {
  const { threads, minElements } = threadConfig();
  if (threads < 2 || n < minElements) return null;
  return poolOf(program);
}

function poolOf(program: PoolProgram): ThreadPool | null {
  let handle = handles.get(program);
  if (!handle) {
    if (!shared) {
      shared = WorkerPool.create(program, { threads: threadConfig().threads });
      // No threads here (a browser page that is not cross-origin isolated, Node < 20.16): stay on this thread.
      if (!shared) {
        config = { ...threadConfig(), threads: 1 };
        return null;
      }
    }
    const pool = shared;
    handle = { size: pool.size, run: (buffers, args, parts) => pool.run(buffers, args, parts, program) };
    handles.set(program, handle);
  }
  return handle;
}

/**
 * Parts per thread of a threaded job. The calling thread claims parts as soon as it has posted a
 * job, while a worker must first wake, which takes tens of microseconds and far longer when
 * other processes hold the cores. With one part per thread the caller then waits for the late
 * worker's whole share; with several, it also runs the parts the worker has not reached yet.
 */
const PARTS_PER_THREAD = 4;

/** Into how many parts a threaded job of `units` independent pieces is split: a few per thread, at most one per piece. */
export function threadedParts(pool: ThreadPool, units: number): number {
  return Math.max(1, Math.min(pool.size * PARTS_PER_THREAD, units));
}

/**
 * Runs one threaded job, by default in `PARTS_PER_THREAD` parts per thread. A failure means a
 * kernel threw, or a worker stuck in its part outlived the pool's timeout; then matmuls stay on
 * one thread and the error is rethrown.
 */
export function runThreaded(pool: ThreadPool, buffers: Float64Array[], args: number[], parts = pool.size * PARTS_PER_THREAD): void {
  try {
    pool.run(buffers, args, parts);
  } catch (e) {
    closePools();
    config = { ...threadConfig(), threads: 1 };
    throw new Error(`matmul: a CPU worker thread failed, so matmuls now run on one thread: ${(e as Error).message}`, { cause: e });
  }
}
