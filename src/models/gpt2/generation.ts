// Autoregressive decoding with a key/value cache, as transformers' generate: greedy, or sampling
// through its logits processors (temperature, then top-k, then top-p).
import { noGrad } from '../../core/autograd.js';
import { ones } from '../../core/creation.js';
import { check, fmt } from '../../core/errors.js';
import { where } from '../../core/ops/elementwise.js';
import { cat } from '../../core/ops/join.js';
import type { Generator } from '../../core/random.js';
import { multinomial } from '../../core/sampling.js';
import { keep, scope } from '../../core/scope.js';
import type { Tensor } from '../../core/tensor.js';
import { describeValue, isPlainObject } from '../../core/validate.js';
import { type TensorLike, asTensor } from '../../nn/inputs.js';
import { GPT2Cache } from './attention.js';
import type { GPT2LMHeadModel } from './modeling.js';

/** How `generate` decodes (transformers' generation options, camelCase). */
export interface GenerateOptions {
  /** Tokens to add to each row (at most; decoding stops early once every row has met an eos). */
  maxNewTokens: number;
  /**
   * Sample from the distribution instead of taking the most likely token. By default true when
   * any of temperature (other than 0), topK, topP or generator is given, else false (greedy, as
   * transformers' `do_sample=False`). `temperature: 0` means greedy.
   */
  doSample?: boolean;
  /** Divides the logits before sampling (default 1). */
  temperature?: number;
  /** Keep only the k most likely tokens (ties at the k-th kept, as transformers). Off by default; transformers' default config has 50. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (nucleus sampling); 1 is off. */
  topP?: number;
  /** The random stream sampling draws from; the global one (`manualSeed`) by default. */
  generator?: Generator;
  /** Token id(s) that end a row; null for none. By default the config's `eos_token_id`, as transformers. */
  eosTokenId?: number | number[] | null;
  /** What a finished row is filled with; by default the config's pad_token_id, else the (first) eos id. */
  padTokenId?: number;
  /** [B, T], 1 for real tokens and 0 for (left) padding; positions then count real tokens only, as transformers. */
  attentionMask?: TensorLike | null;
}

const KNOWN = new Set(['maxNewTokens', 'doSample', 'temperature', 'topK', 'topP', 'generator', 'eosTokenId', 'padTokenId', 'attentionMask']);

/**
 * transformers' TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper, in its order, on
 * logits [B, V]: the scores of the tokens filtered out become −∞.
 *
 * @example
 * const probs = models.warpLogits(logits, { temperature: 0.8, topK: 40, topP: 0.95 }).softmax(-1);
 * multinomial(probs, 1);
 */
export function warpLogits(logits: Tensor, opts: { temperature?: number; topK?: number; topP?: number }): Tensor {
  let scores = opts.temperature !== undefined && opts.temperature !== 1 ? logits.div(opts.temperature) : logits;
  const V = scores.shape[scores.ndim - 1]!;
  if (opts.topK !== undefined && opts.topK > 0 && opts.topK < V) {
    const kth = scores.topk(opts.topK, -1).values.slice([[0, scores.shape[0]!], [opts.topK - 1, opts.topK]]);
    scores = where(scores.lt(kth), -Infinity, scores);
  }
  if (opts.topP !== undefined && opts.topP < 1) {
    // Remove the least likely tokens whose total probability stays within 1 − p; the most likely always stays.
    const [sorted, order] = scores.sort(-1, false);
    const removeSorted = sorted.softmax(-1).cumsum(-1).le(1 - opts.topP);
    const B = scores.shape[0]!;
    const remove = cat([removeSorted.slice([[0, B], [0, V - 1]]), removeSorted.slice([[0, B], [V - 1, V]]).zerosLike()], 1);
    scores = where(remove.gather(-1, order.argsort(-1)), -Infinity, scores);
  }
  return scores;
}

function checkOptions(model: GPT2LMHeadModel, opts: GenerateOptions): void {
  const op = 'generate';
  check(isPlainObject(opts as unknown), op, () => `options must be an object such as { maxNewTokens: 20 }, got ${describeValue(opts)}`);
  const unknown = Object.keys(opts).find((k) => !KNOWN.has(k));
  check(!unknown, op, () => `unknown option '${unknown}'; options: ${[...KNOWN].join(', ')}`);
  check(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens > 0, op, () => `maxNewTokens must be a positive integer, got ${describeValue(opts.maxNewTokens)}`);
  check(opts.doSample === undefined || typeof opts.doSample === 'boolean', op, () => `doSample must be true or false, got ${describeValue(opts.doSample)}`);
  check(opts.temperature === undefined || (Number.isFinite(opts.temperature) && opts.temperature >= 0), op, () =>
    `temperature must be a finite number ≥ 0 (0 is greedy), got ${describeValue(opts.temperature)}`);
  check(!(opts.doSample === true && opts.temperature === 0), op, () => 'doSample with temperature 0 has no distribution to sample; use a positive temperature, or doSample: false for greedy');
  check(opts.topK === undefined || (Number.isInteger(opts.topK) && opts.topK >= 0), op, () => `topK must be an integer ≥ 0 (0 is off), got ${describeValue(opts.topK)}`);
  check(opts.topP === undefined || (typeof opts.topP === 'number' && opts.topP > 0 && opts.topP <= 1), op, () => `topP must be in (0, 1], got ${describeValue(opts.topP)}`);
  const V = model.config.vocabSize;
  const tokenId = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < V;
  check(opts.eosTokenId == null || (Array.isArray(opts.eosTokenId) ? opts.eosTokenId.every(tokenId) : tokenId(opts.eosTokenId)), op, () =>
    `eosTokenId must be null, a token id in [0, ${V}) or a list of them, got ${describeValue(opts.eosTokenId)}`);
  check(opts.padTokenId === undefined || tokenId(opts.padTokenId), op, () => `padTokenId must be a token id in [0, ${V}), got ${describeValue(opts.padTokenId)}`);
}

/**
 * Extends `inputIds` [B, T] by up to `maxNewTokens` tokens per row and returns all of them,
 * int32 [B, T + n]. Runs under noGrad with a key/value cache (each step feeds one position) and
 * frees each step's tensors. The model's mode is left as it is, as in transformers: call
 * `model.eval()` first so dropout is off.
 */
export async function generate(model: GPT2LMHeadModel, inputIds: TensorLike, opts: GenerateOptions): Promise<Tensor> {
  const op = 'generate';
  checkOptions(model, opts);
  const config = model.config;
  const ids = asTensor(op, inputIds, 'int32', model.transformer.ln_f.weight);
  check(ids.ndim === 2 && ids.dtype === 'int32' && ids.shape[1]! > 0, op, () => `input ids must be int32 [batch, time] with time > 0, got ${ids.dtype} ${fmt(ids.shape)}`);
  const [B, T] = ids.shape as [number, number];
  check(T + opts.maxNewTokens <= config.nPositions, op, () =>
    `${T} prompt tokens + maxNewTokens ${opts.maxNewTokens} exceed the model's n_positions ${config.nPositions}`);
  const mask = opts.attentionMask != null ? asTensor(op, opts.attentionMask, 'int32', ids) : null;
  check(!mask || (mask.ndim === 2 && mask.shape[0] === B && mask.shape[1] === T), op, () => `attentionMask must be [${B}, ${T}] like the ids, got ${fmt(mask!.shape)}`);
  const sampling = opts.doSample ?? ((opts.temperature !== undefined || opts.topK !== undefined || opts.topP !== undefined || opts.generator !== undefined) && opts.temperature !== 0);
  const eos = opts.eosTokenId === undefined ? config.eosTokenId : opts.eosTokenId;
  const eosIds = eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  const pad = opts.padTokenId ?? config.padTokenId ?? eosIds[0] ?? 0;

  const cache = new GPT2Cache();
  const tokens: Tensor[] = [];
  // Per-step state, owned here and replaced each step.
  let state = noGrad(() => scope(() => ({
    input: ids,
    mask: mask ? mask.ne(0) : null,
    positions: mask ? mask.ne(0).cumsum(1).sub(1).mul(mask.ne(0)) : null,
    unfinished: eosIds.length ? ones([B], { dtype: 'int32', backend: ids.backend }) : null,
  })));
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const next = noGrad(() => scope(() => {
        const logits = model.forward(state.input, {
          attentionMask: state.mask, positionIds: state.positions, pastKeyValues: cache, logitsToKeep: 1,
        }).reshape([B, config.vocabSize]);
        let token = sampling
          ? multinomial(warpLogits(logits, opts).softmax(-1), 1, { generator: opts.generator }).reshape([B])
          : logits.argmax(-1);
        let unfinished = state.unfinished;
        if (unfinished) {
          // A finished row gets the pad token, as transformers does.
          token = where(unfinished, token, pad);
          const hit = eosIds.map((e) => token.eq(e)).reduce((a, b) => a.add(b));
          unfinished = unfinished.mul(hit.eq(0));
        }
        const column = token.reshape([B, 1]);
        return {
          input: column,
          mask: state.mask ? cat([state.mask, column.onesLike()], 1) : null,
          positions: state.positions ? state.positions.slice([[0, B], [-1, state.positions.shape[1]!]]).add(1) : null,
          unfinished,
        };
      }));
      for (const t of [state.mask, state.positions, state.unfinished]) if (t && t !== next.unfinished) t.dispose();
      if (state.input !== ids) tokens.push(state.input);
      state = next;
      if (state.unfinished && (await state.unfinished.max().item()) === 0) break;
    }
    tokens.push(state.input);
    return keep(noGrad(() => cat([ids, ...tokens], 1)));
  } finally {
    cache.dispose();
    for (const t of tokens) t.dispose();
    for (const t of [state.mask, state.positions, state.unfinished]) t?.dispose();
    if (ids !== inputIds) ids.dispose();
    if (mask && mask !== opts.attentionMask) mask.dispose();
  }
}
