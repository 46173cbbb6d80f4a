import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';

/** One measured row: what ran, on what, and how fast. */
export interface BenchRow {
  suite: string;
  case: string;
  /** 'tsgrad/cpu', 'tfjs/cpu', 'tsgrad/webgpu', 'pytorch'... */
  impl: string;
  meanMs: number;
  /** Median latency: robust to the odd slow sample on a shared machine. */
  medianMs?: number;
  /** Relative margin of error of the mean, in percent (tinybench's rme). */
  rmePercent: number;
  samples: number;
  /** Work-derived throughput where it applies (matmul: GFLOP/s). */
  gflops?: number;
}

export interface BenchTask {
  case: string;
  impl: string;
  /** Floating-point operations of one run, for GFLOP/s. */
  flops?: number;
  setup?: () => void | Promise<void>;
  run: () => unknown | Promise<unknown>;
  teardown?: () => void | Promise<void>;
}

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

/** Runs tasks one by one with tinybench (each gets its own warm-up) and returns the rows. */
export async function measure(suite: string, tasks: BenchTask[], opts: { time?: number; iterations?: number } = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const t of tasks) {
    await t.setup?.();
    const bench = new Bench({ time: opts.time ?? 1000, iterations: opts.iterations ?? 5, warmup: true, warmupIterations: 2 });
    bench.add(`${t.case} ${t.impl}`, t.run);
    await bench.run();
    const result = bench.tasks[0]!.result as unknown as { state?: string; error?: Error };
    // tinybench records a throwing task as 'errored' and carries on; a benchmark must not.
    if (result.state === 'errored') throw new Error(`${suite} | ${t.case} | ${t.impl} failed: ${result.error?.message}`, { cause: result.error });
    const r = result as unknown as {
      latency?: { mean: number; p50?: number; rme: number; samples?: number[]; samplesCount?: number };
      mean?: number; rme?: number; samples?: number[];
    };
    const mean = r.latency?.mean ?? r.mean ?? NaN;
    const row: BenchRow = {
      suite, case: t.case, impl: t.impl, meanMs: mean,
      rmePercent: r.latency?.rme ?? r.rme ?? NaN,
      samples: r.latency?.samplesCount ?? (r.latency?.samples ?? r.samples ?? []).length,
    };
    if (r.latency?.p50 !== undefined) row.medianMs = r.latency.p50;
    if (t.flops) row.gflops = t.flops / (mean * 1e6);
    rows.push(row);
    console.log(`${suite} | ${t.case} | ${t.impl} | ${mean.toFixed(3)} ms${row.gflops ? ` | ${row.gflops.toFixed(2)} GFLOP/s` : ''}`);
    await t.teardown?.();
  }
  return rows;
}

/** Writes `results/<name>.json` (rows plus machine facts) and `results/<name>.md` (a table). */
export function save(name: string, rows: BenchRow[], notes: string[] = []): void {
  mkdirSync(resultsDir, { recursive: true });
  const os = process.versions;
  writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify({ date: new Date().toISOString(), node: os.node, notes, rows }, null, 2) + '\n');
  const lines = ['| case | impl | mean ms | median ms | ± % | samples | GFLOP/s |', '|---|---|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.case} | ${r.impl} | ${r.meanMs.toFixed(3)} | ${r.medianMs?.toFixed(3) ?? ''} | ${r.rmePercent.toFixed(1)} | ${r.samples} | ${r.gflops ? r.gflops.toFixed(2) : ''} |`);
  }
  writeFileSync(join(resultsDir, `${name}.md`), [...notes.map((n) => `${n}\n`), lines.join('\n'), ''].join('\n'));
}
