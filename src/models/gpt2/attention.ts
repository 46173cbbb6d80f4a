// GPT-2's self-attention (transformers' GPT2Attention) and the key/value cache generation keeps.
import { isGradEnabled } from '../../core/autograd.js';
import { arange } from '../../core/creation.js';
import { check, fmt } from '../../core/errors.js';
import { cat } from '../../core/ops/join.js';
import { keep } from '../../core/scope.js';
import type { Tensor } from '../../core/tensor.js';
import { Conv1D } from '../../nn/conv1d.js';
import * as F from '../../nn/functional.js';
import { Dropout } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { GPT2Config } from './config.js';

/**
 * int32 [L, S]: 1 where query i (at position `past + i`) may see key j, that is j ≤ past + i.
 * With a cache the query rows are the last L of S positions, so the diagonal is offset by `past`
 * (transformers builds it so too; PyTorch's `isCausal` aligns it top-left instead).
 *
 * @example
 * models.causalMask(1, 4, 3, x); // [[1, 1, 1, 1]]: the 4th token sees the 3 cached ones and itself
 */
export function causalMask(queries: number, keys: number, past: number, like: Tensor): Tensor {
  const q = positions(past, queries, like).reshape([queries, 1]);
  const k = positions(0, keys, like).reshape([1, keys]);
  return k.le(q);
}

/** int32 [start, start + n) on `like`'s backend. */
function positions(start: number, n: number, like: Tensor): Tensor {
  return arange(start, start + n, 1, { dtype: 'int32', backend: like.backend });
}

/**
 * Keys and values of past positions, per layer ([B, heads, past, headDim]), so that each new
 * token costs one position (transformers' DynamicCache). It owns its tensors: `update` disposes
 * the previous ones, so it is used under `noGrad`, as `generate` does.
 *
 * @example
 * const cache = new models.GPT2Cache();
 * noGrad(() => model.forward(ids, { pastKeyValues: cache })); // cache.length === ids' length
 */
export class GPT2Cache {
  #keys: Tensor[] = [];
  #values: Tensor[] = [];

  /** How many positions the cache holds (0 when empty). */
  get length(): number {
    return this.#keys[0]?.shape[2] ?? 0;
  }

  /** Appends this step's keys and values for `layer`; returns all of them, past and new. */
  update(layer: number, key: Tensor, value: Tensor): [Tensor, Tensor] {
    check(!isGradEnabled(), 'GPT2Cache', () => 'a key/value cache is for inference: call the model under noGrad(() => ...) (generate does)');
    const pastK = this.#keys[layer], pastV = this.#values[layer];
    const k = keep(pastK ? cat([pastK, key], 2) : key.contiguous());
    const v = keep(pastV ? cat([pastV, value], 2) : value.contiguous());
    pastK?.dispose();
    pastV?.dispose();
    this.#keys[layer] = k;
    this.#values[layer] = v;
    return [k, v];
  }

  /** Frees the cached tensors. */
  dispose(): void {
    for (const t of [...this.#keys, ...this.#values]) t.dispose();
    this.#keys = [];
    this.#values = [];
  }
}

/**
 * Multi-head causal self-attention with transformers' parameter names: `c_attn` projects to
 * q, k and v at once (Conv1D [nEmbd, 3·nEmbd]) and `c_proj` projects back.
 *
 * @example
 * const attn = new models.GPT2Attention(config, 0);
 * attn.forward(x, { attnMask: causalMask(T, T, 0, x) }); // x [B, T, nEmbd] → [B, T, nEmbd]
 */
export class GPT2Attention extends Module {
  c_attn: Conv1D;
  c_proj: Conv1D;
  attn_dropout: Dropout;
  resid_dropout: Dropout;
  readonly numHeads: number;
  readonly headDim: number;
  readonly scaling: number;

  constructor(config: GPT2Config, readonly layerIdx = 0, opts: { dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16' } = {}) {
    super();
    this.numHeads = config.nHead;
    this.headDim = config.headDim;
    this.scaling = (config.scaleAttnWeights ? 1 / Math.sqrt(this.headDim) : 1) / (config.scaleAttnByInverseLayerIdx ? layerIdx + 1 : 1);
    this.c_attn = new Conv1D(3 * config.nEmbd, config.nEmbd, opts);
    this.c_proj = new Conv1D(config.nEmbd, config.nEmbd, opts);
    this.attn_dropout = new Dropout(config.attnPdrop);
    this.resid_dropout = new Dropout(config.residPdrop);
  }

  /**
   * x [B, T, nEmbd] → [B, T, nEmbd]; `attnMask` says which keys each query sees (int32, broadcast
   * to [B, heads, T, S]), or `isCausal`, without a mask, that query i sees keys 0..i.
   */
  forward(x: Tensor, opts: { attnMask?: Tensor | null; isCausal?: boolean; pastKeyValues?: GPT2Cache | null } = {}): Tensor {
    const [B, T, C] = x.shape as [number, number, number];
    check(x.ndim === 3 && C === this.numHeads * this.headDim, 'GPT2Attention', () =>
      `input must be [batch, time, ${this.numHeads * this.headDim}], got ${fmt(x.shape)}`);
    const heads = (t: Tensor) => t.reshape([B, T, this.numHeads, this.headDim]).permute([0, 2, 1, 3]);
    let [q, k, v] = this.c_attn.forward(x).split(C, -1).map(heads) as [Tensor, Tensor, Tensor];
    if (opts.pastKeyValues) [k, v] = opts.pastKeyValues.update(this.layerIdx, k, v);
    const y = F.scaledDotProductAttention(q, k, v, {
      attnMask: opts.attnMask, isCausal: opts.isCausal ?? false, dropoutP: this.training ? this.attn_dropout.p : 0, scale: this.scaling,
    });
    return this.resid_dropout.forward(this.c_proj.forward(y.permute([0, 2, 1, 3]).reshape([B, T, C])));
  }
}
