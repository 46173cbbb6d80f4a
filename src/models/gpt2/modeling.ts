// GPT-2 with transformers' module tree (modeling_gpt2.py), so that checkpoint keys and PEFT
// target names line up: transformer.wte, wpe, h.{i}.ln_1, attn.c_attn, attn.c_proj, ln_2,
// mlp.c_fc, mlp.c_proj, ln_f, and lm_head tied to wte.
import { arange } from '../../core/creation.js';
import { check, fmt } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import { describeValue, isPlainObject } from '../../core/validate.js';
import type { AdapterModelInfo } from '../../io/peft.js';
import { ModuleList } from '../../nn/containers.js';
import { Conv1D } from '../../nn/conv1d.js';
import * as init from '../../nn/init.js';
import { type TensorLike, asTensor } from '../../nn/inputs.js';
import { Dropout, Embedding, LayerNorm, Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { type GPT2Cache, GPT2Attention, causalMask } from './attention.js';
import { type GPT2Activation, GPT2Config, type GPT2ConfigFields } from './config.js';
import { type GenerateOptions, generate } from './generation.js';
import { type FromPretrainedOptions, readGPT2Checkpoint, writeGPT2Checkpoint } from './pretrained.js';

/** What GPT2Model's and GPT2LMHeadModel's forward take besides the token ids. */
export interface GPT2ForwardOptions {
  /** [B, past + T], 1 for a real token and 0 for padding (transformers' attention_mask). */
  attentionMask?: TensorLike | null;
  /** int32 [B or 1, T]; by default past, past + 1, ... (as transformers' forward, whatever the mask). */
  positionIds?: TensorLike | null;
  /** Keys and values of earlier positions, extended in place with this call's (use under noGrad). */
  pastKeyValues?: GPT2Cache | null;
}

/** The parameters' dtype (float32 by default; float16 and bfloat16 parameters are frozen). */
export interface GPT2LayerOptions {
  dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16';
}

const ACTIVATIONS: Record<GPT2Activation, (x: Tensor) => Tensor> = {
  gelu_new: (x) => x.gelu({ approximate: 'tanh' }),
  gelu_pytorch_tanh: (x) => x.gelu({ approximate: 'tanh' }),
  gelu_fast: (x) => x.gelu({ approximate: 'tanh' }),
  gelu: (x) => x.gelu(),
  relu: (x) => x.relu(),
  silu: (x) => x.mul(x.sigmoid()),
  swish: (x) => x.mul(x.sigmoid()),
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
  quick_gelu: (x) => x.mul(x.mul(1.702).sigmoid()),
};

/** A config passed as a GPT2Config or as its fields. */
function toConfig(config: GPT2Config | Partial<GPT2ConfigFields>): GPT2Config {
  return config instanceof GPT2Config ? config : new GPT2Config(config);
}

/**
 * The feed-forward half of a block: `c_proj(act(c_fc(x)))`, widening to `nInner` (4·nEmbd).
 *
 * @example
 * new models.GPT2MLP(config).forward(x); // [B, T, nEmbd] → [B, T, nEmbd]
 */
export class GPT2MLP extends Module {
  c_fc: Conv1D;
  c_proj: Conv1D;
  dropout: Dropout;
  /** The activation `activationFunction` names (gelu_new: GELU's tanh form). */
  readonly act: (x: Tensor) => Tensor;

  constructor(config: GPT2Config, opts: GPT2LayerOptions = {}) {
    super();
    this.c_fc = new Conv1D(config.innerDim, config.nEmbd, opts);
    this.c_proj = new Conv1D(config.nEmbd, config.innerDim, opts);
    this.act = ACTIVATIONS[config.activationFunction];
    this.dropout = new Dropout(config.residPdrop);
  }

  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(this.act(this.c_fc.forward(x))));
  }
}

/**
 * One pre-LayerNorm transformer block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
 *
 * @example
 * new models.GPT2Block(config, 0).forward(x, { attnMask });
 */
export class GPT2Block extends Module {
  ln_1: LayerNorm;
  attn: GPT2Attention;
  ln_2: LayerNorm;
  mlp: GPT2MLP;

  constructor(config: GPT2Config, layerIdx = 0, opts: GPT2LayerOptions = {}) {
    super();
    this.ln_1 = new LayerNorm(config.nEmbd, { eps: config.layerNormEpsilon, dtype: opts.dtype });
    this.attn = new GPT2Attention(config, layerIdx, opts);
    this.ln_2 = new LayerNorm(config.nEmbd, { eps: config.layerNormEpsilon, dtype: opts.dtype });
    this.mlp = new GPT2MLP(config, opts);
  }

  forward(x: Tensor, opts: { attnMask?: Tensor | null; isCausal?: boolean; pastKeyValues?: GPT2Cache | null } = {}): Tensor {
    const h = x.add(this.attn.forward(this.ln_1.forward(x), opts));
    return h.add(this.mlp.forward(this.ln_2.forward(h)));
  }
}

/**
 * The GPT-2 transformer without a head: token and position embeddings, `nLayer` blocks and a
 * final LayerNorm; returns the hidden states [B, T, nEmbd].
 *
 * @example
 * const body = new models.GPT2Model({ nLayer: 2, nEmbd: 64, nHead: 4, vocabSize: 100, nPositions: 32 });
 * body.forward([[1, 2, 3]]); // [1, 3, 64]
 */
export class GPT2Model extends Module {
  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: ModuleList<GPT2Block>;
  ln_f: LayerNorm;
  readonly config: GPT2Config;

  constructor(config: GPT2Config | Partial<GPT2ConfigFields>, opts: GPT2LayerOptions = {}) {
    super();
    this.config = toConfig(config);
    const c = this.config;
    // Layers start empty and get transformers' initialisation once, below.
    [this.wte, this.wpe, this.h] = init.skipInit(() => [
      new Embedding(c.vocabSize, c.nEmbd, opts),
      new Embedding(c.nPositions, c.nEmbd, opts),
      new ModuleList(Array.from({ length: c.nLayer }, (_, i) => new GPT2Block(c, i, opts))),
    ] as const);
    this.drop = new Dropout(c.embdPdrop);
    this.ln_f = new LayerNorm(c.nEmbd, { eps: c.layerNormEpsilon, dtype: opts.dtype });
    initWeights(this, c);
  }

  /** int32 token ids [B, T] (a tensor or nested arrays) → hidden states [B, T, nEmbd]. */
  forward(inputIds: TensorLike, opts: GPT2ForwardOptions = {}): Tensor {
    const op = 'GPT2Model';
    check(isPlainObject(opts as unknown), op, () => `options must be an object such as { attentionMask }, got ${describeValue(opts)}`);
    // ln_f places the ids: wte may be quantized, and then holds no float table.
    const ids = asTensor(op, inputIds, 'int32', this.ln_f.weight);
    check(ids.ndim === 2 && ids.dtype === 'int32', op, () => `input ids must be int32 [batch, time], got ${ids.dtype} ${fmt(ids.shape)}`);
    const [B, T] = ids.shape as [number, number];
    check(T > 0, op, () => `input ids ${fmt(ids.shape)} hold no tokens`);
    const past = opts.pastKeyValues?.length ?? 0;
    let positions: Tensor;
    if (opts.positionIds != null) {
      positions = asTensor(op, opts.positionIds, 'int32', ids);
      check(positions.ndim === 2 && (positions.shape[0] === B || positions.shape[0] === 1) && positions.shape[1] === T && positions.dtype === 'int32', op, () =>
        `positionIds must be int32 [${B} or 1, ${T}] like the ids ${fmt(ids.shape)}, got ${positions.dtype} ${fmt(positions.shape)}`);
    } else {
      check(past + T <= this.config.nPositions, op, () =>
        `${past ? `${past} cached + ` : ''}${T} positions exceed the model's n_positions ${this.config.nPositions}; pass at most ${this.config.nPositions - past} tokens`);
      positions = arange(past, past + T, 1, { dtype: 'int32', backend: ids.backend }).reshape([1, T]);
    }
    // With no cached positions and no padding mask, each query sees the keys up to its own
    // position: isCausal, which the attention kernels apply without reading a mask (as
    // transformers passes is_causal to sdpa). Otherwise the mask is built.
    const isCausal = past === 0 && opts.attentionMask == null;
    let attnMask = isCausal ? null : causalMask(T, past + T, past, ids);
    if (opts.attentionMask != null) {
      const m = asTensor(op, opts.attentionMask, 'int32', ids);
      check(m.ndim === 2 && m.shape[0] === B && m.shape[1] === past + T, op, () =>
        `attentionMask must be [${B}, ${past + T}] (batch, ${past ? 'cached + new' : 'time'} positions) for ids ${fmt(ids.shape)}, got ${fmt(m.shape)}`);
      attnMask = attnMask!.mul(m.ne(0).reshape([B, 1, 1, past + T]));
    }
    let x = this.drop.forward(this.wte.forward(ids).add(this.wpe.forward(positions)));
    for (const block of this.h) x = block.forward(x, { attnMask, isCausal, pastKeyValues: opts.pastKeyValues });
    return this.ln_f.forward(x);
  }
}

/**
 * GPT-2 with its language-modelling head (transformers' GPT2LMHeadModel): `lm_head` is a bias-free
 * Linear whose weight is `transformer.wte.weight` itself (tied) unless `tieWordEmbeddings` is
 * false. A new model is initialised as transformers does (N(0, initializerRange²), residual
 * projections scaled by 1/√(2·nLayer), LayerNorms 1 and 0, biases 0); `fromPretrained` loads
 * weights instead.
 *
 * @example
 * const model = new models.GPT2LMHeadModel({ nLayer: 2, nEmbd: 64, nHead: 4, vocabSize: 100, nPositions: 32 });
 * model.forward([[1, 2, 3]]); // logits [1, 3, 100]
 */
export class GPT2LMHeadModel extends Module implements AdapterModelInfo {
  transformer: GPT2Model;
  lm_head: Linear;
  /** PEFT's task type for this model: `io.saveAdapter` writes it as task_type. */
  readonly peftTaskType = 'CAUSAL_LM';
  /** The folder `fromPretrained` read (transformers' name_or_path): `io.saveAdapter` writes it as base_model_name_or_path. */
  nameOrPath?: string;

  constructor(config: GPT2Config | Partial<GPT2ConfigFields>, opts: GPT2LayerOptions = {}) {
    super();
    this.transformer = new GPT2Model(config, opts);
    const c = this.transformer.config;
    this.lm_head = init.skipInit(() => new Linear(c.nEmbd, c.vocabSize, { bias: false, dtype: opts.dtype }));
    if (c.tieWordEmbeddings) {
      this.lm_head.weight.dispose();
      this.lm_head.weight = this.transformer.wte.weight;
    } else {
      init.normal_(this.lm_head.weight, 0, c.initializerRange);
    }
  }

  get config(): GPT2Config {
    return this.transformer.config;
  }

  /**
   * Loads a Hugging Face GPT-2 folder (config.json with model.safetensors or a sharded
   * model.safetensors.index.json), checking the config and every key and shape before building
   * anything. Keys may carry `transformer.` or not (the hub's `gpt2` has none); a tied
   * `lm_head.weight` may be absent; the old `attn.bias` mask buffers are ignored. The model comes
   * back in eval mode, as transformers' does.
   *
   * @example
   * const model = await models.GPT2LMHeadModel.fromPretrained('gpt2', { backend: 'cpu' });
   */
  static async fromPretrained(dir: string, opts: FromPretrainedOptions = {}): Promise<GPT2LMHeadModel> {
    const { config, state } = await readGPT2Checkpoint('GPT2LMHeadModel.fromPretrained', dir, opts);
    try {
      // Built empty in the asked dtype: a 16-bit model never exists in float32 whole.
      const model = init.skipInit(() => new GPT2LMHeadModel(config, { dtype: opts.dtype ?? 'float32' }));
      model.loadStateDict(state);
      model.nameOrPath = dir;
      if (opts.backend) await model.to(opts.backend);
      return model.eval();
    } finally {
      for (const t of Object.values(state)) t.dispose();
    }
  }

  /**
   * Continues each row of `inputIds` [B, T] by up to `maxNewTokens` tokens with a key/value
   * cache, greedy (transformers' `do_sample=False`, the default) or sampled with temperature,
   * topK and topP from a seeded generator; stops early once every row has produced an eos.
   * Returns int32 [B, T + n]. Call `eval()` first, as with transformers, so dropout is off.
   *
   * @example
   * const out = await model.generate([[464, 3290]], { maxNewTokens: 20 });                       // greedy
   * const sampled = await model.generate(ids, { maxNewTokens: 20, temperature: 0.8, topK: 40, generator: new Generator().manualSeed(0) });
   */
  generate(inputIds: TensorLike, opts: GenerateOptions): Promise<Tensor> {
    return generate(this, inputIds, opts);
  }

  /**
   * Writes config.json and model.safetensors into `dir`, which transformers'
   * `GPT2LMHeadModel.from_pretrained(dir)` opens (a tied head is left out, as transformers does).
   *
   * @example
   * await model.savePretrained('out/gpt2-finetuned');
   */
  async savePretrained(dir: string): Promise<void> {
    const state = this.stateDict();
    try {
      await writeGPT2Checkpoint('GPT2LMHeadModel.savePretrained', dir, this.config, state);
    } finally {
      for (const t of Object.values(state)) t.dispose();
    }
  }

  /**
   * int32 token ids [B, T] → logits [B, T, vocabSize] (only the last `logitsToKeep` positions
   * when given, as transformers' `logits_to_keep`).
   */
  forward(inputIds: TensorLike, opts: GPT2ForwardOptions & { logitsToKeep?: number } = {}): Tensor {
    let hidden = this.transformer.forward(inputIds, opts);
    const keepLast = opts.logitsToKeep ?? 0;
    check(Number.isInteger(keepLast) && keepLast >= 0, 'GPT2LMHeadModel', () => `logitsToKeep must be an integer ≥ 0 (0 keeps all), got ${describeValue(keepLast)}`);
    if (keepLast > 0 && keepLast < hidden.shape[1]!) hidden = hidden.slice([[0, hidden.shape[0]!], [-keepLast, hidden.shape[1]!]]);
    return this.lm_head.forward(hidden);
  }
}

/** transformers' `_init_weights` for GPT-2 (nothing inside `nn.init.skipInit`). */
function initWeights(model: GPT2Model, c: GPT2Config): void {
  const std = c.initializerRange;
  init.normal_(model.wte.weight, 0, std);
  init.normal_(model.wpe.weight, 0, std);
  for (const block of model.h) {
    for (const layer of [block.attn.c_attn, block.mlp.c_fc]) init.normal_(layer.weight, 0, std);
    // GPT-2's scheme: the projections into the residual stream shrink with depth.
    for (const layer of [block.attn.c_proj, block.mlp.c_proj]) init.normal_(layer.weight, 0, std / Math.sqrt(2 * c.nLayer));
  }
}
