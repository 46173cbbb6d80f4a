// A frozen base in float32, float16, bfloat16, int8 and NF4 on the CPU backend: a linear layer's
// forward at GPT-2 small's c_attn shape, and a GPT LoRA training step over each base, with the
// weight bytes each holds (memoryReport, from the storages). The ratios to float32 are medians of
// back-to-back rounds in a rotating order, steadier on a shared machine than separate means.
import { cpus, loadavg } from 'node:os';
import { type Tensor, manualSeed, memoryReport, models, nn, noGrad, optim, randn, scope, tensor } from '../src/index.js';
import { type BenchRow, type BenchTask, measure, pairedRatios, save } from './harness.js';

type Base = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'nf4';
const BASES: Base[] = ['float32', 'float16', 'bfloat16', 'int8', 'nf4'];
const loadAtStart = loadavg()[0]!;

/** Stores `model`'s frozen weights as `base`: 16-bit casts everything, int8/NF4 quantize the listed layers (NF4 with double quantization). */
async function store(model: nn.Module, base: Base, targets: string[]): Promise<void> {
  if (base === 'float16' || base === 'bfloat16') await model.to({ dtype: base });
  else if (base !== 'float32') nn.quantize(model, { format: base, doubleQuant: base === 'nf4', targets });
}

const weightBytes = (m: nn.Module) => {
  const r = memoryReport(m);
  return r.frozenParams.bytes + r.trainableParams.bytes;
};

// A linear layer at GPT-2 small's c_attn shape: [256 tokens, 768] · Wᵀ, W [2304, 768].
const [TOKENS, IN, OUT] = [256, 768, 2304];
manualSeed(0);
const x = randn([TOKENS, IN]);
const linears = new Map<Base, nn.Module>();
for (const base of BASES) {
  manualSeed(1);
  const holder = new nn.ModuleDict({ proj: new nn.Linear(IN, OUT) });
  holder.freeze();
  await store(holder, base, ['proj']);
  linears.set(base, holder.get('proj')!);
}
const forward = (m: nn.Module) => () => noGrad(() => scope(() => { (m.forward(x) as Tensor).dataSync(); }));

// A GPT LoRA step: 4 blocks of width 256, 4 heads, context 64, vocabulary 512, batch 8, LoRA r4 on c_attn, AdamW.
const GPT = { vocabSize: 512, nPositions: 64, nEmbd: 256, nLayer: 4, nHead: 4, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 };
const [BATCH, CONTEXT] = [8, 64];
const tokens = (shift: number) => Array.from({ length: BATCH * CONTEXT }, (_, i) => (i * 7919 + shift) % GPT.vocabSize);
const ids = tensor(tokens(0), { dtype: 'int32' }).reshape([BATCH, CONTEXT]);
const targets = tensor(tokens(1), { dtype: 'int32' }).reshape([-1]);
const steps = new Map<Base, () => void>();
const gptBytes = new Map<Base, number>();
for (const base of BASES) {
  manualSeed(2);
  const model = new models.GPT2LMHeadModel(GPT);
  model.freeze();
  await store(model, base, ['c_attn', 'c_proj', 'c_fc']);
  nn.applyLoRA(model, { targets: ['c_attn'], rank: 4, alpha: 8 });
  const opt = new optim.AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-3 });
  steps.set(base, () => scope(() => {
    const loss = nn.functional.crossEntropy(model.forward(ids).reshape([-1, GPT.vocabSize]), targets);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    loss.itemSync();
  }));
  gptBytes.set(base, weightBytes(model));
}

const tasks: BenchTask[] = [
  ...BASES.map((b) => ({ case: `linear forward [${TOKENS},${IN}]·Wᵀ, W [${OUT},${IN}]`, impl: `tsgrad/cpu ${b} weight`, run: forward(linears.get(b)!) })),
  ...BASES.map((b) => ({ case: 'GPT LoRA r4 step (4×256, batch 8×64)', impl: `tsgrad/cpu ${b} base`, run: steps.get(b)! })),
];
const rows: BenchRow[] = await measure('lowprec', tasks, { time: 2000, iterations: 10 });

const linearRatios = pairedRatios(BASES.map((b) => forward(linears.get(b)!)), 40);
const stepRatios = pairedRatios(BASES.map((b) => steps.get(b)!), 20);
const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
const notes = [
  'CPU backend (WebAssembly SIMD path). Weight bytes are memoryReport\'s frozen + trainable parameter bytes, from the storages; time ratios are medians of back-to-back rounds (40 for the linear, 20 for the step) against float32 in the same round.',
  '',
  '| base | linear: weight bytes | linear: time vs float32 | GPT LoRA step: weight bytes | GPT LoRA step: time vs float32 |',
  '|---|---:|---:|---:|---:|',
  ...BASES.map((b, i) => `| ${b} | ${mb(weightBytes(linears.get(b)!))} | ${linearRatios[i]!.toFixed(2)}× | ${mb(gptBytes.get(b)!)} | ${stepRatios[i]!.toFixed(2)}× |`),
  '',
  'float16/bfloat16 cast every float parameter (embeddings, LayerNorms, biases too); int8/NF4 quantize the blocks\' c_attn, c_proj and c_fc (NF4 with double quantization) and leave the rest float32. The webgpu backend refuses the 16-bit dtypes and is not measured here.',
  `1-minute load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, on ${cpus().length} cores.`,
  '',
];
for (const n of notes) console.log(n);
save('lowprec', rows, notes);
