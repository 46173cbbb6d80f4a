// bench/lowprec.bench.ts's cases on the WebGPU backend: a linear layer and a GPT LoRA step over a
// frozen base stored as float32, float16, bfloat16 (two to a u32 word, widened in the matmul's
// tiles), int8 and NF4 (dequantized as the kernel reads them). Every run ends with a readback,
// so the GPU work is inside the measurement. BENCH_QUICK=1: a short smoke run.
import { cpus, loadavg } from 'node:os';
import { initBackend } from '../src/index.js';
import { webgpuInfo } from '../src/backends/webgpu/index.js';
import { type BenchRow, type BenchTask, measure, pairedRatios, save } from './harness.js';
import { BASES, type LinearShape, type StepShape, linearCase, linearCases, lowPrecTable, stepCase, stepCases } from './cases/lowprec.js';

const quick = process.env['BENCH_QUICK'] === '1';
const loadAtStart = loadavg()[0]!;
await initBackend('webgpu');
const info = webgpuInfo();
// Smaller than the CPU suite's cases: on llvmpipe, a CPU rasterizer, the 4×256 GPT's LoRA step
// takes 20–60 s and the c_attn-sized forward 1–10 s, which would make this suite run for an hour.
const LINEAR: LinearShape = { tokens: 64, in: 768, out: 768 };
const GPT: StepShape = { layers: 2, width: 128, batch: 4, context: 32 };
const linears = await linearCases('webgpu', LINEAR);
const steps = await stepCases('webgpu', GPT);

const tasks: BenchTask[] = [
  ...BASES.map((b) => ({ case: linearCase(LINEAR), impl: `tsgrad/webgpu ${b} weight`, run: linears.get(b)!.run })),
  ...BASES.map((b) => ({ case: stepCase(GPT), impl: `tsgrad/webgpu ${b} base`, run: steps.get(b)!.run })),
];
const rows: BenchRow[] = await measure('lowprec-webgpu', tasks, { time: quick ? 200 : 1000, iterations: quick ? 2 : 5 });

const [linearRounds, stepRounds] = quick ? [3, 1] : [15, 5];
const linearRatios = await pairedRatios(BASES.map((b) => linears.get(b)!.run), linearRounds);
const stepRatios = await pairedRatios(BASES.map((b) => steps.get(b)!.run), stepRounds);
const notes = [
  `WebGPU backend on ${[info.vendor, info.device || info.description].filter(Boolean).join(' ')} (Dawn ${info.backendType}). Weight bytes are memoryReport's frozen + trainable parameter bytes, from the storages (webgpu's pooled buffers come in size classes); time ratios are medians of back-to-back rounds (${linearRounds} for the linear, ${stepRounds} for the step) against float32 in the same round.`,
  '',
  ...lowPrecTable(linears, steps, linearRatios, stepRatios),
  '',
  'The bases as in lowprec.md; the cases are smaller. On Mesa\'s llvmpipe the "GPU" is the CPU, so these ratios say what the kernels cost in instructions, not what a real GPU\'s memory bandwidth would make of 2- and 4-bit weights.',
  `1-minute load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, on ${cpus().length} cores.`,
  '',
];
for (const n of notes) console.log(n);
save('lowprec-webgpu', rows, notes);
