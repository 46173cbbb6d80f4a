// GPT-2's configuration: transformers' `GPT2Config` fields in camelCase, read from and written to
// config.json under their snake_case names, with transformers' defaults.
import { TsgradError, check } from '../../core/errors.js';
import { describeValue, isPlainObject } from '../../core/validate.js';

/** The activations `activation_function` may name (transformers' ACT2FN names GPT-2 checkpoints use). */
export const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu', 'relu', 'silu', 'swish', 'tanh', 'sigmoid', 'quick_gelu'] as const;
/** An activation config.json's `activation_function` may name. */
export type GPT2Activation = (typeof GPT2_ACTIVATIONS)[number];

/** The fields of a GPT-2 configuration (transformers' `GPT2Config`, camelCase). */
export interface GPT2ConfigFields {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** Width of the MLP's hidden layer; null means 4·nEmbd. */
  nInner: number | null;
  activationFunction: GPT2Activation;
  residPdrop: number;
  embdPdrop: number;
  attnPdrop: number;
  layerNormEpsilon: number;
  initializerRange: number;
  summaryType: string;
  summaryUseProj: boolean;
  summaryActivation: string | null;
  summaryProjToLabels: boolean;
  summaryFirstDropout: number;
  /** Scale attention scores by 1/√headDim. */
  scaleAttnWeights: boolean;
  useCache: boolean;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
  /** Also scale layer i's attention scores by 1/(i+1). */
  scaleAttnByInverseLayerIdx: boolean;
  /** A mixed-precision detail of eager attention; in float32 it changes nothing, so it is accepted. */
  reorderAndUpcastAttn: boolean;
  addCrossAttention: boolean;
  tieWordEmbeddings: boolean;
}

const DEFAULTS: GPT2ConfigFields = {
  vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, nInner: null,
  activationFunction: 'gelu_new', residPdrop: 0.1, embdPdrop: 0.1, attnPdrop: 0.1,
  layerNormEpsilon: 1e-5, initializerRange: 0.02,
  summaryType: 'cls_index', summaryUseProj: true, summaryActivation: null, summaryProjToLabels: true, summaryFirstDropout: 0.1,
  scaleAttnWeights: true, useCache: true, bosTokenId: 50256, eosTokenId: 50256, padTokenId: null,
  scaleAttnByInverseLayerIdx: false, reorderAndUpcastAttn: false, addCrossAttention: false, tieWordEmbeddings: true,
};

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** config.json keys transformers writes about a saved model rather than about GPT-2's shape. */
const KNOWN_EXTRA = new Set(['architectures', 'model_type', 'transformers_version', 'dtype', 'torch_dtype']);

/**
 * A GPT-2 configuration, as transformers' `GPT2Config`: every field has transformers' default,
 * and the constructor refuses what GPT2LMHeadModel cannot build, naming the field.
 *
 * @example
 * const config = new models.GPT2Config({ nLayer: 2, nEmbd: 64, nHead: 4, vocabSize: 100, nPositions: 32 });
 * config.toJSON(); // { vocab_size: 100, n_positions: 32, n_embd: 64, ... }
 */
export class GPT2Config implements GPT2ConfigFields {
  vocabSize!: number;
  nPositions!: number;
  nEmbd!: number;
  nLayer!: number;
  nHead!: number;
  nInner!: number | null;
  activationFunction!: GPT2Activation;
  residPdrop!: number;
  embdPdrop!: number;
  attnPdrop!: number;
  layerNormEpsilon!: number;
  initializerRange!: number;
  summaryType!: string;
  summaryUseProj!: boolean;
  summaryActivation!: string | null;
  summaryProjToLabels!: boolean;
  summaryFirstDropout!: number;
  scaleAttnWeights!: boolean;
  useCache!: boolean;
  bosTokenId!: number | null;
  eosTokenId!: number | number[] | null;
  padTokenId!: number | null;
  scaleAttnByInverseLayerIdx!: boolean;
  reorderAndUpcastAttn!: boolean;
  addCrossAttention!: boolean;
  tieWordEmbeddings!: boolean;
  /** Other config.json entries (task_specific_params, n_ctx...), written back as they were. */
  readonly extra: Record<string, unknown>;

  constructor(fields: Partial<GPT2ConfigFields> = {}, extra: Record<string, unknown> = {}) {
    check(isPlainObject(fields), 'GPT2Config', () => `expects an object of fields such as { nLayer: 2 }, got ${describeValue(fields)}`);
    for (const key of Object.keys(fields)) {
      check(key in DEFAULTS, 'GPT2Config', () => `unknown field '${key}'; fields: ${Object.keys(DEFAULTS).join(', ')}`);
    }
    Object.assign(this, DEFAULTS, Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)));
    this.extra = { ...extra };
    validate(this);
  }

  /** Hidden width (transformers' `hidden_size`). */
  get hiddenSize(): number {
    return this.nEmbd;
  }

  /** Width of one attention head. */
  get headDim(): number {
    return this.nEmbd / this.nHead;
  }

  /** Width of the MLP's hidden layer. */
  get innerDim(): number {
    return this.nInner ?? 4 * this.nEmbd;
  }

  /**
   * The config from config.json's parsed contents (snake_case keys); `field` names the file in
   * errors.
   *
   * @example
   * models.GPT2Config.fromJSON(JSON.parse(readFileSync('gpt2/config.json', 'utf8')));
   */
  static fromJSON(json: unknown, file = 'config.json'): GPT2Config {
    check(isPlainObject(json), 'GPT2Config', () => `${file} must hold a JSON object, got ${describeValue(json)}`);
    check(json.model_type === undefined || json.model_type === 'gpt2', 'GPT2Config', () =>
      `${file} has model_type ${describeValue(json.model_type)}; this loader builds 'gpt2' models`);
    const fields: Record<string, unknown> = {};
    const extra: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(json)) {
      const name = camel(key);
      if (name in DEFAULTS && snake(name) === key) fields[name] = value;
      else if (!KNOWN_EXTRA.has(key)) extra[key] = value;
    }
    try {
      return new GPT2Config(fields as Partial<GPT2ConfigFields>, extra);
    } catch (e) {
      if (e instanceof TsgradError) throw new TsgradError('GPT2Config', `${file}: ${e.message.slice(e.op.length + 2)}`);
      throw e;
    }
  }

  /** config.json's contents: every field in snake_case, as transformers' `save_pretrained` writes it. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.extra, architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' };
    for (const key of Object.keys(DEFAULTS)) out[snake(key)] = (this as unknown as Record<string, unknown>)[key];
    out.dtype = 'float32';
    return out;
  }
}

function validate(c: GPT2Config): void {
  const op = 'GPT2Config';
  for (const key of ['vocabSize', 'nPositions', 'nEmbd', 'nLayer', 'nHead'] as const) {
    check(Number.isInteger(c[key]) && c[key] > 0, op, () => `${snake(key)} must be a positive integer, got ${describeValue(c[key])}`);
  }
  check(c.nInner === null || (Number.isInteger(c.nInner) && c.nInner > 0), op, () => `n_inner must be null or a positive integer, got ${describeValue(c.nInner)}`);
  check(c.nEmbd % c.nHead === 0, op, () => `n_embd ${c.nEmbd} must be divisible by n_head ${c.nHead} (each head gets n_embd / n_head features)`);
  check((GPT2_ACTIVATIONS as readonly unknown[]).includes(c.activationFunction), op, () =>
    `activation_function ${describeValue(c.activationFunction)} is not supported; use one of ${GPT2_ACTIVATIONS.join(', ')}`);
  for (const key of ['residPdrop', 'embdPdrop', 'attnPdrop', 'summaryFirstDropout'] as const) {
    check(typeof c[key] === 'number' && c[key] >= 0 && c[key] < 1, op, () => `${snake(key)} must be a probability in [0, 1), got ${describeValue(c[key])}`);
  }
  for (const key of ['layerNormEpsilon', 'initializerRange'] as const) {
    check(typeof c[key] === 'number' && Number.isFinite(c[key]) && c[key] >= 0, op, () => `${snake(key)} must be a finite number ≥ 0, got ${describeValue(c[key])}`);
  }
  for (const key of ['summaryUseProj', 'summaryProjToLabels', 'scaleAttnWeights', 'useCache', 'scaleAttnByInverseLayerIdx', 'reorderAndUpcastAttn', 'addCrossAttention', 'tieWordEmbeddings'] as const) {
    check(typeof c[key] === 'boolean', op, () => `${snake(key)} must be true or false, got ${describeValue(c[key])}`);
  }
  check(!c.addCrossAttention, op, () => 'add_cross_attention is true, but cross-attention (an encoder-decoder GPT-2) is not supported; set it to false');
  const tokenId = (v: unknown) => v === null || (Number.isInteger(v) && (v as number) >= 0);
  check(tokenId(c.bosTokenId), op, () => `bos_token_id must be null or a token id, got ${describeValue(c.bosTokenId)}`);
  check(tokenId(c.padTokenId), op, () => `pad_token_id must be null or a token id, got ${describeValue(c.padTokenId)}`);
  check(Array.isArray(c.eosTokenId) ? c.eosTokenId.every(tokenId) : tokenId(c.eosTokenId), op, () =>
    `eos_token_id must be null, a token id or a list of them, got ${describeValue(c.eosTokenId)}`);
}
