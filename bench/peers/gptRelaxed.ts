// tsgrad's GPT steps (bench/cases/gpt.ts) on the CPU backend in a process of their own, for
// bench/gpt.bench.ts to run under Node's --experimental-wasm-relaxed-simd: there the backend's
// kernels take relaxed SIMD's fused multiply-add, as they do by default in browsers and Node 22.
// argv[2]: JSON { steps, threads: [1, 2] }. Prints one JSON object: median ms per step.
import { configureMatmulThreads } from '../../src/backends/cpu/matmul.js';
import { getBackendInfo, setBackend } from '../../src/index.js';
import { gptStep } from '../cases/gpt.js';

const args = JSON.parse(process.argv[2]!) as { steps: number; threads: number[] };
await setBackend('cpu');
const simd = getBackendInfo('cpu').simd;
if (simd !== 'relaxed-simd') throw new Error(`the cpu backend runs ${simd}, not relaxed SIMD: start Node with --experimental-wasm-relaxed-simd`);
const steps = { full: gptStep('full'), lora: gptStep('lora') };
const rows: Record<string, Record<string, number>> = {};
for (const n of args.threads) {
  configureMatmulThreads({ threads: n });
  rows[String(n)] = {};
  for (const [mode, s] of Object.entries(steps)) {
    for (let i = 0; i < 3; i++) await s.run();
    const ms: number[] = [];
    for (let i = 0; i < args.steps; i++) {
      const t0 = performance.now();
      await s.run();
      ms.push(performance.now() - t0);
    }
    rows[String(n)]![mode] = ms.sort((a, b) => a - b)[ms.length >> 1]!;
  }
}
console.log(JSON.stringify(rows));
