// Bundled (minified, names kept, as the browser build is) by threads.test.ts and loaded in a
// cross-origin isolated page: a worker pool whose parts report where they ran.
import { WorkerPool, sharedFloat64 } from '../../src/backends/cpu/workerPool.js';

/** 1 on the page's thread, 2 in a Web Worker. */
function threadKind(): number {
  return typeof (globalThis as { document?: unknown }).document === 'undefined' ? 2 : 1;
}

/** Holds a part long enough for a worker to claim the next one. */
function busy(ms: number): void {
  for (const end = Date.now() + ms; Date.now() < end; );
}

/** Runs jobs until a worker has run a part (they start asynchronously), or 50 jobs. */
async function runPool(): Promise<{ page: boolean; worker: boolean; error: string | null }> {
  const pool = WorkerPool.create({
    kernel: (_setup: unknown, kind: typeof threadKind, wait: typeof busy) => (buffers, _args, part) => {
      wait(10);
      buffers[0]![part] = kind();
    },
    helpers: [threadKind, busy],
  }, { threads: 2, timeoutMs: 10_000 });
  if (!pool) return { page: false, worker: false, error: 'no pool: the page is not cross-origin isolated' };
  const ran = sharedFloat64(8);
  try {
    for (let job = 0; job < 50 && !ran.includes(2); job++) {
      pool.run([ran], [], 8);
      await new Promise((r) => setTimeout(r, 20));
    }
    return { page: ran.includes(1), worker: ran.includes(2), error: null };
  } catch (e) {
    return { page: false, worker: false, error: String(e) };
  } finally {
    pool.close();
  }
}

(globalThis as unknown as { runPool: typeof runPool }).runPool = runPool;
