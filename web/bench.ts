// The playground's benchmark section: the core and GPT suites' cases (bench/cases/), run in the
// visitor's browser on tsgrad's cpu, webgpu and gpujs backends beside TensorFlow.js on WebGPU and
// jax-js on WebGPU, timed by the same tinybench loop as `npm run bench` (bench/measure.ts). This
// machine's runs use SwiftShader; this page is how a user measures a real GPU. The peers load
// only when the benchmark runs.
import type * as TF from '@tensorflow/tfjs';
import { getBackendInfo, manualSeed, setBackend } from 'tsgrad';
import { GPT_SHAPE, gptStep } from '../bench/cases/gpt.js';
import { type Case, LINEAR, type StepMode, oursLinearStep, oursMatmul, tfLinearStep, tfMatmul } from '../bench/cases/linear.js';
import { type BenchRow, type BenchTask, measure } from '../bench/measure.js';
import { type GroupedBars, groupedBarChart } from './charts.js';

const $ = <T extends Element = HTMLElement>(id: string) => document.getElementById(id) as unknown as T;

const MATMUL = 512;
const STEP = (mode: StepMode) => `${mode} train step, x [${LINEAR.batch},${LINEAR.d}], W ${LINEAR.d}×${LINEAR.d}, Adam`;
/** The cases, by the Node suites' names (core and gpt). */
export const CASES = {
  matmul: `matmul ${MATMUL}`,
  lora: STEP('LoRA r4'),
  full: STEP('full fine-tuning'),
  gptFull: 'GPT train step, full fine-tuning',
  gptLora: 'GPT train step, LoRA r4 on c_attn',
} as const;
type CaseKey = keyof typeof CASES;

/** One library on one device, and how it makes each case it has. */
interface Impl {
  name: string;
  color: string;
  /** Starts the library on its device; throws when the browser lacks it. */
  start(): Promise<void>;
  cases: Partial<Record<CaseKey, () => Case>>;
  /** The cases it does not have, and why. */
  missing?: string;
}

let tf: typeof TF | null = null;
type JaxCore = typeof import('../bench/peers/coreJax.js');
type JaxGpt = typeof import('../bench/peers/gptJax.js');
let jax: { core: JaxCore; gpt: JaxGpt } | null = null;

function tsgradImpl(backend: 'cpu' | 'webgpu' | 'gpujs', color: string): Impl {
  const gpt = (mode: 'full' | 'lora') => () => {
    const s = gptStep(mode);
    return { run: () => s.run(), dispose: () => s.dispose() };
  };
  return {
    name: `tsgrad/${backend}`, color,
    start: async () => {
      await setBackend(backend);
      manualSeed(0);
    },
    cases: {
      matmul: () => oursMatmul(MATMUL, MATMUL, MATMUL),
      lora: () => oursLinearStep('LoRA r4'),
      full: () => oursLinearStep('full fine-tuning'),
      gptFull: gpt('full'),
      gptLora: gpt('lora'),
    },
  };
}

const IMPLS: Impl[] = [
  tsgradImpl('cpu', '#1f77b4'),
  tsgradImpl('webgpu', '#2ca02c'),
  tsgradImpl('gpujs', '#9467bd'),
  {
    name: 'tfjs/webgpu', color: '#ff7f0e',
    start: async () => {
      tf ??= (await import('@tensorflow/tfjs')) as typeof TF;
      await import('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its webgpu backend');
      await tf.ready();
    },
    cases: {
      matmul: () => tfMatmul(tf!, MATMUL, MATMUL, MATMUL),
      lora: () => tfLinearStep(tf!, 'LoRA r4'),
      full: () => tfLinearStep(tf!, 'full fine-tuning'),
    },
    missing: 'no GPT: tfjs has no GPT-2 model of its own, and one was not written for this page',
  },
  {
    name: 'jax-js/webgpu', color: '#d62728',
    start: async () => {
      jax ??= { core: await import('../bench/peers/coreJax.js'), gpt: await import('../bench/peers/gptJax.js') };
      await jax.core.initJax('webgpu');
    },
    cases: {
      matmul: () => jax!.core.jaxMatmul(MATMUL, MATMUL, MATMUL),
      lora: () => jax!.core.jaxLinearStep('LoRA r4'),
      full: () => jax!.core.jaxLinearStep('full fine-tuning'),
      gptFull: () => jaxGpt('full'),
      gptLora: () => jaxGpt('lora'),
    },
  },
];

function jaxGpt(mode: 'full' | 'lora'): Case {
  const s = jax!.gpt.jaxGptStep(GPT_SHAPE, mode);
  return { run: () => s.step(), dispose: () => s.dispose() };
}

/** What a run measured, offered as JSON. */
export interface BenchPageResult {
  date: string;
  userAgent: string;
  hardwareConcurrency: number;
  crossOriginIsolated: boolean;
  /** The WebGPU adapter the page got, in the browser's words. */
  gpu: string;
  /** What tsgrad's cpu backend ran on (its path and threads). */
  cpu: string;
  settings: { rounds: number; timeMs: number };
  rows: BenchRow[];
  /** Each case's first loss (or matmul's first element), by `case|impl`: the same work gives like values. */
  firstValues: Record<string, number>;
  /** Libraries or cases that did not run here, and why. */
  unavailable: { impl: string; reason: string }[];
}
declare global {
  interface Window {
    benchResult?: BenchPageResult;
  }
}

async function gpuName(): Promise<string> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info?: Record<string, string> } | null> } }).gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) return 'none (this browser offers no WebGPU adapter)';
  const i = adapter.info ?? {};
  return [i['vendor'], i['architecture'], i['device'], i['description']].filter(Boolean).join(' ') || 'a WebGPU adapter that does not name itself';
}

function say(text: string, kind: 'info' | 'error' = 'info'): void {
  const s = $('bench-status');
  s.textContent = text;
  s.className = kind === 'info' ? '' : kind;
}

const ms = (r?: BenchRow) => (r ? (r.medianMs ?? r.meanMs) : NaN);

/** Cases down, libraries across: median ms (and GFLOP/s for the matmul). */
function showTable(result: BenchPageResult, impls: Impl[]): void {
  const table = $<HTMLTableElement>('bench-table');
  table.replaceChildren();
  const head = table.insertRow();
  for (const h of ['case (median ms)', ...impls.map((i) => i.name)]) head.append(Object.assign(document.createElement('th'), { textContent: h }));
  for (const [key, name] of Object.entries(CASES)) {
    if (!result.rows.some((r) => r.case === name)) continue;
    const tr = table.insertRow();
    tr.insertCell().textContent = name;
    for (const impl of impls) {
      const r = result.rows.find((x) => x.case === name && x.impl === impl.name);
      const missing = !impl.cases[key as CaseKey] ? 'n/a' : result.unavailable.some((u) => u.impl === impl.name) ? 'unavailable' : '';
      tr.insertCell().textContent = r ? `${ms(r).toFixed(2)}${r.gflops ? ` (${r.gflops.toFixed(1)} GFLOP/s)` : ''}` : missing;
    }
  }
}

function showChart(result: BenchPageResult, impls: Impl[]): void {
  const groups: GroupedBars[] = Object.values(CASES).filter((name) => result.rows.some((r) => r.case === name)).map((name) => ({
    label: name,
    bars: impls.flatMap((impl) => {
      const r = result.rows.find((x) => x.case === name && x.impl === impl.name);
      return r ? [{ name: impl.name, color: impl.color, value: ms(r) }] : [];
    }),
  }));
  groupedBarChart($<SVGSVGElement>('bench-chart'), groups, 'median ms per run (shorter is faster)');
}

/** Runs every library's cases, rounds interleaved, and shows the table, the chart and the JSON. */
async function runBench(opts: { rounds: number; timeMs: number; only?: string[]; cases?: string[] }): Promise<BenchPageResult> {
  const impls = IMPLS.filter((i) => !opts.only || opts.only.includes(i.name));
  const result: BenchPageResult = {
    date: new Date().toISOString(), userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated, gpu: await gpuName(), cpu: '', settings: { rounds: opts.rounds, timeMs: opts.timeMs }, rows: [], firstValues: {}, unavailable: [],
  };
  const perRound: BenchRow[][] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const rows: BenchRow[] = [];
    for (const impl of impls) {
      if (result.unavailable.some((u) => u.impl === impl.name)) continue;
      say(`Round ${round + 1}/${opts.rounds}: starting ${impl.name}…`);
      try {
        await impl.start();
      } catch (e) {
        result.unavailable.push({ impl: impl.name, reason: (e as Error).message });
        continue;
      }
      if (impl.name === 'tsgrad/cpu') {
        const info = getBackendInfo();
        if (info.name === 'cpu') result.cpu = `${info.path} path, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
      }
      const tasks: BenchTask[] = [];
      for (const [key, make] of Object.entries(impl.cases) as [CaseKey, () => Case][]) {
        if (opts.cases && !opts.cases.includes(key)) continue;
        let c: Case | null = null;
        const id = `${CASES[key]}|${impl.name}`;
        tasks.push({
          case: CASES[key], impl: impl.name, flops: key === 'matmul' ? 2 * MATMUL ** 3 : undefined,
          setup: async () => {
            say(`Round ${round + 1}/${opts.rounds}: ${impl.name}, ${CASES[key]}…`);
            c = make();
            if (!(id in result.firstValues)) result.firstValues[id] = await c.run();
          },
          run: () => c!.run(),
          teardown: () => c!.dispose(),
        });
      }
      rows.push(...(await measure('browser', tasks, { time: opts.timeMs, iterations: 3, log: () => undefined })));
    }
    perRound.push(rows);
  }
  // A row per case and library: the median over rounds of its per-round medians.
  result.rows = perRound[0]?.map((first) => {
    const same = perRound.map((rs) => rs.find((r) => r.case === first.case && r.impl === first.impl)!);
    const medians = same.map((r) => r.medianMs ?? r.meanMs).sort((a, b) => a - b);
    const medianMs = medians[medians.length >> 1]!;
    return { ...first, medianMs, roundMediansMs: same.map((r) => r.medianMs ?? r.meanMs), gflops: first.gflops && (2 * MATMUL ** 3) / (medianMs * 1e6) };
  }) ?? [];
  for (const impl of impls) if (impl.missing) result.unavailable.push({ impl: impl.name, reason: impl.missing });
  const shown = impls.filter((i) => result.rows.some((r) => r.impl === i.name));
  showTable(result, shown);
  showChart(result, shown);
  $('bench-unavailable').textContent = result.unavailable.map((u) => `${u.impl}: ${u.reason}`).join('; ');
  const json = JSON.stringify(result, null, 2);
  const link = $<HTMLAnchorElement>('bench-json');
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
  link.hidden = false;
  return result;
}

/**
 * Wires the section's button, and runs at once with `?bench`; `benchRounds`, `benchTime` (ms per
 * case), `benchOnly` (libraries) and `benchCases` (matmul, lora, full, gptFull, gptLora) narrow it.
 */
export function setUpBenchmark(params: URLSearchParams): void {
  const button = $<HTMLButtonElement>('bench-run');
  $('bench-gpu-note').textContent = 'Looking for a WebGPU adapter…';
  void gpuName().then((g) => ($('bench-gpu-note').textContent = `WebGPU adapter: ${g}.`));
  const start = async () => {
    button.disabled = true;
    document.body.dataset['bench'] = 'running';
    try {
      const rounds = Number(params.get('benchRounds') ?? $<HTMLInputElement>('bench-rounds').value);
      const timeMs = Number(params.get('benchTime') ?? 1000);
      window.benchResult = await runBench({ rounds, timeMs, only: params.get('benchOnly')?.split(','), cases: params.get('benchCases')?.split(',') });
      say(`Done: ${window.benchResult.rows.length} measurements in ${rounds} round${rounds === 1 ? '' : 's'}.`);
      document.body.dataset['bench'] = 'done';
    } catch (e) {
      say(`The benchmark failed: ${(e as Error).message}`, 'error');
      document.body.dataset['bench'] = 'error';
    } finally {
      button.disabled = false;
    }
  };
  $('bench-controls').addEventListener('submit', (e) => {
    e.preventDefault();
    void start();
  });
  if (params.has('bench')) void start();
}
