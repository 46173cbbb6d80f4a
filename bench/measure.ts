// Measuring with tinybench, in Node and in the browser (the playground's benchmark section runs
// the same tasks through it): one row per task, rounds interleaved. Writing results is Node-only
// and lives in harness.ts.
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
  /** With `rounds` > 1: the median of each round, in order. */
  roundMediansMs?: number[];
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

interface LatencyStats {
  mean: number;
  p50: number;
  rme: number;
  samples?: ArrayLike<number>;
  samplesCount?: number;
}

/** Runs one task once with tinybench (with its own warm-up) and returns its latency statistics. */
async function runOnce(suite: string, t: BenchTask, opts: { time?: number; iterations?: number; warmupIterations?: number }): Promise<LatencyStats> {
  await t.setup?.();
  const bench = new Bench({ time: opts.time ?? 1000, iterations: opts.iterations ?? 5, warmup: true, warmupIterations: opts.warmupIterations ?? 2, retainSamples: true });
  // tinybench tells a plain function's async result by calling it once without awaiting it; that
  // stray run would overlap the first timed one (and interleave tsgrad's scope and noGrad). So
  // the first call happens here, awaited, and tinybench is told what it returned.
  const first = t.run();
  if (first instanceof Promise) await first;
  bench.add(`${t.case} ${t.impl}`, t.run, { async: first instanceof Promise });
  await bench.run();
  const result = bench.tasks[0]!.result as unknown as { state?: string; error?: Error; latency?: LatencyStats };
  // tinybench records a throwing task as 'errored' and carries on; a benchmark must not.
  if (result.state === 'errored' || !result.latency) {
    throw new Error(`${suite} | ${t.case} | ${t.impl} failed: ${result.error?.message ?? result.state}`, { cause: result.error });
  }
  await t.teardown?.();
  return result.latency;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/**
 * Runs the tasks with tinybench and returns one row per task. With `rounds` > 1 the whole list
 * runs that many times, interleaved, so a change in machine load hits every task alike; each row
 * then pools its samples and keeps the per-round medians (compare tasks round by round).
 */
export async function measure(
  suite: string, tasks: BenchTask[], opts: { time?: number; iterations?: number; warmupIterations?: number; rounds?: number; log?: (line: string) => void } = {},
): Promise<BenchRow[]> {
  const log = opts.log ?? console.log;
  const rounds = opts.rounds ?? 1;
  const stats: LatencyStats[][] = tasks.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, t] of tasks.entries()) {
      const s = await runOnce(suite, t, opts);
      stats[i]!.push(s);
      log(`  ${t.case} | ${t.impl} | round ${round + 1}/${rounds}: median ${s.p50.toFixed(3)} ms`);
    }
  }
  return tasks.map((t, i) => {
    const ss = stats[i]!;
    let row: BenchRow;
    if (ss.length === 1) {
      const s = ss[0]!;
      row = { suite, case: t.case, impl: t.impl, meanMs: s.mean, medianMs: s.p50, rmePercent: s.rme, samples: s.samplesCount ?? s.samples?.length ?? 0 };
    } else {
      const all = ss.flatMap((s) => Array.from(s.samples ?? []));
      const mean = all.reduce((a, b) => a + b, 0) / all.length;
      const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, all.length - 1));
      row = {
        suite, case: t.case, impl: t.impl, meanMs: mean, medianMs: median(all),
        rmePercent: ((1.96 * sd) / Math.sqrt(all.length) / mean) * 100, // normal approximation over pooled samples
        samples: all.length, roundMediansMs: ss.map((s) => s.p50),
      };
    }
    if (t.flops) row.gflops = t.flops / (row.meanMs * 1e6);
    log(`${suite} | ${t.case} | ${t.impl} | ${row.meanMs.toFixed(3)} ms${row.gflops ? ` | ${row.gflops.toFixed(2)} GFLOP/s` : ''}`);
    return row;
  });
}

/**
 * Median over `n` rounds of (time of each variant / time of the first), the variants run back to
 * back in a rotating order: other processes on a shared machine slow neighbours alike, so the
 * per-round ratio is far steadier than a ratio of separately measured means.
 */
export async function pairedRatios(variants: (() => unknown)[], n: number): Promise<number[]> {
  const ratios: number[][] = variants.map(() => []);
  for (let i = 0; i < n; i++) {
    const ms = new Array<number>(variants.length);
    for (let k = 0; k < variants.length; k++) {
      const j = (i + k) % variants.length;
      const t0 = performance.now();
      // A synchronous variant is timed as it is; an async one (a GPU backend's) until it settles.
      const done = variants[j]!();
      if (done instanceof Promise) await done;
      ms[j] = performance.now() - t0;
    }
    ms.forEach((m, j) => ratios[j]!.push(m / ms[0]!));
  }
  return ratios.map((r) => r.sort((a, b) => a - b)[Math.floor(r.length / 2)]!);
}

/** The median of `n` timed calls of `fn`, in milliseconds, after `warmup` untimed ones: for the suites' own interleaved rounds. */
export function medianMs(fn: () => void, n: number, warmup = 10): number {
  for (let i = 0; i < warmup; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[n >> 1]!;
}
