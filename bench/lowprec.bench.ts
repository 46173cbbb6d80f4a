// A frozen base in float32, float16, bfloat16, int8 and NF4 on the CPU backend (the cases are in
// bench/cases/lowprec.ts; bench/lowprec-webgpu.bench.ts runs them on webgpu). The ratios to
// float32 are medians of back-to-back rounds in a rotating order, steadier on a shared machine
// than separate means.
import { cpus, loadavg } from 'node:os';
import { type BenchRow, type BenchTask, measure, pairedRatios, save } from './harness.js';
import { BASES, C_ATTN, GPT_4X256, linearCase, linearCases, lowPrecTable, stepCase, stepCases } from './cases/lowprec.js';

const loadAtStart = loadavg()[0]!;
const linears = await linearCases('cpu');
const steps = await stepCases('cpu');

const tasks: BenchTask[] = [
  ...BASES.map((b) => ({ case: linearCase(C_ATTN), impl: `tsgrad/cpu ${b} weight`, run: linears.get(b)!.run })),
  ...BASES.map((b) => ({ case: stepCase(GPT_4X256), impl: `tsgrad/cpu ${b} base`, run: steps.get(b)!.run })),
];
const rows: BenchRow[] = await measure('lowprec', tasks, { time: 2000, iterations: 10 });

const linearRatios = await pairedRatios(BASES.map((b) => linears.get(b)!.run), 40);
const stepRatios = await pairedRatios(BASES.map((b) => steps.get(b)!.run), 20);
const notes = [
  'CPU backend (WebAssembly SIMD path). Weight bytes are memoryReport\'s frozen + trainable parameter bytes, from the storages; time ratios are medians of back-to-back rounds (40 for the linear, 20 for the step) against float32 in the same round.',
  '',
  ...lowPrecTable(linears, steps, linearRatios, stepRatios),
  '',
  'float16/bfloat16 cast every float parameter (embeddings, LayerNorms, biases too); int8/NF4 quantize the blocks\' c_attn, c_proj and c_fc (NF4 with double quantization) and leave the rest float32. The webgpu figures are in lowprec-webgpu.md.',
  `1-minute load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, on ${cpus().length} cores.`,
  '',
];
for (const n of notes) console.log(n);
save('lowprec', rows, notes);
