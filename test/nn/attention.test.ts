// nn.MultiheadAttention against torch.nn.MultiheadAttention (float64): the same state-dict keys,
// the same weights loaded, then outputs, attention weights and every gradient; its init and refusals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, getBackend, manualSeed, nn, noGrad, ones, randn, scope, tensor, zeros } from '../../src/index.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('nn.MultiheadAttention against PyTorch');

type MaskKind = 'bool' | 'float';
interface Case {
  name: string;
  E: number; H: number; bias?: boolean; batchFirst?: boolean;
  /** [L, N, E] (or [N, L, E] with batchFirst; [L, E] unbatched) and the keys' length S. */
  q: number[]; S?: number;
  selfAttention?: boolean;
  keyPaddingMask?: MaskKind;
  attnMask?: { kind: MaskKind; perHead?: boolean; causal?: boolean };
  needWeights?: boolean; average?: boolean; isCausal?: boolean;
  /** Outputs only (PyTorch's NaN rows make the gradients NaN too). */
  noBackward?: boolean;
}

const cases: Case[] = [
  { name: 'self-attention [L, N, E], weights averaged over heads', E: 8, H: 2, q: [4, 2, 8], selfAttention: true },
  { name: 'cross-attention batchFirst, boolean attnMask and keyPaddingMask, weights per head', E: 8, H: 4, batchFirst: true, q: [2, 3, 8], S: 5, attnMask: { kind: 'bool' }, keyPaddingMask: 'bool', average: false },
  { name: 'needWeights false with a causal mask and the isCausal hint (scaledDotProductAttention)', E: 6, H: 3, batchFirst: true, q: [2, 4, 6], selfAttention: true, attnMask: { kind: 'bool', causal: true }, isCausal: true, needWeights: false },
  { name: 'needWeights false, isCausal with a keyPaddingMask (the mask is used)', E: 6, H: 2, batchFirst: true, q: [2, 4, 6], selfAttention: true, attnMask: { kind: 'bool', causal: true }, keyPaddingMask: 'bool', isCausal: true, needWeights: false },
  { name: 'needWeights false, float attnMask per head [N·H, L, S] and float keyPaddingMask', E: 8, H: 2, q: [3, 2, 8], S: 4, attnMask: { kind: 'float', perHead: true }, keyPaddingMask: 'float', needWeights: false },
  { name: 'unbatched [L, E] with a keyPaddingMask [S]', E: 4, H: 2, q: [3, 4], S: 5, keyPaddingMask: 'bool' },
  { name: 'no biases', E: 4, H: 1, bias: false, q: [3, 2, 4], selfAttention: true, attnMask: { kind: 'float' } },
  { name: 'a batch whose keys are all padding: NaN with needWeights, as PyTorch', E: 4, H: 2, batchFirst: true, q: [2, 3, 4], selfAttention: true, keyPaddingMask: 'bool', noBackward: true },
];

/** A deterministic pattern in (0, 1) for element i. */
const pattern = (i: number, seed: number) => {
  const h = Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453;
  return h - Math.floor(h);
};

function maskValues(kind: MaskKind, shape: number[], seed: number, f: (i: number) => boolean): (number | null)[] {
  const n = shape.reduce((p, d) => p * d, 1);
  return Array.from({ length: n }, (_, i) => (kind === 'bool' ? Number(f(i)) : f(i) ? null : (pattern(i, seed) - 0.5) * 2));
}

const json = (t: Tensor) => ({ shape: t.shape, data: Array.from(t.dataSync()) });
const maskTensor = (kind: MaskKind, shape: number[], data: (number | null)[]) =>
  kind === 'bool' ? tensor(data as number[], { dtype: 'int32' }).reshape(shape) : tensor(data.map((x) => x ?? -Infinity), { dtype: 'float64' }).reshape(shape);

interface Built { mha: nn.MultiheadAttention; q: Tensor; k: Tensor; v: Tensor; opts: nn.MultiheadAttentionForwardOptions; wOut: Tensor; json: Record<string, unknown> }

function build(c: Case, i: number): Built {
  manualSeed(200 + i);
  const mha = new nn.MultiheadAttention(c.E, c.H, { bias: c.bias ?? true, batchFirst: c.batchFirst ?? false, dtype: 'float64' });
  // Random non-zero biases, so their gradients and placement are checked too.
  noGrad(() => mha.parameters().forEach((p) => p.copy_(randn(p.shape, { dtype: 'float64' }).mul(0.5))));
  const batched = c.q.length === 3;
  const [L, N] = !batched ? [c.q[0]!, 1] : c.batchFirst ? [c.q[1]!, c.q[0]!] : [c.q[0]!, c.q[1]!];
  const S = c.S ?? L;
  const kvShape = !batched ? [S, c.E] : c.batchFirst ? [N, S, c.E] : [S, N, c.E];
  const leaf = (shape: number[]) => randn(shape, { dtype: 'float64', requiresGrad: true });
  const q = leaf(c.q);
  const [k, v] = c.selfAttention ? [q, q] : [leaf(kvShape), leaf(kvShape)];
  const out: Record<string, unknown> = {
    E: c.E, H: c.H, bias: c.bias ?? true, batchFirst: c.batchFirst ?? false, selfAttention: c.selfAttention ?? false,
    params: Object.fromEntries(mha.namedParameters().map(([n, p]) => [n, json(p)])),
    q: json(q), k: json(k), v: json(v), needWeights: c.needWeights ?? true, average: c.average ?? true, isCausal: c.isCausal ?? false,
    backward: !c.noBackward,
  };
  const opts: nn.MultiheadAttentionForwardOptions = { needWeights: c.needWeights, averageAttnWeights: c.average, isCausal: c.isCausal };
  if (c.keyPaddingMask) {
    const shape = batched ? [N, S] : [S];
    // Pad the last key of each sequence (all of batch 1's keys in the NaN case).
    const data = maskValues(c.keyPaddingMask, shape, i, (j) => (c.noBackward ? Math.floor(j / S) === 1 : j % S === S - 1));
    out.keyPaddingMask = { kind: c.keyPaddingMask, shape, data };
    opts.keyPaddingMask = maskTensor(c.keyPaddingMask, shape, data);
  }
  if (c.attnMask) {
    const shape = c.attnMask.perHead ? [N * c.H, L, S] : [L, S];
    const data = maskValues(c.attnMask.kind, shape, i + 50, (j) =>
      c.attnMask!.causal ? j % S > Math.floor(j / S) % L : pattern(j, i) < 0.25 && j % S !== 0);
    out.attnMask = { kind: c.attnMask.kind, shape, data };
    opts.attnMask = maskTensor(c.attnMask.kind, shape, data);
  }
  const wOut = randn(c.q, { dtype: 'float64' });
  out.wOut = json(wOut);
  return { mha, q, k, v, opts, wOut, json: out };
}

function expectClose(got: Tensor | null | undefined, want: number[] | null | undefined, what: string, tol = 1e-10): void {
  expect(got == null, `${what}: presence`).toBe(want == null);
  if (!got || !want) return;
  const g = got.dataSync();
  expect(g.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w: number = want[i] ?? NaN; // JSON writes NaN as null
    if (!(Object.is(g[i], w) || Math.abs(g[i]! - w) <= tol * Math.max(1, Math.abs(w)))) expect.fail(`${what}[${i}]: got ${g[i]}, PyTorch ${w}`);
  }
}

interface Reference {
  keys: string[]; out: number[]; outShape: number[]; weights: number[] | null; weightsShape: number[] | null;
  grads?: Record<string, number[]>; dq?: number[]; dk?: number[]; dv?: number[];
}

describe.skipIf(skip)('nn.MultiheadAttention against torch.nn.MultiheadAttention 2.13 (float64)', () => {
  const built = cases.map(build);
  let refs: Reference[] = [];
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgrad-mha-'));
    try {
      refs = await runReference(dir, built);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  cases.forEach((c, i) => {
    it(c.name, () => {
      const { mha, q, k, v, opts, wOut } = built[i]!;
      const ref = refs[i]!;
      expect(Object.keys(mha.stateDict())).toEqual(ref.keys);
      const [out, weights] = mha.forward(q, k, v, opts);
      expect(out.shape).toEqual(ref.outShape);
      expect(weights?.shape ?? null).toEqual(ref.weightsShape);
      expectClose(out, ref.out, 'output');
      expectClose(weights, ref.weights, 'weights');
      if (c.noBackward) return;
      let loss = out.mul(wOut).sum();
      if (weights) loss = loss.add(weights.mul(weightsFactor(weights)).sum());
      loss.backward();
      for (const [name, p] of mha.namedParameters()) expectClose(p.grad, ref.grads![name], `grad of ${name}`);
      expectClose(q.grad, ref.dq, 'dQuery');
      if (!c.selfAttention) {
        expectClose(k.grad, ref.dk, 'dKey');
        expectClose(v.grad, ref.dv, 'dValue');
      }
    });
  });
});

/** The fixed weights of the attention weights in the loss, the same on both sides. */
function weightsFactor(like: Tensor): Tensor {
  return tensor(Array.from({ length: like.size }, (_, i) => Math.cos(i)), { dtype: 'float64' }).reshape(like.shape);
}

function runReference(dir: string, built: Built[]): Promise<Reference[]> {
  // Forward once here to learn each case's weights shape, then give PyTorch the same factors.
  const cases = built.map((b) => {
    const [, w] = noGrad(() => b.mha.forward(b.q, b.k, b.v, b.opts));
    return w ? { ...b.json, wWeights: json(weightsFactor(w)) } : b.json;
  });
  // JSON has no infinities: a float mask's -inf goes as null (see mha_reference.py).
  writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
  return runHfPython<Reference[]>(join(import.meta.dirname, 'mha_reference.py'), [join(dir, 'cases.json')]);
}

describe('nn.MultiheadAttention', () => {
  it("has PyTorch's parameters and init: xavier-uniform in_proj_weight, zero biases", () => {
    manualSeed(1);
    const mha = new nn.MultiheadAttention(16, 4);
    expect(mha.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['in_proj_weight', [48, 16]], ['in_proj_bias', [48]], ['out_proj.weight', [16, 16]], ['out_proj.bias', [16]],
    ]);
    const w = Array.from(mha.in_proj_weight.dataSync());
    const bound = Math.sqrt(6 / (16 + 48));
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(Math.max(...Array.from(mha.out_proj.weight.dataSync()).map(Math.abs))).toBeLessThanOrEqual(1 / 4);
    expect(Array.from(mha.in_proj_bias!.dataSync()).every((x) => x === 0)).toBe(true);
    expect(Array.from(mha.out_proj.bias!.dataSync()).every((x) => x === 0)).toBe(true);
    expect(new nn.MultiheadAttention(8, 2, { bias: false }).namedParameters().map(([n]) => n)).toEqual(['in_proj_weight', 'out_proj.weight']);
  });

  it('returns null weights when not asked, and runs dropout only while training', () => {
    manualSeed(2);
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true, dropout: 0.5 }).eval();
    const x = randn([2, 3, 8]);
    const [a, none] = mha.forward(x, x, x, { needWeights: false });
    const [b, w] = mha.forward(x, x, x);
    expect(none).toBeNull();
    expectClose(a, Array.from(b.dataSync()), 'eval output', 1e-6);
    expect(w!.shape).toEqual([2, 3, 3]);
    mha.train();
    const [c] = mha.forward(x, x, x, { needWeights: false });
    expect(Array.from(c.dataSync())).not.toEqual(Array.from(a.dataSync()));
  });

  it('makes no tensor on a refused call, and leaves only gradients after forward and backward', () => {
    manualSeed(3);
    const live = () => getBackend().memory().buffers;
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    const x = randn([2, 3, 8], { requiresGrad: true });
    const pad = tensor([[0, 0, 1], [0, 0, 0]], { dtype: 'int32' }), causal = ones([3, 3], { dtype: 'int32' }).triu(1);
    const wrong = ones([3, 2], { dtype: 'int32' });
    const before = live();
    expect(() => mha.forward(x, x, x, { attnMask: causal, keyPaddingMask: wrong })).toThrow(/keyPaddingMask must be/);
    expect(live()).toBe(before);
    for (const needWeights of [true, false]) {
      scope(() => {
        const [y, w] = mha.forward(x, x, x, { attnMask: causal, keyPaddingMask: pad, isCausal: true, needWeights });
        y.sum().add(w ? w.sum() : 0).backward();
      });
    }
    // One gradient for x and for each of the four parameters.
    expect(live()).toBe(before + 5);
  });

  it('refuses what PyTorch refuses, and what it cannot do, naming the shapes', () => {
    const mha = new nn.MultiheadAttention(8, 2);
    const x = zeros([3, 2, 8]);
    expect(() => new nn.MultiheadAttention(8, 3)).toThrow(/MultiheadAttention: embedDim 8 must be divisible by numHeads 3/);
    expect(() => new nn.MultiheadAttention(8, 2, { kdim: 4 })).toThrow(/kdim number 4 differs from embedDim 8; separate key and value widths are not supported/);
    expect(() => new nn.MultiheadAttention(8, 2, { addBiasKv: true } as never)).toThrow(/unknown option addBiasKv/);
    expect(() => mha.forward(x, x, x, { isCausal: true })).toThrow(/isCausal is a hint that attnMask is causal, so it needs attnMask too/);
    expect(() => mha.forward(x, x, x, { attnMask: ones([3, 4], { dtype: 'int32' }) })).toThrow(/attnMask must be \[L, S\] = \[3,3\] or \[N·numHeads, L, S\] = \[4,3,3\], got \[3,4\]/);
    expect(() => mha.forward(x, x, x, { keyPaddingMask: ones([3, 2], { dtype: 'int32' }) })).toThrow(/keyPaddingMask must be \[N, S\] = \[2,3\], got \[3,2\]/);
    expect(() => mha.forward(x, zeros([3, 2, 4]), zeros([3, 2, 4]))).toThrow(/must end in embedDim 8/);
    expect(() => mha.forward(x, x, zeros([4, 2, 8]))).toThrow(/key \[3,2,8\] and value \[4,2,8\] must share one shape/);
    expect(() => mha.forward(zeros([8]), zeros([8]), zeros([8]))).toThrow(/query must be \[L, N, E\]/);
    expect(() => mha.forward(x, x, x, { attnMask: ones([3, 3], { dtype: 'float64' }) })).toThrow(/attnMask must be int32 \(true masks\) or float32/);
    expect(() => mha.forward(x, x, x, { needWeight: false } as never)).toThrow(/unknown option needWeight/);
  });
});
