// GPT-2 small's shape (12 blocks, width 768, 12 heads, 1,024 positions, 50,257 tokens: 124M
// parameters, 497 MB in float32) with random weights, stored as QLoRA stores a base: the blocks'
// linear layers and the token embedding (with lm_head, tied to it, reading the same NF4 table) in
// NF4 with double quantization, everything else in 16 bits. LoRA on c_attn trains over it; what
// the weights hold and what a training step costs are measured, not computed.
import { Generator, type MemoryReport, fromTypedArray, manualSeed, memoryReport, models, nn, optim, scope } from '../../src/index.js';

export interface QLoRAOptions {
  /** The model's shape (default: GPT-2 small's). */
  config?: Partial<models.GPT2ConfigFields>;
  /** The 16-bit dtype of what NF4 leaves (positions, LayerNorms, biases); default 'bfloat16', as QLoRA's compute dtype. */
  dtype?: 'float16' | 'bfloat16';
  /** Quantize the token embedding `wte` and its tied `lm_head` too (default true); false keeps the table in `dtype`. */
  quantizeEmbedding?: boolean;
  rank?: number;
  batch?: number;
  /** Tokens per sequence. */
  context?: number;
  /** Training steps timed after one untimed warm-up step. */
  steps?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface QLoRAResult {
  config: models.GPT2ConfigFields;
  parameters: number;
  /** Bytes the float32 model held before quantization (memoryReport). */
  float32Bytes: number;
  /** What nn.quantize replaced (the tied head counted with its table): float32 bytes before, NF4 codes and scales after. */
  quantized: { layers: number; bytesBefore: number; bytesAfter: number };
  /** After training: frozen and trainable weights, gradients, Adam's state, the last step's activations. */
  memory: Pick<MemoryReport, 'frozenParams' | 'trainableParams' | 'gradients' | 'optimizerState' | 'activations' | 'total'>;
  msPerStep: number;
  losses: number[];
  seconds: number;
}

export const GPT2_SMALL: Partial<models.GPT2ConfigFields> = { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12 };

/** Builds the model, quantizes it, trains LoRA on it for a few steps on random tokens and reports. */
export async function runQLoRA(opts: QLoRAOptions = {}): Promise<QLoRAResult> {
  const began = performance.now();
  const say = opts.log ?? ((line: string) => console.log(line));
  const { dtype = 'bfloat16', quantizeEmbedding = true, rank = 8, batch = 1, context = 128, steps = 3, seed = 0 } = opts;
  manualSeed(seed);
  const model = new models.GPT2LMHeadModel({ ...GPT2_SMALL, ...opts.config });
  const parameters = model.numParameters();
  const float32Bytes = memoryReport(model).trainableParams.bytes;
  say(`built a ${model.config.nLayer}-block, ${model.config.nEmbd}-wide GPT-2 with ${parameters.toLocaleString('en-US')} parameters: ${mb(float32Bytes)} in float32`);
  // 'wte' takes lm_head along: the head reads the same packed table, so it is stored once.
  const q = nn.quantize(model, { format: 'nf4', doubleQuant: true, targets: ['c_attn', 'c_proj', 'c_fc', ...(quantizeEmbedding ? ['wte'] : [])] });
  await model.to({ dtype });
  say(`NF4 (double quantization) for ${q.replaced.length} layers${quantizeEmbedding ? ' (wte and its tied lm_head among them)' : ''}: ${mb(q.bytesBefore)} → ${mb(q.bytesAfter)}; ` +
    `the rest in ${dtype}: ${mb(memoryReport(model).frozenParams.bytes)} of weights in all`);
  nn.applyLoRA(model, { targets: ['c_attn'], rank, alpha: 2 * rank });
  const opt = new optim.AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-4 });
  const g = new Generator().manualSeed(seed);
  const vocab = model.config.vocabSize;
  const losses: number[] = [];
  let report: MemoryReport | undefined;
  let activations = 0;
  let elapsed = 0;
  model.train();
  for (let step = 0; step <= steps; step++) {
    const start = performance.now();
    const loss = await scope(async () => {
      // Random tokens: the step costs what a real one does, and the loss starts near ln(vocab).
      const x = new Int32Array(batch * context), y = new Int32Array(batch * context);
      for (let i = 0; i < x.length; i++) [x[i], y[i]] = [Math.floor(g.nextUniform() * vocab), Math.floor(g.nextUniform() * vocab)];
      const logits = model.forward(fromTypedArray(x, [batch, context]));
      const l = nn.functional.crossEntropy(logits.reshape([-1, vocab]), fromTypedArray(y, [batch * context]));
      if (step === steps) activations = memoryReport(model, null, { output: l }).activations.bytes;
      l.backward();
      opt.step();
      if (step === steps) report = memoryReport(model, opt);
      opt.zeroGrad();
      return l.item();
    });
    if (step > 0) elapsed += performance.now() - start;
    losses.push(loss);
    say(`step ${step}${step === 0 ? ' (warm-up, not timed)' : ''}: loss ${loss.toFixed(3)}, ${(performance.now() - start).toFixed(0)} ms`);
  }
  const r = report!;
  const memory = {
    frozenParams: r.frozenParams, trainableParams: r.trainableParams, gradients: r.gradients, optimizerState: r.optimizerState,
    activations: { ...r.activations, bytes: activations }, total: r.total + activations,
  };
  say(`frozen weights ${mb(memory.frozenParams.bytes)}, LoRA ${memory.trainableParams.elements.toLocaleString('en-US')} parameters (${mb(memory.trainableParams.bytes)}), ` +
    `gradients + AdamW ${mb(memory.gradients.bytes + memory.optimizerState.bytes)}, activations ${mb(activations)} (batch ${batch} × ${context} tokens); ` +
    `${(elapsed / steps).toFixed(0)} ms per step`);
  return {
    config: model.config, parameters, float32Bytes, quantized: { layers: q.replaced.length, bytesBefore: q.bytesBefore, bytesAfter: q.bytesAfter },
    memory, msPerStep: elapsed / steps, losses, seconds: (performance.now() - began) / 1000,
  };
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
