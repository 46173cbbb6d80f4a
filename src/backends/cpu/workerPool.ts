import type * as WorkerThreads from 'node:worker_threads';

/*
 * A few Node worker threads that run one kernel over shared Float64 buffers, while the backend's
 * API stays synchronous: the calling thread does its own share of a job and then sleeps in
 * `Atomics.wait` until the workers have done theirs.
 *
 * Workers are built from the kernel's source (`new Worker(source, { eval: true })`), so the same
 * function runs on every thread and works alike from TypeScript sources (tsx, vitest) and from
 * compiled JavaScript, with no worker file to locate. The kernel, and the functions its prelude
 * defines, must therefore be self-contained: no imports, no module variables, no inner functions
 * (tsx compiles with keepNames, which wraps inner functions in a helper the worker lacks).
 *
 * Node modules are reached through `process.getBuiltinModule` (Node ≥ 20.16), never a static
 * import, so bundlers and browsers load this file untouched and simply get no pool.
 */

/**
 * One share of a job: `part` of `parts`, over the shared `buffers`, parameterised by integer
 * `args` (sizes and offsets). Int32 on purpose: V8 then treats them as small integers, while
 * Float64 args made every index derived from them a double and halved the matmul kernel's speed.
 */
export type PoolKernel = (buffers: Float64Array[], args: Int32Array, part: number, parts: number) => void;

export interface PoolOptions {
  /** Threads in all, the calling one included; at least 2. */
  threads: number;
  /** Source of the constants and functions the kernel calls, evaluated before it in each worker. */
  prelude?: string;
  /**
   * A job fails if the workers take longer than this plus 20× the calling thread's own share
   * (the shares are equal, so that bound only trips on a dead or stuck worker). Default 10 s,
   * which also covers starting the workers on the first job.
   */
  timeoutMs?: number;
}

/** Slots of the shared control array. */
const GEN = 0; // bumped once per job; workers sleep on it
const PENDING = 1; // workers still running the current job; the caller sleeps on it
const FAILED = 2; // set by a worker whose kernel threw
const MAX_ARGS = 16;

/** The worker's whole program: wait for a job, pick up new buffers, run its share, report. */
function workerSource(kernel: PoolKernel, prelude: string): string {
  return `'use strict';
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
${prelude}
const kernel = (${kernel.toString()});
const { control, args, port, part, parts } = workerData;
const ctrl = new Int32Array(control), argv = new Int32Array(args);
let buffers = [], seen = 0;
for (;;) {
  Atomics.wait(ctrl, ${GEN}, seen);
  seen = Atomics.load(ctrl, ${GEN});
  // The caller posts replaced buffers before it bumps GEN, so they are already queued here.
  for (let m; (m = receiveMessageOnPort(port)) !== undefined; ) buffers = m.message.map((b) => new Float64Array(b));
  try {
    kernel(buffers, argv, part, parts);
  } catch (e) {
    port.postMessage(String((e && e.stack) || e));
    Atomics.store(ctrl, ${FAILED}, 1);
  }
  if (Atomics.sub(ctrl, ${PENDING}, 1) === 1) Atomics.notify(ctrl, ${PENDING});
}`;
}

interface NodeThreads {
  worker_threads: typeof WorkerThreads;
  availableParallelism: () => number;
}

/** Node's worker_threads and core count, or null where threads cannot be used synchronously. */
function nodeThreads(): NodeThreads | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function' || typeof SharedArrayBuffer !== 'function' || typeof Atomics?.wait !== 'function') return null;
  const wt = proc.getBuiltinModule('node:worker_threads') as typeof WorkerThreads | undefined;
  const os = proc.getBuiltinModule('node:os') as { availableParallelism?: () => number } | undefined;
  if (!wt?.Worker || typeof os?.availableParallelism !== 'function') return null;
  return { worker_threads: wt, availableParallelism: os.availableParallelism };
}

/** How many threads can run at once here (os.availableParallelism); 1 where a pool cannot run. */
export function availableThreads(): number {
  return nodeThreads()?.availableParallelism() ?? 1;
}

/** A Float64Array over shared memory, which every thread of a pool can read and write. */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
}

/**
 * Runs `kernel` on `threads` threads at once, synchronously.
 *
 * @example
 * const pool = WorkerPool.create(fillPart, { threads: 2 });
 * pool?.run([sharedFloat64(1000)], [1000]); // fillPart(buffers, args, part, 2) for part 0 here, part 1 in a worker
 */
export class WorkerPool {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
  private readonly args = new Int32Array(new SharedArrayBuffer(MAX_ARGS * Int32Array.BYTES_PER_ELEMENT));
  private readonly workers: WorkerThreads.Worker[] = [];
  private readonly ports: WorkerThreads.MessagePort[] = [];
  /** The buffers the workers hold, to post only replaced ones. */
  private sent: ArrayBufferLike[] = [];
  /** Set by a worker's error or exit event, which arrives between jobs. */
  private failure: string | null = null;
  private closed = false;

  private constructor(
    private readonly node: NodeThreads,
    private readonly kernel: PoolKernel,
    private readonly threads: number,
    private readonly timeoutMs: number,
    prelude: string,
  ) {
    const { Worker, MessageChannel } = node.worker_threads;
    const source = workerSource(kernel, prelude);
    for (let part = 1; part < threads; part++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(source, {
        eval: true,
        workerData: { control: this.control.buffer, args: this.args.buffer, port: port2, part, parts: threads },
        transferList: [port2],
      });
      // Idle workers sleep in Atomics.wait forever; unref'd, they never keep the process alive.
      worker.unref();
      port1.unref();
      worker.on('error', (e: Error) => (this.failure ??= `worker ${part} failed: ${e.stack ?? e.message}`));
      worker.on('exit', (code: number) => (this.failure ??= `worker ${part} exited with code ${code}`));
      this.workers.push(worker);
      this.ports.push(port1);
    }
  }

  /** A pool, or null where worker threads are unavailable (browsers, Node < 20.16) or `threads` < 2. */
  static create(kernel: PoolKernel, options: PoolOptions): WorkerPool | null {
    const node = nodeThreads();
    if (!node || options.threads < 2) return null;
    return new WorkerPool(node, kernel, options.threads, options.timeoutMs ?? 10_000, options.prelude ?? '');
  }

  /** Threads in all, the calling one included. */
  get size(): number {
    return this.threads;
  }

  /**
   * Runs kernel(buffers, args, part, size) for every part, part 0 on this thread, and returns
   * when all are done. Buffers must be shared (see `sharedFloat64`). Throws if a worker failed
   * or timed out; the pool is then closed, and every later run throws.
   */
  run(buffers: Float64Array[], args: readonly number[]): void {
    if (this.closed) throw new Error(`cpu worker pool: closed${this.failure ? ` after: ${this.failure}` : ''}`);
    if (this.failure) this.fail(this.failure);
    if (args.length > MAX_ARGS || !args.every((x) => x === (x | 0))) throw new Error(`cpu worker pool: args must be at most ${MAX_ARGS} int32s, got [${args.join(', ')}]`);
    const sabs = buffers.map((b) => b.buffer);
    if (sabs.length !== this.sent.length || sabs.some((b, i) => b !== this.sent[i])) {
      for (const port of this.ports) port.postMessage(sabs);
      this.sent = sabs;
    }
    this.args.set(args);
    const ctrl = this.control;
    Atomics.store(ctrl, FAILED, 0);
    Atomics.store(ctrl, PENDING, this.workers.length);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);

    const start = performance.now();
    this.kernel(buffers, this.args, 0, this.threads);
    const deadline = performance.now() + this.timeoutMs + 20 * (performance.now() - start);
    for (let left; (left = Atomics.load(ctrl, PENDING)) !== 0; ) {
      const wait = deadline - performance.now();
      if (wait <= 0) this.fail(`${left} of ${this.workers.length} workers did not finish within ${Math.round(deadline - start)} ms`);
      Atomics.wait(ctrl, PENDING, left, wait);
    }
    if (Atomics.load(ctrl, FAILED) !== 0) {
      const messages = this.ports.map((p) => this.node.worker_threads.receiveMessageOnPort(p)?.message as string | undefined);
      this.fail(messages.filter((m) => m !== undefined).join('\n') || 'a worker failed');
    }
  }

  /** Stops the workers. A worker stuck in its kernel is stopped too, so none is left running. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) void w.terminate();
  }

  private fail(reason: string): never {
    this.failure ??= reason;
    this.close();
    throw new Error(`cpu worker pool: ${reason}`);
  }
}
