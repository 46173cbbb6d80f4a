// The GPT suite's model and step in tsgrad, shared by bench/gpt.bench.ts (Node) and the
// playground's benchmark section (the browser), so both time the same work on every backend:
// transformers' GPT-2 blocks, 2 layers of width 64 with 4 heads, context 64, a 96-symbol
// vocabulary, batch 32, AdamW; LoRA is rank 4, alpha 8 on c_attn (q, k and v).
import { type Tensor, models, nn, noGrad, optim, randn, scope, tensor } from '../../src/index.js';

export const GPT_SHAPE = { vocab: 96, context: 64, width: 64, layers: 2, heads: 4, batch: 32 };

export const GPT_CONFIG = {
  vocabSize: GPT_SHAPE.vocab, nPositions: GPT_SHAPE.context, nEmbd: GPT_SHAPE.width, nLayer: GPT_SHAPE.layers, nHead: GPT_SHAPE.heads,
  residPdrop: 0, embdPdrop: 0, attnPdrop: 0, bosTokenId: null, eosTokenId: null,
};

/** Deterministic token ids in [0, vocab), the same in every library's copy of the bench. */
export const gptTokens = (n: number, shift: number) => Array.from({ length: n }, (_, i) => (i * 7919 + shift) % GPT_SHAPE.vocab);

export interface GptStep {
  /** One training step (forward, backward, AdamW); resolves to the loss, read back. */
  run(): Promise<number>;
  dispose(): void;
}

/** A GPT and its optimizer on the current backend, for full fine-tuning or LoRA. */
export function gptStep(mode: 'full' | 'lora'): GptStep {
  const { batch, context, vocab } = GPT_SHAPE;
  const ids = tensor(gptTokens(batch * context, 0), { dtype: 'int32' }).reshape([batch, context]);
  const targets = tensor(gptTokens(batch * context, 1), { dtype: 'int32' }).reshape([-1]);
  const model = new models.GPT2LMHeadModel(GPT_CONFIG);
  if (mode === 'lora') nn.applyLoRA(model, { targets: ['c_attn'], rank: 4, alpha: 8 });
  const opt = new optim.AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-3, weightDecay: 0.01 });
  return {
    async run() {
      const loss: Tensor = scope(() => {
        const l = nn.functional.crossEntropy(model.forward(ids).reshape([-1, vocab]), targets);
        l.backward();
        opt.step();
        opt.zeroGrad();
        return l;
      });
      const v = await loss.item();
      loss.dispose();
      return v;
    },
    dispose() {
      for (const t of [...opt.stateTensors(), ...model.parameters(), ...model.namedBuffers().map(([, b]) => b)]) t.dispose();
      ids.dispose();
      targets.dispose();
    },
  };
}

/**
 * One matrix product of the step: A [m, k] · B [k, n], where an operand marked transposed is
 * stored the other way round and read through a transposed view, as the step reads it.
 */
export interface GptProduct {
  m: number;
  k: number;
  n: number;
  aT: boolean;
  bT: boolean;
}

/**
 * The step's matrix products, forward and backward, in the layouts the step has them: for each
 * Conv1D (weight [in, out]) x·W, dy·Wᵀ and xᵀ·dy, and for the tied output head x·wteᵀ,
 * dlogits·wte and dlogitsᵀ·x. Full fine-tuning computes all of them.
 */
export function gptProducts(): GptProduct[] {
  const { batch, context, width: c, layers, vocab } = GPT_SHAPE;
  const rows = batch * context;
  const conv1d = (i: number, o: number): GptProduct[] => [
    { m: rows, k: i, n: o, aT: false, bT: false },
    { m: rows, k: o, n: i, aT: false, bT: true },
    { m: i, k: rows, n: o, aT: true, bT: false },
  ];
  const block = [...conv1d(c, 3 * c), ...conv1d(c, c), ...conv1d(c, 4 * c), ...conv1d(4 * c, c)];
  return [
    ...Array.from({ length: layers }, () => block).flat(),
    { m: rows, k: c, n: vocab, aT: false, bT: true },
    { m: rows, k: vocab, n: c, aT: false, bT: false },
    { m: vocab, k: rows, n: c, aT: true, bT: false },
  ];
}

/** Runs every product of `gptProducts` once on the current backend, without gradients. */
export function gptProductsRunner(): { run(): void; dispose(): void } {
  const operands = gptProducts().map(({ m, k, n, aT, bT }) => {
    const a = randn(aT ? [k, m] : [m, k]), b = randn(bT ? [n, k] : [k, n]);
    return { a, b, aT, bT };
  });
  return {
    run: () => noGrad(() => scope(() => {
      for (const { a, b, aT, bT } of operands) (aT ? a.transpose(0, 1) : a).matmul(bT ? b.transpose(0, 1) : b);
    })),
    dispose: () => operands.forEach(({ a, b }) => (a.dispose(), b.dispose())),
  };
}
