// The worker pool behind the threaded CPU matmul: every part runs exactly once per job on
// whichever thread claims it, buffers are shared and replaceable, a slow or dead worker costs
// time and never a result, and a failing or stuck kernel ends in an error, not a hang.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type PoolProgram, WorkerPool, availableThreads, sharedFloat64 } from '../../src/backends/cpu/workerPool.js';

/** out[part] += args[0] · (part + 1): shows which parts ran, and how often. */
const recordPart: PoolProgram = {
  kernel: () => (buffers, args, part) => {
    buffers[0]![part] += args[0]! * (part + 1);
  },
};

const pools: WorkerPool[] = [];
/** A pool whose claimed parts fail after half a second, so a broken worker cannot stall the suite. */
function pool(program: PoolProgram, threads: number): WorkerPool {
  const p = WorkerPool.create(program, { threads, timeoutMs: 500 });
  if (!p) throw new Error('worker threads are unavailable in this Node');
  pools.push(p);
  return p;
}
afterEach(() => {
  vi.restoreAllMocks();
  pools.splice(0).forEach((p) => p.close());
});

/** Blocks this thread for `ms` (the pool's workers keep running). */
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('WorkerPool', () => {
  it('runs each part once per job, on replaced buffers too', () => {
    const p = pool(recordPart, 3);
    const out = sharedFloat64(3);
    p.run([out], [1]);
    p.run([out], [10]);
    expect(Array.from(out)).toEqual([11, 22, 33]);
    const bigger = sharedFloat64(4);
    p.run([bigger], [2]);
    expect(Array.from(bigger)).toEqual([2, 4, 6, 0]);
    // More parts than threads: each still runs once.
    const many = sharedFloat64(9);
    p.run([many], [1], 9);
    expect(Array.from(many)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('runs a job once when a wake-up reaches a worker late (the race that made the pending count -1)', () => {
    const p = pool(recordPart, 2);
    const out = sharedFloat64(2);
    p.run([out], [1]); // the worker is up and asleep
    // Deliver this thread's wake-up, hold this thread until a worker has done a part of the new
    // job and gone back to sleep, then deliver the same wake-up again, as a notify that was
    // delayed on a loaded machine does. The pool before this one ran the job a second time.
    const notify = Atomics.notify.bind(Atomics);
    vi.spyOn(Atomics, 'notify').mockImplementation((array, index, count) => {
      const woken = notify(array, index, count);
      const before = out[0]! + out[1]!;
      for (let t = 0; t < 5000 && out[0]! + out[1]! === before; t += 5) sleep(5);
      sleep(50);
      notify(array, index, count);
      return woken;
    });
    for (let job = 0; job < 3; job++) p.run([out], [10]);
    vi.restoreAllMocks();
    p.run([out], [100]);
    expect(Array.from(out)).toEqual([1 + 30 + 100, 2 + 60 + 200]);
  });

  it("turns a kernel's exception into an error with its message, and stays closed", () => {
    const p = pool({
      kernel: () => (_buffers, _args, part) => {
        if (part === 1) throw new Error('kernel blew up');
      },
    }, 2);
    expect(() => p.run([sharedFloat64(1)], [])).toThrow(/kernel blew up/);
    expect(() => p.run([sharedFloat64(1)], [])).toThrow(/closed after: .*kernel blew up/s);
  });

  it('times out on a worker stuck in its part instead of hanging, and stops it', () => {
    // Part 0 (claimed first, here) waits until a worker has claimed part 1, where it spins forever.
    const spinInWorker: PoolProgram = {
      kernel: () => (buffers) => {
        if ((process.getBuiltinModule('node:worker_threads') as { isMainThread: boolean }).isMainThread) {
          for (const end = Date.now() + 5000; buffers[0]![0] === 0 && Date.now() < end; );
        } else {
          buffers[0]![0] = 1;
          for (;;);
        }
      },
    };
    const p = pool(spinInWorker, 2);
    expect(() => p.run([sharedFloat64(1)], [])).toThrow(/1 of 1 workers did not finish within \d+ ms/);
  });

  it('finishes every job on the calling thread when its workers cannot even start', () => {
    const program: PoolProgram = {
      kernel: () => {
        if (!(process.getBuiltinModule('node:worker_threads') as { isMainThread: boolean }).isMainThread) throw new Error('no worker today');
        return (buffers, args, part) => {
          buffers[0]![part] += args[0]! * (part + 1);
        };
      },
    };
    const p = pool(program, 3);
    const out = sharedFloat64(3);
    p.run([out], [1]);
    sleep(200); // the workers have failed by now
    p.run([out], [10]);
    expect(Array.from(out)).toEqual([11, 22, 33]);
  });

  it('refuses a kernel written as a method, whose text is no expression, before starting any worker', () => {
    const method: PoolProgram = {
      kernel() {
        return () => undefined;
      },
    };
    expect(() => WorkerPool.create(method, { threads: 2 })).toThrow(SyntaxError);
  });

  it('runs the kernel from its text on this thread too, so one that uses a name from outside fails on its first run', () => {
    const outside = 7;
    const p = pool({ kernel: () => (buffers) => void (buffers[0]![0] = outside) }, 2);
    expect(() => p.run([sharedFloat64(1)], [])).toThrow(/outside is not defined/);
  });

  it('passes its helpers to the kernel on every thread', () => {
    const triple = (x: number) => 3 * x;
    const p = pool({
      kernel: (_setup: unknown, f: typeof triple) => (buffers, args, part) => {
        buffers[0]![part] = f(args[0]! + part);
      },
      helpers: [triple],
    }, 3);
    const out = sharedFloat64(6);
    p.run([out], [10], 6);
    expect(Array.from(out)).toEqual([30, 33, 36, 39, 42, 45]);
  });

  it('runs other programs on the same workers, each job with its own kernel and setup', () => {
    // Each part holds its thread until a worker has taken a part too, and records where it ran.
    const where = (tag: number): PoolProgram => ({
      kernel: (setup: { tag: number }) => (buffers, args, part) => {
        const inWorker = !(process.getBuiltinModule('node:worker_threads') as { isMainThread: boolean }).isMainThread;
        buffers[0]![part] = setup.tag * args[0]! + part;
        if (inWorker) buffers[1]![0] = setup.tag;
        for (const end = Date.now() + 2000; buffers[1]![0] !== setup.tag && Date.now() < end; );
      },
      setup: { tag },
    });
    const first = where(1), second = where(2);
    const p = pool(first, 2);
    const out = sharedFloat64(4), worker = sharedFloat64(1);
    for (const [program, tag] of [[first, 1], [second, 2], [first, 1], [second, 2]] as const) {
      worker[0] = 0;
      p.run([out, worker], [10], 4, program === first ? undefined : program);
      expect(Array.from(out)).toEqual([0, 1, 2, 3].map((part) => tag * 10 + part));
      expect(worker[0]).toBe(tag); // a worker ran a part of this program's job
    }
  });

  it('is unavailable without process.getBuiltinModule (browsers, Node < 20.16), so matmuls stay on one thread', () => {
    const { getBuiltinModule } = process;
    try {
      (process as { getBuiltinModule?: unknown }).getBuiltinModule = undefined;
      expect(WorkerPool.create(recordPart, { threads: 2 })).toBeNull();
      expect(availableThreads()).toBe(1);
    } finally {
      process.getBuiltinModule = getBuiltinModule;
    }
  });
});
