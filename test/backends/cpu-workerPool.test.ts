// The worker pool behind the threaded CPU matmul: every part runs once per job on its own thread,
// buffers are shared and replaceable, and a failing or stuck worker ends in an error, not a hang.
import { afterEach, describe, expect, it } from 'vitest';
import { type PoolKernel, WorkerPool, availableThreads, sharedFloat64 } from '../../src/backends/cpu/workerPool.js';

/** out[part] = args[0] · (part + 1) + (the job's value already there): shows which parts ran, and how often. */
const recordPart: PoolKernel = (buffers, args, part) => {
  buffers[0]![part] = buffers[0]![part]! + args[0]! * (part + 1);
};

const pools: WorkerPool[] = [];
/** A pool whose jobs fail after half a second, so a broken worker cannot stall the suite. */
function pool(kernel: PoolKernel, threads: number, prelude?: string): WorkerPool {
  const p = WorkerPool.create(kernel, { threads, prelude, timeoutMs: 500 });
  if (!p) throw new Error('worker threads are unavailable in this Node');
  pools.push(p);
  return p;
}
afterEach(() => pools.splice(0).forEach((p) => p.close()));

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
  });

  it("turns a worker's exception into an error with its message, and stays closed", () => {
    const throwInWorker: PoolKernel = (_buffers, _args, part) => {
      if (part === 1) throw new Error('kernel blew up');
    };
    const p = pool(throwInWorker, 2);
    expect(() => p.run([sharedFloat64(1)], [])).toThrow(/kernel blew up/);
    expect(() => p.run([sharedFloat64(1)], [])).toThrow(/closed after: .*kernel blew up/s);
  });

  it('times out on a stuck worker instead of hanging, and stops it', () => {
    const spinInWorker: PoolKernel = (_buffers, _args, part) => {
      while (part === 1);
    };
    const p = pool(spinInWorker, 2);
    expect(() => p.run([sharedFloat64(1)], [])).toThrow(/1 of 1 workers did not finish within \d+ ms/);
  });

  it('times out when a worker cannot even start', () => {
    const p = pool(recordPart, 2, 'throw new Error("bad prelude");');
    expect(() => p.run([sharedFloat64(2)], [1])).toThrow(/did not finish/);
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
