// tsgrad's GPT steps (bench/cases/gpt.ts) on the CPU backend in a process of their own, for
// bench/gpt.bench.ts to run with TSGRAD_CPU_RELAXED=0: there the backend keeps plain SIMD128, a
// multiply and an add for every multiply-add, as on an engine without relaxed SIMD.
// argv[2]: JSON { threads: [1, 2], time, iterations }. Each step is measured as the parent
// measures its own (bench/measure.ts) after a second of warm-up, so that the WebAssembly kernels
// have been optimised (V8 compiles them in a fast baseline tier first) before any timing.
// Prints one JSON object: { [threads]: { full, lora } }, each { ms: tinybench's median, samples }.
import { configureMatmulThreads } from '../../src/backends/cpu/matmul.js';
import { getBackendInfo, setBackend } from '../../src/index.js';
import { gptStep } from '../cases/gpt.js';
import { measure } from '../measure.js';

const args = JSON.parse(process.argv[2]!) as { threads: number[]; time: number; iterations: number };
await setBackend('cpu');
const simd = getBackendInfo('cpu').simd;
if (simd !== 'simd128') throw new Error(`the cpu backend runs ${simd}, not plain SIMD128: run this with TSGRAD_CPU_RELAXED=0`);
const steps = { full: gptStep('full'), lora: gptStep('lora') };
for (const s of Object.values(steps)) for (let t0 = performance.now(); performance.now() - t0 < 1000; ) await s.run();
const rows: Record<string, Record<string, { ms: number; samples: number }>> = {};
for (const n of args.threads) {
  const tasks = Object.entries(steps).map(([mode, s]) => ({ case: mode, impl: `${n}`, setup: () => void configureMatmulThreads({ threads: n }), run: () => s.run() }));
  const measured = await measure('gpt-simd128', tasks, { time: args.time, iterations: args.iterations, log: () => {} });
  rows[String(n)] = Object.fromEntries(measured.map((r) => [r.case, { ms: r.medianMs!, samples: r.samples }]));
}
console.log(JSON.stringify(rows));
