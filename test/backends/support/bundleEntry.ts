// Bundled and minified by cpu-bundle.test.ts, then run in a plain Node: a threaded matmul on each
// CPU path, checked against a triple loop on small integers (exact in float32), and a pool whose
// parts report the thread they ran on, since the calling thread alone would also give exact results.
import { getBackendInfo, setBackend, tensor } from '../../../src/index.js';
import { WorkerPool, sharedFloat64 } from '../../../src/backends/cpu/workerPool.js';

const [m, k, n] = [120, 100, 130];
const a = Array.from({ length: m * k }, (_, i) => ((i * 7) % 17) - 8);
const b = Array.from({ length: k * n }, (_, i) => ((i * 5) % 13) - 6);
const want: number[] = [];
for (let i = 0; i < m; i++) {
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
    want.push(s);
  }
}
const report: Record<string, unknown> = {};
for (const wasm of [true, false]) {
  await setBackend('cpu', { wasm });
  const got = Array.from(tensor(a, { shape: [m, k] }).matmul(tensor(b, { shape: [k, n] })).dataSync());
  report[wasm ? 'wasm' : 'js'] = { ...getBackendInfo('cpu'), exact: got.every((x, i) => x === want[i]) };
}

/** 1 on the calling thread, 2 on a worker. */
function threadKind(): number {
  const wt = (globalThis as unknown as { process: { getBuiltinModule(id: string): { isMainThread: boolean } } }).process.getBuiltinModule('node:worker_threads');
  return wt.isMainThread ? 1 : 2;
}
/** Holds a part long enough for a worker to claim the next one. */
function busy(ms: number): void {
  for (const end = Date.now() + ms; Date.now() < end; );
}
const pool = WorkerPool.create({
  kernel: (_setup: unknown, kind: typeof threadKind, wait: typeof busy) => (buffers, _args, part) => {
    wait(10);
    buffers[0]![part] = kind();
  },
  helpers: [threadKind, busy],
}, { threads: 2, timeoutMs: 10_000 })!;
const ran = sharedFloat64(8);
// Workers start asynchronously: the first jobs may all run here.
for (let job = 0; job < 50 && !ran.includes(2); job++) {
  pool.run([ran], [], 8);
  await new Promise((r) => setTimeout(r, 20));
}
pool.close();
report['pool'] = { calling: ran.includes(1), worker: ran.includes(2) };
console.log(JSON.stringify(report));
