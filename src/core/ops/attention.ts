import { isGradEnabled, noGrad, record } from '../autograd.js';
import type { AttentionArgs, Backend, View } from '../backend.js';
import { isFloat, typedArrayFor } from '../dtype.js';
import { check, fmt } from '../errors.js';
import { Generator, defaultGenerator } from '../random.js';
import { scope } from '../scope.js';
import { broadcastShapes, shapesEqual, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertKnownKeys, assertTensor, checkArgs, describeValue } from '../validate.js';
import { intConstant } from './constants.js';
import { where } from './elementwise.js';
import { broadcastTo, sameBackend, wrap } from './operands.js';

// Attention is one recorded op, so a backend can replace its forward with one fused kernel
// (`fused.attention`, FlashAttention's tiles and online softmax) while the gradient stays
// written once, here. The forward keeps nothing of size L·S for the backward except a dropout
// mask: the backward recomputes the probabilities from q and k (as FlashAttention does), in
// tensor ops, so second-order gradients flow through them. A backend's `attentionBackward`
// computes the same first-order gradients per tile from the forward's row logsumexp; the
// composed backward stays the reference and serves second order and a float mask's gradient
// (see docs/attention.md).

const OP = 'scaledDotProductAttention';

/** Options of `scaledDotProductAttention`: PyTorch's keyword arguments, in camelCase. */
export interface AttentionOptions {
  /**
   * An int32 mask (non-zero: the query may attend to that key, as PyTorch's boolean mask) or a
   * float mask of the query's dtype, added to the scores; it broadcasts to [..., L, S].
   */
  attnMask?: Tensor | null;
  /** Dropout on the attention weights; applied whenever it is above 0, as in PyTorch. */
  dropoutP?: number;
  /** Query i attends to keys 0..i (the mask is aligned top-left, as PyTorch's). Not with `attnMask`. */
  isCausal?: boolean;
  /** Multiplies q·kᵀ; 1/√E by default. */
  scale?: number | null;
  /** The stream the dropout mask is drawn from (the global one by default). */
  generator?: Generator;
}

/** What the forward and the backward share: validated operands and settings. */
interface Attention {
  mask: Tensor | null;
  isCausal: boolean;
  scale: number;
  /** The shape of the scores, [...batch of q and k, L, S]. */
  scores: readonly number[];
}

/** Checks every argument, before anything runs. */
function prepare(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Attention {
  checkArgs(OP, [q, k, v, opts], ['query:tensor', 'key:tensor', 'value:tensor', 'options:object?']);
  assertKnownKeys(OP, opts, ['attnMask', 'dropoutP', 'isCausal', 'scale', 'generator']);
  const mask = opts.attnMask ?? null;
  if (mask !== null) assertTensor(OP, mask, 'attnMask');
  sameBackend(OP, q, k, v, ...(mask ? [mask] : []));
  check(isFloat(q.dtype) && k.dtype === q.dtype && v.dtype === q.dtype, OP, () =>
    `query, key and value must share a float dtype, got ${q.dtype}, ${k.dtype} and ${v.dtype}`);
  check(q.ndim >= 2 && k.ndim >= 2 && v.ndim >= 2, OP, () =>
    `query, key and value need at least 2 dims ([..., L, E], [..., S, E], [..., S, Ev]), got ${fmt(q.shape)}, ${fmt(k.shape)} and ${fmt(v.shape)}`);
  const [L, E] = q.shape.slice(-2) as [number, number];
  const [S, Ek] = k.shape.slice(-2) as [number, number];
  check(Ek === E, OP, () => `query ${fmt(q.shape)} and key ${fmt(k.shape)} must share the last dim E (${E} vs ${Ek})`);
  check(v.shape[v.ndim - 2] === S, OP, () =>
    `key ${fmt(k.shape)} and value ${fmt(v.shape)} must share the sequence length S (dim -2: ${S} vs ${v.shape[v.ndim - 2]})`);
  const batch = broadcastShapes(OP, q.shape.slice(0, -2), k.shape.slice(0, -2));
  broadcastShapes(OP, batch, v.shape.slice(0, -2));
  const scores = [...batch, L, S];
  if (mask) {
    check(mask.dtype === 'int32' || mask.dtype === q.dtype, OP, () =>
      `attnMask must be int32 (true attends) or ${q.dtype} like the query (added to the scores), got ${mask.dtype}`);
    check(mask.ndim <= scores.length && shapesEqual(broadcastShapes(OP, scores, mask.shape), scores), OP, () =>
      `attnMask of shape ${fmt(mask.shape)} does not broadcast to the attention scores' shape ${fmt(scores)} ([..., L, S])`);
  }
  const isCausal = opts.isCausal ?? false;
  check(typeof isCausal === 'boolean', OP, () => `isCausal must be a boolean, got ${describeValue(isCausal)}`);
  check(!(isCausal && mask), OP, () => 'pass either attnMask or isCausal, not both (as PyTorch); fold the causal mask into attnMask');
  const p = opts.dropoutP ?? 0;
  check(typeof p === 'number' && p >= 0 && p < 1, OP, () => `dropoutP must be in [0, 1), got ${describeValue(p)}`);
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  check(typeof scale === 'number' && Number.isFinite(scale), OP, () => `scale must be a finite number, got ${describeValue(opts.scale)}`);
  check(opts.generator === undefined || opts.generator instanceof Generator, OP, () => `generator must be a Generator, got ${describeValue(opts.generator)}`);
  return { mask, isCausal, scale, scores };
}

/** int32 [L, S], 1 where key j ≤ query i. */
function causalMask(b: Backend, L: number, S: number): Tensor {
  return intConstant(b, [L, S], (i) => Number(i % S <= Math.floor(i / S)));
}

/**
 * softmax(q·kᵀ·scale + bias) in differentiable tensor ops. A row with nothing to attend to gives
 * zeros, as PyTorch's math kernel (its safe softmax), not NaN: its scores are zeroed before the
 * softmax so that no NaN enters the graph, not even in a second-order gradient.
 */
function weights(q: Tensor, k: Tensor, a: Attention): Tensor {
  let s = q.matmul(k.transpose(-2, -1)).mul(a.scale);
  // No keys (S = 0): no weights, and the output is zeros, as PyTorch's.
  if (a.scores.at(-1) === 0) return s;
  if (a.isCausal) s = where(causalMask(q._backend, a.scores.at(-2)!, a.scores.at(-1)!), s, -Infinity);
  if (a.mask) s = a.mask.dtype === 'int32' ? where(a.mask, s, -Infinity) : s.add(a.mask);
  const empty = s.max(-1, true).eq(-Infinity);
  return where(empty, 0, where(empty, 0, s).softmax(-1));
}

/** The kept weights' scale, 1/(1−p), or 0 where dropped, drawn from `g` in row-major order, on `like`'s backend. */
function dropoutMask(like: Tensor, shape: readonly number[], p: number, g: Generator): Tensor {
  const m = typedArrayFor(like.dtype, sizeOf(shape));
  for (let i = 0; i < m.length; i++) m[i] = g.nextUniform() >= p ? 1 / (1 - p) : 0;
  const b = like._backend;
  return wrap(b, b.upload(m), shape, like.dtype);
}

/** What the forward leaves for the backward: the fused kernel's output and row logsumexp, if it ran. */
interface Forward {
  out: Tensor;
  /** [...batch, L], from the fused forward only. */
  logsumexp: Tensor | null;
}

/** Lifts an operand to the full batch shape of the fused kernels (stride 0 where it broadcasts). */
function lifted(a: Attention, v: Tensor): { batch: number[]; lift: (t: Tensor, last: readonly number[]) => View } {
  const batch = broadcastShapes(OP, a.scores.slice(0, -2), v.shape.slice(0, -2));
  return { batch, lift: (t, last) => broadcastTo(t, [...batch, ...last])._view(OP) };
}

/** The operands of the fused kernels, lifted to one batch shape. */
function kernelArgs(q: Tensor, k: Tensor, v: Tensor, a: Attention, drop: Tensor | null): AttentionArgs<unknown> {
  const { lift } = lifted(a, v);
  const [L, S] = a.scores.slice(-2) as [number, number];
  return {
    query: lift(q, q.shape.slice(-2)), key: lift(k, k.shape.slice(-2)), value: lift(v, v.shape.slice(-2)),
    mask: a.mask && lift(a.mask, [L, S]), isCausal: a.isCausal, scale: a.scale, dropout: drop && lift(drop, [L, S]),
  };
}

/** The forward: the backend's fused kernel if it has one, else composed ops; no graph. */
function forward(q: Tensor, k: Tensor, v: Tensor, a: Attention, drop: Tensor | null): Forward {
  const b = q._backend;
  const kernel = b.fused?.attention;
  if (!kernel) {
    const w = weights(q, k, a);
    return { out: (drop ? w.mul(drop) : w).matmul(v), logsumexp: null };
  }
  const { batch } = lifted(a, v);
  const L = a.scores.at(-2)!;
  const { out, logsumexp } = kernel(kernelArgs(q, k, v, a, drop));
  return { out: wrap(b, out, [...batch, L, v.shape.at(-1)!], q.dtype), logsumexp: wrap(b, logsumexp, [...batch, L], q.dtype) };
}

/**
 * The gradients of query, key and value from the backend's fused backward, or null where it has
 * none, the backward builds a graph (second order goes through the composed form) or the float
 * mask wants a gradient.
 */
function fusedBackward(q: Tensor, k: Tensor, v: Tensor, a: Attention, drop: Tensor | null, f: Forward, g: Tensor, maskNeeded: boolean): Tensor[] | null {
  const b = q._backend;
  const kernel = b.fused?.attentionBackward;
  if (!kernel || !f.logsumexp || isGradEnabled() || maskNeeded) return null;
  const { batch } = lifted(a, v);
  const grads = kernel({ ...kernelArgs(q, k, v, a, drop), out: f.out._view(OP), logsumexp: f.logsumexp._view(OP), grad: g.contiguous()._view(OP) });
  const [L, S] = a.scores.slice(-2) as [number, number];
  const [E, Ev] = [q.shape.at(-1)!, v.shape.at(-1)!];
  // Gradients of the lifted shapes: backward sums each over the dims its input broadcast.
  return [wrap(b, grads.query, [...batch, L, E], q.dtype), wrap(b, grads.key, [...batch, S, E], q.dtype), wrap(b, grads.value, [...batch, S, Ev], q.dtype)];
}

/**
 * Attention as PyTorch's `scaled_dot_product_attention`: softmax(q·kᵀ·scale + mask)·v for query
 * [..., L, E], key [..., S, E] and value [..., S, Ev], with the batch dims broadcast, giving
 * [..., L, Ev]. An int32 `attnMask` says where a query may attend (true attends); a float one is
 * added to the scores; `isCausal` masks the keys after each query. A query row that may attend
 * nowhere gives zeros. One recorded op: gradients reach query, key, value and a float mask.
 *
 * @example
 * const y = nn.functional.scaledDotProductAttention(q, k, v, { isCausal: true }); // q, k, v [B, H, T, D]
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, opts: AttentionOptions = {}): Tensor {
  const a = prepare(query, key, value, opts);
  const p = opts.dropoutP ?? 0;
  return scope(() => {
    const drop = p > 0 ? dropoutMask(query, a.scores, p, opts.generator ?? defaultGenerator) : null;
    const f = noGrad(() => scope(() => forward(query, key, value, a, drop)));
    const floatMask = a.mask && a.mask.dtype !== 'int32' ? [a.mask] : [];
    // The fused backward reads the forward's output and row logsumexp: both O(L), not O(L·S).
    const fromForward = f.logsumexp && query._backend.fused?.attentionBackward ? [f.out, f.logsumexp] : [];
    const saved = [query, key, value, ...(a.mask ? [a.mask] : []), ...(drop ? [drop] : []), ...fromForward];
    return record(OP, [query, key, value, ...floatMask], f.out, saved, (g, needs) => {
      const [nq, nk, nv, nm] = needs;
      const fused = fromForward.length ? fusedBackward(query, key, value, a, drop, f, g, nm ?? false) : null;
      if (fused) return [nq ? fused[0]! : null, nk ? fused[1]! : null, nv ? fused[2]! : null];
      const w = weights(query, key, a);
      const wd = drop ? w.mul(drop) : w;
      const dv = nv ? wd.transpose(-2, -1).matmul(g) : null;
      if (!nq && !nk && !nm) return [null, null, dv];
      let dw = g.matmul(value.transpose(-2, -1));
      if (drop) dw = dw.mul(drop);
      // The softmax's backward; masked and empty rows have w = 0, so their scores get 0.
      const ds = w.mul(dw.sub(dw.mul(w).sum(-1, true)));
      const dsScaled = nq || nk ? ds.mul(a.scale) : null;
      return [
        nq ? dsScaled!.matmul(key) : null,
        nk ? dsScaled!.transpose(-2, -1).matmul(query) : null,
        dv,
        nm ? ds : null,
      ];
    });
  });
}
