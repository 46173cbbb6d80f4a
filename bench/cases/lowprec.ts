// The low-precision suite's cases, shared by bench/lowprec.bench.ts (the CPU backend) and
// bench/lowprec-webgpu.bench.ts: a linear layer's forward at GPT-2 small's c_attn shape and a GPT
// LoRA training step, over a frozen base stored as float32, float16, bfloat16, int8 or NF4, with
// the weight bytes each holds (memoryReport, from the storages).
import { type Tensor, manualSeed, memoryReport, models, nn, noGrad, optim, randn, scope, tensor } from '../../src/index.js';

export type Base = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'nf4';
export const BASES: Base[] = ['float32', 'float16', 'bfloat16', 'int8', 'nf4'];

/** One case on one base: a run that reads its result back, and the weight bytes it holds. */
export interface LowPrecCase {
  run: () => Promise<void>;
  bytes: number;
}

/**
 * Stores `model`'s frozen weights as `base` (16-bit casts everything, int8/NF4 quantize the listed
 * layers, NF4 with double quantization), then moves it to `backend`. Quantizing reads the weights
 * synchronously, so it happens on the CPU first.
 */
async function store(model: nn.Module, base: Base, targets: string[], backend: string): Promise<void> {
  if (base === 'float16' || base === 'bfloat16') await model.to({ dtype: base });
  else if (base !== 'float32') nn.quantize(model, { format: base, doubleQuant: base === 'nf4', targets });
  if (backend !== 'cpu') await model.to(backend);
}

const weightBytes = (m: nn.Module) => {
  const r = memoryReport(m);
  return r.frozenParams.bytes + r.trainableParams.bytes;
};

/**
 * Reads one element back, so a GPU's queued work is inside the measurement without timing a
 * large transfer; on the CPU synchronously (`data()` also yields to the event loop).
 */
async function readOne(t: Tensor): Promise<void> {
  const first = t.reshape([-1]).slice([[0, 1]]);
  if (first.backend === 'cpu') first.dataSync();
  else await first.data();
}

/** A linear layer's input rows and its weight's [out, in]. */
export interface LinearShape {
  tokens: number;
  in: number;
  out: number;
}

/** GPT-2 small's c_attn: [256 tokens, 768] · Wᵀ with W [2304, 768]. */
export const C_ATTN: LinearShape = { tokens: 256, in: 768, out: 2304 };

export const linearCase = (s: LinearShape) => `linear forward [${s.tokens},${s.in}]·Wᵀ, W [${s.out},${s.in}]`;

/** The linear layer's forward on each base. */
export async function linearCases(backend: string, shape: LinearShape = C_ATTN): Promise<Map<Base, LowPrecCase>> {
  const { tokens, in: IN, out: OUT } = shape;
  manualSeed(0);
  const x = randn([tokens, IN], { backend });
  const cases = new Map<Base, LowPrecCase>();
  for (const base of BASES) {
    manualSeed(1);
    const holder = new nn.ModuleDict({ proj: new nn.Linear(IN, OUT) });
    holder.freeze();
    await store(holder, base, ['proj'], backend);
    const m = holder.get('proj')!;
    cases.set(base, { run: () => noGrad(() => scope(() => readOne(m.forward(x) as Tensor))), bytes: weightBytes(m) });
  }
  return cases;
}

/** A GPT for the LoRA step: blocks, width, batch and context (4 heads, vocabulary 512). */
export interface StepShape {
  layers: number;
  width: number;
  batch: number;
  context: number;
}

/** The CPU suite's GPT: 4 blocks of width 256, batch 8 × 64 tokens. */
export const GPT_4X256: StepShape = { layers: 4, width: 256, batch: 8, context: 64 };

export const stepCase = (s: StepShape) => `GPT LoRA r4 step (${s.layers}×${s.width}, batch ${s.batch}×${s.context})`;

/** A LoRA r4 step on c_attn with AdamW, on each base (the same weights and tokens on every base and backend). */
export async function stepCases(backend: string, shape: StepShape = GPT_4X256): Promise<Map<Base, LowPrecCase>> {
  const GPT = { vocabSize: 512, nPositions: shape.context, nEmbd: shape.width, nLayer: shape.layers, nHead: 4, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 };
  const [BATCH, CONTEXT] = [shape.batch, shape.context];
  const tokens = (shift: number) => Array.from({ length: BATCH * CONTEXT }, (_, i) => (i * 7919 + shift) % GPT.vocabSize);
  const ids = tensor(tokens(0), { dtype: 'int32', backend }).reshape([BATCH, CONTEXT]);
  const targets = tensor(tokens(1), { dtype: 'int32', backend }).reshape([-1]);
  const cases = new Map<Base, LowPrecCase>();
  for (const base of BASES) {
    manualSeed(2);
    const model = new models.GPT2LMHeadModel(GPT);
    model.freeze();
    await store(model, base, ['c_attn', 'c_proj', 'c_fc'], backend);
    nn.applyLoRA(model, { targets: ['c_attn'], rank: 4, alpha: 8 });
    const opt = new optim.AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-3 });
    const run = () => scope(async () => {
      const loss = nn.functional.crossEntropy(model.forward(ids).reshape([-1, GPT.vocabSize]), targets);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      await readOne(loss);
    });
    cases.set(base, { run, bytes: weightBytes(model) });
  }
  return cases;
}

/** The table of bytes and time ratios against float32, one row per base. */
export function lowPrecTable(linears: Map<Base, LowPrecCase>, steps: Map<Base, LowPrecCase>, linearRatios: number[], stepRatios: number[]): string[] {
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  return [
    '| base | linear: weight bytes | linear: time vs float32 | GPT LoRA step: weight bytes | GPT LoRA step: time vs float32 |',
    '|---|---:|---:|---:|---:|',
    ...BASES.map((b, i) => `| ${b} | ${mb(linears.get(b)!.bytes)} | ${linearRatios[i]!.toFixed(2)}× | ${mb(steps.get(b)!.bytes)} | ${stepRatios[i]!.toFixed(2)}× |`),
  ];
}
