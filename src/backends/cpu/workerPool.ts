/*
 * A few worker threads that run one kernel over shared memory, while the backend's API stays
 * synchronous: the calling thread takes parts of a job like any worker, then waits until the parts
 * the workers took are done.
 *
 * Parts are claimed, not assigned. One shared word holds the job's number and the next unclaimed
 * part, and a thread takes a part by compare-and-swap on that word, so a part runs exactly once,
 * and a worker that wakes late, twice, or for a job already finished finds nothing left to claim.
 * A slow or not-yet-started worker therefore costs time, never a result: the calling thread runs
 * whatever nobody else took. (The pool this replaces counted pending workers down instead: a
 * notify that reached a worker after it had already seen the new job and finished it woke it a
 * second time, it ran the same job again, and the count went to -1, which the caller then waited
 * on until its timeout. test/backends/cpu-workerPool.test.ts reproduces that late notify.)
 *
 * One pool runs every kernel program of the backend (matmul, attention, elementwise), so its
 * workers watch for the next job of any of them: with a pool per program, each program's job sent
 * the others' workers to sleep, and the next job waited for one to wake or ran on one thread. A
 * job names its program by index; a program joins the pool (is posted to every worker) the first
 * time a job runs it.
 *
 * The claim protocol (`claimParts`), each worker's main loop and the kernels are TypeScript
 * functions, type-checked where they are written. A pool serialises them with `toString()`,
 * into its workers' program and the messages that add kernels, and compiles each kernel from
 * that same text on the calling thread, so every thread runs the same code, and a kernel that
 * refers to anything outside itself fails on its first run instead of only in the workers. A
 * minifier keeps such functions whole, but its keep-names mode wraps a named function defined
 * inside another in a helper of the bundle, which the workers do not have: so these functions
 * define no named functions inside them (a kernel takes the functions it calls as parameters,
 * see `PoolProgram.helpers`).
 *
 * Node's worker_threads are reached through `process.getBuiltinModule` (Node ≥ 20.16) and browsers'
 * Web Workers only when `crossOriginIsolated` allows SharedArrayBuffer; nothing is imported, so a
 * browser build carries no Node module. A browser's main thread may not block in `Atomics.wait`,
 * so there the calling thread spins until the workers' parts are done.
 */

/**
 * One part of a job: `part` of `parts`, over the job's shared `buffers`, parameterised by integer
 * `args` (sizes and offsets). Int32 on purpose: V8 then treats them as small integers, while
 * Float64 args made every index derived from them a double and halved the matmul kernel's speed.
 */
export type PoolKernel = (buffers: Float64Array[], args: Int32Array, part: number, parts: number) => void;

/**
 * A kernel for every thread of a pool. `kernel(setup, ...helpers)` builds one thread's kernel;
 * it and each helper must be self-contained function expressions or declarations (not methods),
 * referring to nothing outside themselves but globals and their parameters.
 */
export interface PoolProgram {
  kernel: (setup: never, ...helpers: never[]) => PoolKernel;
  /** Functions passed to `kernel` after `setup`, serialised beside it. */
  helpers?: readonly ((...args: never[]) => unknown)[];
  /** A structured-cloneable value passed to `kernel` on every thread (a WebAssembly.Module, a shared WebAssembly.Memory). */
  setup?: unknown;
}

export interface PoolOptions {
  /** Threads in all, the calling one included; at least 2. */
  threads: number;
  /**
   * How long the calling thread waits for a part a worker claimed and has not finished; then the
   * job fails and the pool closes. Only a worker stuck in its kernel trips it: a worker that is
   * slow to start or to wake claims nothing. Default: wait as long as it takes.
   */
  timeoutMs?: number;
}

/** Slots of the shared control array, and where the args array keeps the job's part count. */
const SLOTS = {
  gen: 0, // the job's number; workers sleep on it
  claim: 1, // (job number mod 2^23) · 128 + next unclaimed part
  done: 2, // parts finished in the current job; the caller sleeps on it
  failed: 3, // set by a worker whose kernel threw
  buffers: 4, // generation of the buffer list the job uses (browsers post it asynchronously)
  program: 5, // the index of the job's kernel program in the pool
  parts: 16, // in args: args[0..parts) are the job's args, args[parts] its number of parts
} as const;
type Slots = typeof SLOTS;
const MAX_ARGS = SLOTS.parts;
/** Parts a job may have: the claim word keeps the next part in 7 bits. */
export const MAX_PARTS = 127;

/**
 * The claim protocol, run by every thread of a pool: claims and runs parts of job `job` until
 * none is left. `run(part)` runs one part.
 */
export function claimParts(ctrl: Int32Array, slots: Slots, job: number, parts: number, run: (part: number) => void): void {
  const tag = (job & 0x7fffff) * 128;
  for (;;) {
    const word = Atomics.load(ctrl, slots.claim);
    if (word - (word & 127) !== tag || (word & 127) >= parts) return;
    if (Atomics.compareExchange(ctrl, slots.claim, word, word + 1) !== word) continue;
    run(word & 127);
    Atomics.add(ctrl, slots.done, 1);
    Atomics.notify(ctrl, slots.done);
  }
}

type Claim = typeof claimParts;

/**
 * A program as its text, `[kernel, [helpers]]` (see `programText`), with its setup: what the
 * pool posts to its workers. Each thread builds its kernel from it with `buildKernel`.
 */
interface ProgramMessage {
  index: number;
  text: string;
  setup: unknown;
}

/** A thread's kernel, built from a program's text (a worker's copy of this function comes as text too). */
function buildKernel(text: string, setup: unknown): PoolKernel {
  const [make, helpers] = new Function(`return ${text};`)() as [(setup: unknown, ...helpers: unknown[]) => PoolKernel, unknown[]];
  return make(setup, ...helpers);
}
type Build = typeof buildKernel;

/** What a Node worker reads from `node:worker_threads`. */
interface NodeWorkerSide {
  workerData: { control: SharedArrayBuffer; args: SharedArrayBuffer; port: NodePort; lastPool: SharedArrayBuffer; id: number };
  receiveMessageOnPort(port: NodePort): { message: unknown } | undefined;
}

/**
 * The Node worker's whole program: wait for a job, pick up new buffers and programs, claim parts,
 * report errors. A program whose kernel failed to build leaves that program's jobs to the others.
 */
function nodeWorker(claim: Claim, build: Build, slots: Slots): void {
  const proc = (globalThis as unknown as { process: { getBuiltinModule(id: string): unknown } }).process;
  const wt = proc.getBuiltinModule('node:worker_threads') as NodeWorkerSide;
  const { control, args, port, lastPool: lastPoolBuffer, id } = wt.workerData;
  const ctrl = new Int32Array(control), argv = new Int32Array(args), lastPool = new Int32Array(lastPoolBuffer);
  const kernels: (PoolKernel | undefined)[] = [];
  let buffers: Float64Array[] = [], seen = 0;
  // After a job, watch for the next one this long before sleeping: a training step posts its next
  // matmul within a millisecond or two, and waking a sleeping thread takes tens of microseconds on
  // bare metal and often hundreds in a virtual machine, by which time the caller has done the parts
  // itself. OpenMP runtimes spin the same way (200 ms by default), for the same reason. Only while
  // this pool ran the last job, though: another pool's workers then have the cores.
  const spinMs = 2;
  for (;;) {
    for (let i = 0, until = performance.now() + spinMs; Atomics.load(ctrl, slots.gen) === seen && Atomics.load(lastPool, 0) === id; i++) {
      if ((i & 255) === 0 && performance.now() > until) break;
    }
    // Loop, not one wait: a wake-up is only a hint to look, the job number is the truth.
    while (Atomics.load(ctrl, slots.gen) === seen) Atomics.wait(ctrl, slots.gen, seen);
    seen = Atomics.load(ctrl, slots.gen);
    // The caller posts replaced buffers and new programs before it starts a job, so they are already queued here.
    for (let m; (m = wt.receiveMessageOnPort(port)) !== undefined; ) {
      if (Array.isArray(m.message)) {
        buffers = (m.message as ArrayBufferLike[]).map((b) => new Float64Array(b));
        continue;
      }
      const p = m.message as ProgramMessage;
      try {
        kernels[p.index] = build(p.text, p.setup);
      } catch (e) {
        port.postMessage(String((e as Error)?.stack ?? e));
      }
    }
    const kernel = kernels[Atomics.load(ctrl, slots.program)];
    if (!kernel) continue;
    claim(ctrl, slots, seen, argv[slots.parts]!, (part) => {
      try {
        kernel(buffers, argv, part, argv[slots.parts]!);
      } catch (e) {
        port.postMessage(String((e as Error)?.stack ?? e));
        Atomics.store(ctrl, slots.failed, 1);
      }
    });
  }
}

/** The browser's `Atomics.waitAsync` (ES2024). */
type WaitAsync = (ctrl: Int32Array, index: number, value: number) => { async: boolean; value: Promise<unknown> | string };

/**
 * The Web Worker's program. It returns to its event loop between jobs (Atomics.waitAsync), so
 * buffer lists posted by the page arrive; a job whose buffers have not arrived yet is left to
 * the other threads.
 */
function browserWorker(claim: Claim, build: Build, slots: Slots): void {
  const scope = globalThis as unknown as { onmessage: ((e: { data: Record<string, unknown> }) => void) | null };
  const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
  const kernels: (PoolKernel | undefined)[] = [];
  let buffers: Float64Array[] = [], buffersGen = 0;
  scope.onmessage = (e) => {
    const m = e.data;
    if (m['program']) {
      const p = m['program'] as ProgramMessage;
      try {
        kernels[p.index] = build(p.text, p.setup);
      } catch (err) {
        console.error(err);
      }
      return;
    }
    if (!m['control']) {
      buffers = (m['buffers'] as ArrayBufferLike[]).map((b) => new Float64Array(b));
      buffersGen = m['generation'] as number;
      return;
    }
    const ctrl = new Int32Array(m['control'] as SharedArrayBuffer), argv = new Int32Array(m['args'] as SharedArrayBuffer);
    void (async () => {
      for (let seen = 0; ; ) {
        while (Atomics.load(ctrl, slots.gen) !== seen) {
          seen = Atomics.load(ctrl, slots.gen);
          const kernel = kernels[Atomics.load(ctrl, slots.program)];
          if (!kernel || Atomics.load(ctrl, slots.buffers) !== buffersGen) continue;
          claim(ctrl, slots, seen, argv[slots.parts]!, (part) => {
            try {
              kernel(buffers, argv, part, argv[slots.parts]!);
            } catch (err) {
              console.error(err);
              Atomics.store(ctrl, slots.failed, 1);
            }
          });
        }
        const wait = waitAsync(ctrl, slots.gen, seen);
        if (wait.async) await wait.value;
      }
    })();
  };
}

/** A worker's program: its main loop, called with the claim protocol and how to build kernels. */
function workerSource(main: typeof nodeWorker): string {
  return `'use strict';\n(${main})(${claimParts}, ${buildKernel}, ${JSON.stringify(SLOTS)});\n`;
}

/** A kernel program as the text every thread builds its kernel from: `[kernel, [helpers]]`. */
function programText(program: PoolProgram): string {
  return `[${program.kernel}, [${(program.helpers ?? []).join(', ')}]]`;
}

/** What a pool needs from its host: how to start a worker, and how to wait. */
interface Host {
  threads: number;
  /** The worker's main loop (see `workerSource`). */
  main: typeof nodeWorker;
  /** Starts a worker on the pool's shared state; returns how to post buffer lists and programs, and stop it. */
  start(source: string, init: { control: SharedArrayBuffer; args: SharedArrayBuffer }, onFailure: (why: string) => void): HostWorker;
  /** True where this thread may block in Atomics.wait. */
  canBlock: boolean;
}

interface HostWorker {
  postBuffers(buffers: ArrayBufferLike[], generation: number): void;
  postProgram(program: ProgramMessage): void;
  /** The error messages its failing kernels posted, where they can be read synchronously. */
  takeErrors(): string[];
  stop(): void;
}

interface NodeWorkerThreads {
  Worker: new (src: string, opts: object) => {
    unref(): void; terminate(): Promise<number>;
    on(event: 'error' | 'exit', f: (x: unknown) => void): void;
  };
  MessageChannel: new () => { port1: NodePort; port2: NodePort };
  receiveMessageOnPort(port: NodePort): { message: unknown } | undefined;
}
interface NodePort {
  postMessage(m: unknown): void;
  unref(): void;
}

function nodeHost(): Host | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return null;
  const wt = proc.getBuiltinModule('node:worker_threads') as NodeWorkerThreads | undefined;
  const os = proc.getBuiltinModule('node:os') as { availableParallelism?: () => number } | undefined;
  if (!wt?.Worker || typeof os?.availableParallelism !== 'function') return null;
  return {
    threads: os.availableParallelism(),
    main: nodeWorker,
    canBlock: true,
    start(source, init, onFailure) {
      const { port1, port2 } = new wt.MessageChannel();
      const worker = new wt.Worker(source, { eval: true, workerData: { ...init, port: port2 }, transferList: [port2] });
      // Idle workers sleep in Atomics.wait forever; unref'd, they never keep the process alive.
      worker.unref();
      port1.unref();
      worker.on('error', (e) => onFailure(`failed: ${(e as Error).stack ?? String(e)}`));
      worker.on('exit', (code) => onFailure(`exited with code ${String(code)}`));
      return {
        postBuffers: (buffers) => port1.postMessage(buffers),
        postProgram: (program) => port1.postMessage(program),
        takeErrors() {
          const out: string[] = [];
          for (let m; (m = wt.receiveMessageOnPort(port1)) !== undefined; ) out.push(String(m.message));
          return out;
        },
        stop: () => void worker.terminate(),
      };
    },
  };
}

interface WebWorkerGlobals {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  Worker?: new (url: string) => { postMessage(m: unknown): void; terminate(): void; onerror: ((e: { message?: string }) => void) | null };
  Blob?: new (parts: string[], opts: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string };
  document?: unknown;
}

function browserHost(): Host | null {
  const g = globalThis as unknown as WebWorkerGlobals;
  const waitAsync = (Atomics as { waitAsync?: unknown }).waitAsync;
  if (g.crossOriginIsolated !== true || !g.Worker || !g.Blob || !g.URL || typeof waitAsync !== 'function') return null;
  const { Worker, Blob, URL } = g;
  return {
    threads: g.navigator?.hardwareConcurrency ?? 1,
    main: browserWorker,
    canBlock: g.document === undefined,
    start(source, init, onFailure) {
      const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      const worker = new Worker(url);
      worker.onerror = (e) => onFailure(`failed: ${e.message ?? 'error'}`);
      worker.postMessage(init);
      return {
        postBuffers: (buffers, generation) => worker.postMessage({ buffers, generation }),
        postProgram: (program) => worker.postMessage({ program }),
        takeErrors: () => [],
        stop: () => worker.terminate(),
      };
    },
  };
}

function host(): Host | null {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics?.wait !== 'function') return null;
  return nodeHost() ?? browserHost();
}

/** How many threads can run at once here; 1 where a pool cannot run. */
export function availableThreads(): number {
  return host()?.threads ?? 1;
}

/** A Float64Array over shared memory, which every thread of a pool can read and write. */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
}

/**
 * Compiles the kernel on this thread from the text the workers get, so every thread runs the
 * same code. Throws a SyntaxError for a kernel whose text is no expression (a method).
 */
export function compileKernel(program: PoolProgram): PoolKernel {
  return buildKernel(programText(program), program.setup);
}

/** Pools made so far, and the number of the pool that ran the last job (shared with every worker). */
let pools = 0;
let lastPool: Int32Array | null = null;

/**
 * Runs kernels on `threads` threads at once, synchronously: the program it was created with, or
 * any other a job names.
 *
 * @example
 * const pool = WorkerPool.create({ kernel: () => (buffers, args, part) => { buffers[0]![part] = args[0]!; } }, { threads: 2 });
 * pool?.run([sharedFloat64(2)], [7]); // both parts ran, on this thread or a worker: [7, 7]
 */
export class WorkerPool {
  private readonly control = new Int32Array(new SharedArrayBuffer(8 * Int32Array.BYTES_PER_ELEMENT));
  /** args[0..MAX_ARGS) are the job's args, args[MAX_ARGS] its number of parts. */
  private readonly args = new Int32Array(new SharedArrayBuffer((MAX_ARGS + 1) * Int32Array.BYTES_PER_ELEMENT));
  private readonly workers: HostWorker[] = [];
  /** The buffers the workers hold, to post only replaced ones. */
  private sent: ArrayBufferLike[] = [];
  private closed = false;
  private failure: string | null = null;
  /** This pool's number in `lastPool`. */
  private readonly id = ++pools;
  /** The programs the workers have, with their index and this thread's kernel. */
  private readonly programs = new Map<PoolProgram, { index: number; kernel: PoolKernel }>();
  private readonly first: { index: number; kernel: PoolKernel };

  private constructor(
    private readonly threads: number,
    private readonly timeoutMs: number,
    private readonly host: Host,
    program: PoolProgram,
  ) {
    lastPool ??= new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const init = { control: this.control.buffer as SharedArrayBuffer, args: this.args.buffer as SharedArrayBuffer, lastPool: lastPool.buffer as SharedArrayBuffer, id: this.id };
    const source = workerSource(host.main);
    for (let w = 1; w < threads; w++) {
      // A worker that dies only stops claiming parts; the threads left do its share.
      this.workers.push(host.start(source, init, () => undefined));
    }
    this.first = this.adopt(program);
  }

  /**
   * A pool, or null where worker threads are unavailable (a browser page that is not
   * cross-origin isolated, Node < 20.16) or `threads` < 2. Throws if the kernel does not compile.
   */
  static create(program: PoolProgram, options: PoolOptions): WorkerPool | null {
    const h = host();
    if (!h || options.threads < 2) return null;
    compileKernel(program);
    return new WorkerPool(Math.min(options.threads, MAX_PARTS), options.timeoutMs ?? Infinity, h, program);
  }

  /** The program's index and kernel here, posting it to the workers the first time. Throws if the kernel does not compile. */
  private adopt(program: PoolProgram): { index: number; kernel: PoolKernel } {
    let known = this.programs.get(program);
    if (!known) {
      const text = programText(program);
      known = { index: this.programs.size, kernel: buildKernel(text, program.setup) };
      this.programs.set(program, known);
      for (const w of this.workers) w.postProgram({ index: known.index, text, setup: program.setup });
    }
    return known;
  }

  /** Threads in all, the calling one included. */
  get size(): number {
    return this.threads;
  }

  /**
   * Runs kernel(buffers, args, part, parts) once for every part (default: one per thread), on
   * whichever threads claim them, and returns when all are done; the kernel is `program`'s, by
   * default the one the pool was created with. Buffers must be shared (see `sharedFloat64`).
   * Throws if a kernel threw or a claimed part outlived `timeoutMs`; the pool is then closed,
   * and every later run throws.
   */
  run(buffers: Float64Array[], args: readonly number[], parts = this.threads, program?: PoolProgram): void {
    if (this.closed) throw new Error(`cpu worker pool: closed${this.failure ? ` after: ${this.failure}` : ''}`);
    if (args.length > MAX_ARGS || !args.every((x) => x === (x | 0))) throw new Error(`cpu worker pool: args must be at most ${MAX_ARGS} int32s, got [${args.join(', ')}]`);
    if (!Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS) throw new Error(`cpu worker pool: parts must be a whole number in [1, ${MAX_PARTS}], got ${parts}`);
    const { index, kernel } = program ? this.adopt(program) : this.first;
    const ctrl = this.control;
    const sabs = buffers.map((b) => b.buffer);
    if (sabs.length !== this.sent.length || sabs.some((b, i) => b !== this.sent[i])) {
      const generation = Atomics.add(ctrl, SLOTS.buffers, 1) + 1;
      for (const w of this.workers) w.postBuffers(sabs, generation);
      this.sent = sabs;
    }
    this.args.set(args);
    this.args[MAX_ARGS] = parts;
    Atomics.store(ctrl, SLOTS.failed, 0);
    Atomics.store(ctrl, SLOTS.done, 0);
    Atomics.store(lastPool!, 0, this.id);
    Atomics.store(ctrl, SLOTS.program, index);
    const job = (Atomics.load(ctrl, SLOTS.gen) + 1) | 0;
    Atomics.store(ctrl, SLOTS.claim, (job & 0x7fffff) * 128);
    Atomics.store(ctrl, SLOTS.gen, job);
    Atomics.notify(ctrl, SLOTS.gen);

    // This thread claims parts like any worker. If its kernel throws, the workers' parts are
    // still waited for, since they write into the same buffers.
    const errors: string[] = [];
    claimParts(ctrl, SLOTS, job, parts, (part) => {
      try {
        kernel(buffers, this.args, part, parts);
      } catch (e) {
        errors.push(String((e as Error).stack ?? e));
      }
    });
    // Every part is claimed now; wait for those the workers hold.
    const start = performance.now();
    for (let done; (done = Atomics.load(ctrl, SLOTS.done)) < parts; ) {
      const wait = start + this.timeoutMs - performance.now();
      if (wait <= 0) this.fail(`${parts - done} of ${this.workers.length} workers did not finish within ${Math.round(performance.now() - start)} ms`);
      if (this.host.canBlock) Atomics.wait(ctrl, SLOTS.done, done, Math.min(wait, 1000));
    }
    if (Atomics.load(ctrl, SLOTS.failed) !== 0 || errors.length > 0) {
      this.fail([...errors, ...this.workers.flatMap((w) => w.takeErrors())].join('\n') || 'a worker failed');
    }
  }

  /** Stops the workers. A worker stuck in its kernel is stopped too, so none is left running. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) w.stop();
  }

  private fail(reason: string): never {
    this.failure ??= reason;
    this.close();
    throw new Error(`cpu worker pool: ${reason}`);
  }
}
