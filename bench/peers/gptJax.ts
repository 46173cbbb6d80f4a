// The bench's GPT in jax-js (@jax-js/jax): the same GPT-2 block structure as tsgrad's
// GPT2LMHeadModel (pre-LayerNorm, fused q/k/v projection, causal attention, tanh GELU MLP, head
// tied to the token embedding), written as a function of a parameter tree, differentiated with
// valueAndGrad and jit-compiled together with AdamW into one step.
//
// Two things are written around jax-js 0.1.25 as it runs in Node 20, and the notes say so:
// - nn.dotProductAttention builds an einsum whose parser uses iterator helpers (Node 22+), so
//   attention is composed: q·kᵀ, a causal `where`, softmax, ·v;
// - the gradient of `take` is a scatter that its jit cannot compile yet, so the embedding and the
//   loss's target pick are one-hot products.
import { type Array as JaxArray, jit, nn, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import { adam, randn, readBack } from './coreJax.js';

export { initJax } from './coreJax.js';

export interface GptShape { vocab: number; context: number; width: number; layers: number; heads: number; batch: number }
type Tree = Record<string, JaxArray>;

function gptParams(g: GptShape): Tree {
  const C = g.width;
  const p: Tree = { wte: randn([g.vocab, C], 0.02), wpe: randn([g.context, C], 0.01), lnfG: np.ones([C]), lnfB: np.zeros([C]) };
  for (let l = 0; l < g.layers; l++) {
    Object.assign(p, {
      [`h${l}.ln1G`]: np.ones([C]), [`h${l}.ln1B`]: np.zeros([C]),
      [`h${l}.attnW`]: randn([C, 3 * C], 0.02), [`h${l}.attnB`]: np.zeros([3 * C]),
      [`h${l}.attnProjW`]: randn([C, C], 0.02), [`h${l}.attnProjB`]: np.zeros([C]),
      [`h${l}.ln2G`]: np.ones([C]), [`h${l}.ln2B`]: np.zeros([C]),
      [`h${l}.fcW`]: randn([C, 4 * C], 0.02), [`h${l}.fcB`]: np.zeros([4 * C]),
      [`h${l}.mlpProjW`]: randn([4 * C, C], 0.02), [`h${l}.mlpProjB`]: np.zeros([C]),
    });
  }
  return p;
}

function loraParams(g: GptShape, rank: number): Tree {
  const p: Tree = {};
  for (let l = 0; l < g.layers; l++) {
    p[`h${l}.loraA`] = randn([g.width, rank], 1 / Math.sqrt(g.width));
    p[`h${l}.loraB`] = np.zeros([rank, 3 * g.width]);
  }
  return p;
}

// jax-js arrays are reference-counted: every use but the last takes `.ref`.
function layerNorm(x: JaxArray, g: JaxArray, b: JaxArray): JaxArray {
  const xc = x.ref.sub(x.mean(-1, { keepdims: true }));
  const variance = xc.ref.mul(xc.ref).mean(-1, { keepdims: true });
  return xc.mul(np.reciprocal(np.sqrt(variance.add(1e-5)))).mul(g).add(b);
}

function loss(g: GptShape, scale: number, causal: JaxArray, p: Tree, lora: Tree | null, ids: JaxArray, targets: JaxArray): JaxArray {
  const { batch: B, context: T, width: C, heads: H, vocab: V } = g;
  const hd = C / H;
  const heads = (z: JaxArray) => z.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]);
  let x = np.matmul(nn.oneHot(ids, V), p.wte!.ref).add(p.wpe!);
  for (let l = 0; l < g.layers; l++) {
    const h = layerNorm(x.ref, p[`h${l}.ln1G`]!, p[`h${l}.ln1B`]!);
    let qkv = np.matmul(h.ref, p[`h${l}.attnW`]!).add(p[`h${l}.attnB`]!);
    if (lora) qkv = qkv.add(np.matmul(np.matmul(h, lora[`h${l}.loraA`]!), lora[`h${l}.loraB`]!).mul(scale));
    else h.dispose();
    const [q, k, v] = np.split(qkv, 3, -1) as [JaxArray, JaxArray, JaxArray];
    const scores = np.matmul(heads(q), heads(k).transpose([0, 1, 3, 2])).mul(1 / Math.sqrt(hd));
    const weights = nn.softmax(np.where(causal.ref, scores, -1e9), -1);
    const a = np.matmul(weights, heads(v)).transpose([0, 2, 1, 3]).reshape([B, T, C]);
    x = x.add(np.matmul(a, p[`h${l}.attnProjW`]!).add(p[`h${l}.attnProjB`]!));
    const h2 = layerNorm(x.ref, p[`h${l}.ln2G`]!, p[`h${l}.ln2B`]!);
    const m = nn.gelu(np.matmul(h2, p[`h${l}.fcW`]!).add(p[`h${l}.fcB`]!), { approximate: true });
    x = x.add(np.matmul(m, p[`h${l}.mlpProjW`]!).add(p[`h${l}.mlpProjB`]!));
  }
  causal.dispose();
  const logits = np.matmul(layerNorm(x, p.lnfG!, p.lnfB!), np.matrixTranspose(p.wte!));
  return nn.logSoftmax(logits, -1).mul(nn.oneHot(targets, V)).sum().mul(-1 / (B * T));
}

type StepFn = (trained: Tree, frozen: Tree, m: Tree, v: Tree, c1: JaxArray, c2: JaxArray, causal: JaxArray, ids: JaxArray, targets: JaxArray) => [JaxArray, Tree, Tree, Tree];

/** A jit-compiled training step of the GPT (full fine-tuning, or LoRA of `rank` on the q/k/v projection), with its state. */
export function jaxGptStep(g: GptShape, mode: 'full' | 'lora', rank = 4, alpha = 8): { step: () => number | Promise<number>; dispose: () => void } {
  const tokens = (shift: number) => np.array(Int32Array.from({ length: g.batch * g.context }, (_, i) => (i * 7919 + shift) % g.vocab), { dtype: np.int32 }).reshape([g.batch, g.context]);
  const causal = np.tril(np.ones([g.context, g.context])).greater(0.5);
  const ids = tokens(0), targets = tokens(1);
  // Full fine-tuning trains the whole tree and freezes nothing; LoRA trains A and B over a frozen base.
  const frozen: Tree = mode === 'lora' ? gptParams(g) : {};
  let trained = mode === 'lora' ? loraParams(g, rank) : gptParams(g);
  const zeros = (t: Tree): Tree => Object.fromEntries(Object.entries(t).map(([k, a]) => [k, np.zeros(a.shape)]));
  let m = zeros(trained), v = zeros(trained);
  let t = 0;
  const scale = alpha / rank;
  const step = jit(((tr, fr, mm, vv, c1, c2, c, x, y) => {
    const [l, grads] = valueAndGrad((lo: Tree, f: Tree, cc: JaxArray, xx: JaxArray, yy: JaxArray) =>
      mode === 'lora' ? loss(g, scale, cc, f, lo, xx, yy) : (tree.dispose(f), loss(g, scale, cc, lo, null, xx, yy)))(tree.ref(tr), fr, c, x, y);
    return [l, ...adam(tr, grads as Tree, mm, vv, c1, c2, 1e-3, 0.01)];
  }) as StepFn) as unknown as StepFn;
  return {
    step: () => {
      t++;
      const [l, next, m2, v2] = step(tree.ref(trained), tree.ref(frozen), m, v, np.array(1 / (1 - 0.9 ** t)), np.array(1 / (1 - 0.999 ** t)), causal.ref, ids.ref, targets.ref);
      tree.dispose(trained);
      trained = next; m = m2; v = v2;
      return readBack(l);
    },
    dispose: () => {
      for (const tr of [trained, m, v, frozen]) tree.dispose(tr);
      for (const a of [causal, ids, targets]) a.dispose();
    },
  };
}
