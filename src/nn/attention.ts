import { zeros } from '../core/creation.js';
import type { DType } from '../core/dtype.js';
import { check, fmt } from '../core/errors.js';
import { scaledDotProductAttention } from '../core/ops/attention.js';
import type { Tensor } from '../core/tensor.js';
import { assertKnownKeys, assertNewShape, assertSameBackend, checkArgs, describeValue, isPlainObject } from '../core/validate.js';
import * as F from './functional.js';
import * as init from './init.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';

/** Options of `nn.MultiheadAttention`, as PyTorch's constructor arguments. */
export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights while training (default 0). */
  dropout?: number;
  /** Biases in the input and output projections (default true). */
  bias?: boolean;
  /** Inputs and outputs are [N, L, E] rather than [L, N, E] (default false, as PyTorch). */
  batchFirst?: boolean;
  /** Must equal embedDim when given: separate key and value widths are not supported. */
  kdim?: number;
  /** Must equal embedDim when given: separate key and value widths are not supported. */
  vdim?: number;
  dtype?: DType;
}

/** Options of `MultiheadAttention.forward`, as PyTorch's keyword arguments. */
export interface MultiheadAttentionForwardOptions {
  /** [N, S] (or [S] unbatched): int32 true, or a float mask added, marks keys to ignore (padding). */
  keyPaddingMask?: Tensor | null;
  /** Also return the attention weights (default true, as PyTorch; false takes `scaledDotProductAttention`). */
  needWeights?: boolean;
  /** [L, S] or [N·numHeads, L, S]: int32 true means NOT allowed to attend; a float mask is added. */
  attnMask?: Tensor | null;
  /** Average the returned weights over the heads (default true); otherwise [N, numHeads, L, S]. */
  averageAttnWeights?: boolean;
  /** A hint that `attnMask` is causal (PyTorch requires the mask too); then it may run as `isCausal`. */
  isCausal?: boolean;
}

const CONSTRUCTOR_KEYS = ['dropout', 'bias', 'batchFirst', 'kdim', 'vdim', 'dtype'];
const FORWARD_KEYS = ['keyPaddingMask', 'needWeights', 'attnMask', 'averageAttnWeights', 'isCausal'];

/**
 * Multi-head attention as PyTorch's `nn.MultiheadAttention`, with its parameter names, so state
 * dicts line up: `in_proj_weight` [3E, E] (xavier uniform), `in_proj_bias` [3E] (zeros),
 * `out_proj.weight` and `out_proj.bias` (zeros). `forward` returns `[output, weights]`, weights
 * being null unless `needWeights`. Separate key/value widths (`kdim`, `vdim`), `add_bias_kv` and
 * `add_zero_attn` are not supported and are refused.
 *
 * @example
 * const mha = new nn.MultiheadAttention(64, 4, { batchFirst: true });
 * const [y, w] = mha.forward(x, x, x, { attnMask: ones([T, T], { dtype: 'int32' }).triu(1) }); // y [N, T, 64], w [N, T, T]
 */
export class MultiheadAttention extends Module<[Tensor, Tensor | null]> {
  /** The query, key and value projections stacked, [3E, E] (PyTorch's name, so state dicts line up). */
  in_proj_weight: Parameter;
  /** Their biases, [3E]; null without `bias`. */
  in_proj_bias: Parameter | null;
  /** The output projection, E → E. */
  out_proj: Linear;
  /** embedDim / numHeads. */
  readonly headDim: number;
  /** Dropout probability on the attention weights while training. */
  readonly dropout: number;
  /** Inputs and outputs are [N, L, E]. */
  readonly batchFirst: boolean;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    opts: MultiheadAttentionOptions = {},
  ) {
    super();
    const op = 'MultiheadAttention';
    for (const [name, v] of [['embedDim', embedDim], ['numHeads', numHeads]] as const) {
      check(Number.isInteger(v) && v > 0, op, () => `${name} must be a positive integer, got ${describeValue(v)}`);
    }
    check(embedDim % numHeads === 0, op, () => `embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    check(isPlainObject(opts), op, () => `options must be an object such as { batchFirst: true }, got ${describeValue(opts)}`);
    assertKnownKeys(op, opts, CONSTRUCTOR_KEYS);
    for (const name of ['kdim', 'vdim'] as const) {
      check(opts[name] === undefined || opts[name] === embedDim, op, () =>
        `${name} ${describeValue(opts[name])} differs from embedDim ${embedDim}; separate key and value widths are not supported, project them to embedDim first`);
    }
    const { dropout = 0, bias = true, batchFirst = false, dtype = 'float32' } = opts;
    check(typeof dropout === 'number' && dropout >= 0 && dropout < 1, op, () => `dropout must be in [0, 1), got ${describeValue(dropout)}`);
    check(typeof bias === 'boolean' && typeof batchFirst === 'boolean', op, () => 'bias and batchFirst must be booleans');
    check(dtype === 'float32' || dtype === 'float64', op, () => `dtype must be 'float32' or 'float64', got ${describeValue(dtype)}`);
    assertNewShape(op, [3 * embedDim, embedDim]);
    this.headDim = embedDim / numHeads;
    this.dropout = dropout;
    this.batchFirst = batchFirst;
    this.in_proj_weight = init.xavierUniform_(Parameter.from(zeros([3 * embedDim, embedDim], { dtype })));
    this.in_proj_bias = bias ? Parameter.from(zeros([3 * embedDim], { dtype })) : null;
    this.out_proj = new Linear(embedDim, embedDim, { bias, dtype });
    if (this.out_proj.bias) init.zeros_(this.out_proj.bias);
  }

  /**
   * Attends from `query` to `key`/`value`: [L, N, E], [S, N, E] (or [N, L, E] with `batchFirst`;
   * [L, E] unbatched). Returns the output, shaped like the query, and the attention weights
   * [N, L, S] (averaged over heads) or [N, numHeads, L, S] when `needWeights` (default), else null.
   */
  forward(query: Tensor, key: Tensor, value: Tensor, opts: MultiheadAttentionForwardOptions = {}): [Tensor, Tensor | null] {
    const { N, L, S, batched } = this.checkForward(query, key, value, opts);
    const { keyPaddingMask = null, attnMask = null, needWeights = true, averageAttnWeights = true, isCausal = false } = opts;
    const E = this.embedDim, H = this.numHeads, dtype = this.in_proj_weight.dtype;
    // Boolean masks become float ones (−∞ where true), added together as PyTorch merges them.
    const asFloat = (m: Tensor) => (m.dtype === 'int32' ? m.zerosLike().cast(dtype).maskedFill(m, -Infinity) : m);
    let mask = attnMask && asFloat(attnMask).reshape(attnMask.ndim === 3 ? [N, H, L, S] : [L, S]);
    if (keyPaddingMask) {
      const padding = asFloat(keyPaddingMask).reshape([N, 1, 1, S]);
      mask = mask ? mask.add(padding) : padding;
    }
    // To [N, L, E], the layout the heads are split in, then [N, H, L, D].
    const toBatchFirst = (t: Tensor) => (!batched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1));
    const [q, k, v] = this.project(query, key, value, toBatchFirst(query), toBatchFirst(key), toBatchFirst(value))
      .map((t) => t.reshape([N, -1, H, this.headDim]).transpose(1, 2)) as [Tensor, Tensor, Tensor];
    let heads: Tensor;
    let weights: Tensor | null = null;
    if (needWeights) {
      // PyTorch's explicit path: a plain softmax, so a row masked everywhere gives NaN, as there.
      let scores = q.mul(Math.sqrt(1 / this.headDim)).matmul(k.transpose(-2, -1));
      if (mask) scores = scores.add(mask);
      weights = F.dropout(scores.softmax(-1), this.dropout, this.training);
      heads = weights.matmul(v);
      if (averageAttnWeights) weights = weights.mean(1);
      if (!batched) weights = weights.squeeze(0);
    } else {
      // isCausal stands in for the mask only where PyTorch lets it: no padding mask to merge.
      const causal = isCausal && !keyPaddingMask;
      const dropoutP = this.training ? this.dropout : 0;
      heads = scaledDotProductAttention(q, k, v, { attnMask: causal ? null : mask, isCausal: causal, dropoutP });
    }
    const out = this.out_proj.forward(heads.transpose(1, 2).reshape([N, L, E]));
    return [!batched ? out.squeeze(0) : this.batchFirst ? out : out.transpose(0, 1), weights];
  }

  /** Checks a forward call completely, before any tensor is made; returns its sizes. */
  private checkForward(query: Tensor, key: Tensor, value: Tensor, opts: MultiheadAttentionForwardOptions) {
    const op = 'MultiheadAttention';
    checkArgs(op, [query, key, value, opts], ['query:tensor', 'key:tensor', 'value:tensor', 'options:object?']);
    assertKnownKeys(op, opts, FORWARD_KEYS);
    const { keyPaddingMask, attnMask, needWeights, averageAttnWeights, isCausal } = opts;
    checkArgs(op, [keyPaddingMask ?? undefined, attnMask ?? undefined], ['keyPaddingMask:tensor?', 'attnMask:tensor?']);
    for (const [name, v] of [['needWeights', needWeights], ['averageAttnWeights', averageAttnWeights], ['isCausal', isCausal]] as const) {
      check(v === undefined || typeof v === 'boolean', op, () => `${name} must be a boolean, got ${describeValue(v)}`);
    }
    const dtype = this.in_proj_weight.dtype;
    check([query, key, value].every((t) => t.dtype === dtype), op, () =>
      `query, key and value must be ${dtype} like the parameters, got ${query.dtype}, ${key.dtype} and ${value.dtype}`);
    assertSameBackend(op, this.in_proj_weight, query, key, value, ...[keyPaddingMask, attnMask].filter((m): m is Tensor => !!m));
    const batched = query.ndim === 3;
    check(query.ndim === 2 || batched, op, () => `query must be [L, N, E], [N, L, E] with batchFirst, or [L, E] unbatched, got ${fmt(query.shape)}`);
    check(key.ndim === query.ndim && value.ndim === query.ndim, op, () =>
      `key and value must have the query's ${query.ndim} dims, got ${fmt(key.shape)} and ${fmt(value.shape)}`);
    // [sequence, batch] positions in the input layout.
    const [seq, bat] = !batched ? [0, -1] : this.batchFirst ? [1, 0] : [0, 1];
    const N = bat < 0 ? 1 : query.shape[bat]!, L = query.shape[seq]!, S = key.shape[seq]!;
    check(query.shape.at(-1) === this.embedDim && key.shape.at(-1) === this.embedDim, op, () =>
      `query ${fmt(query.shape)} and key ${fmt(key.shape)} must end in embedDim ${this.embedDim}`);
    check((bat < 0 || key.shape[bat] === N) && key.shape.every((d, i) => d === value.shape[i]), op, () =>
      `key ${fmt(key.shape)} and value ${fmt(value.shape)} must share one shape, with the query's batch size ${N}`);
    check(!isCausal || attnMask, op, () => 'isCausal is a hint that attnMask is causal, so it needs attnMask too (as PyTorch); pass e.g. ones([L, L], { dtype: \'int32\' }).triu(1)');
    const same = (m: Tensor, want: number[]) => m.ndim === want.length && m.shape.every((d, i) => d === want[i]);
    for (const [name, m] of [['attnMask', attnMask], ['keyPaddingMask', keyPaddingMask]] as const) {
      check(!m || m.dtype === 'int32' || m.dtype === dtype, op, () => `${name} must be int32 (true masks) or ${dtype} (added), got ${m!.dtype}`);
    }
    check(!attnMask || same(attnMask, [L, S]) || same(attnMask, [N * this.numHeads, L, S]), op, () =>
      `attnMask must be [L, S] = ${fmt([L, S])} or [N·numHeads, L, S] = ${fmt([N * this.numHeads, L, S])}, got ${fmt(attnMask!.shape)}`);
    const padding = batched ? [N, S] : [S];
    check(!keyPaddingMask || same(keyPaddingMask, padding), op, () =>
      `keyPaddingMask must be ${batched ? '[N, S]' : '[S]'} = ${fmt(padding)}, got ${fmt(keyPaddingMask!.shape)}`);
    return { N, L, S, batched };
  }

  /** The packed input projection: one matmul for self-attention, else one per input (as PyTorch). */
  private project(query: Tensor, key: Tensor, value: Tensor, q: Tensor, k: Tensor, v: Tensor): Tensor[] {
    if (query === key && key === value) return F.linear(q, this.in_proj_weight, this.in_proj_bias).chunk(3, -1);
    const w = this.in_proj_weight.chunk(3, 0), b = this.in_proj_bias?.chunk(3, 0) ?? [null, null, null];
    return [q, k, v].map((x, i) => F.linear(x, w[i]!, b[i]));
  }
}
