// scaledDotProductAttention against PyTorch's (float64, outputs and every gradient), finite
// differences to second order, its dropout, and its refusals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Generator, type Tensor, TsgradError, getBackend, gradcheck, gradgradcheck, manualSeed, nn, noGrad, ones, randn, tensor, zeros,
} from '../../src/index.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const sdpa = nn.functional.scaledDotProductAttention;
const skip = hfUnavailable('scaledDotProductAttention against PyTorch');

type MaskSpec = { shape: number[]; kind: 'bool' | 'float'; grad: boolean; data: (number | null)[] };
interface Case {
  name: string;
  q: number[]; k: number[]; v: number[];
  mask?: { shape: number[]; kind: 'bool' | 'float'; grad?: boolean };
  isCausal?: boolean;
  scale?: number;
}

const cases: Case[] = [
  { name: '4-D, no mask', q: [2, 3, 4, 5], k: [2, 3, 6, 5], v: [2, 3, 6, 7] },
  { name: '3-D, isCausal with L = S', q: [2, 5, 4], k: [2, 5, 4], v: [2, 5, 3], isCausal: true },
  { name: '4-D, isCausal with L < S', q: [1, 2, 3, 4], k: [1, 2, 6, 4], v: [1, 2, 6, 4], isCausal: true },
  { name: '3-D, isCausal with L > S', q: [2, 6, 4], k: [2, 3, 4], v: [2, 3, 5], isCausal: true },
  { name: 'boolean mask [L, S] with a row that attends nowhere', q: [2, 2, 4, 3], k: [2, 2, 5, 3], v: [2, 2, 5, 3], mask: { shape: [4, 5], kind: 'bool' } },
  { name: 'boolean mask [B, 1, L, S]', q: [2, 2, 4, 3], k: [2, 2, 5, 3], v: [2, 2, 5, 3], mask: { shape: [2, 1, 4, 5], kind: 'bool' } },
  { name: 'float mask that requires grad, with -inf entries and a -inf row', q: [2, 3, 4, 5], k: [2, 3, 6, 5], v: [2, 3, 6, 2], mask: { shape: [2, 1, 4, 6], kind: 'float', grad: true } },
  { name: 'float mask [L, S] without grad', q: [3, 4, 5], k: [3, 6, 5], v: [3, 6, 2], mask: { shape: [4, 6], kind: 'float' } },
  { name: 'broadcast batch dims of query, key and value', q: [2, 1, 4, 5], k: [1, 3, 6, 5], v: [3, 6, 7] },
  { name: 'explicit scale', q: [2, 4, 5], k: [2, 6, 5], v: [2, 6, 3], scale: 0.3, mask: { shape: [2, 4, 6], kind: 'bool' } },
  { name: '2-D', q: [4, 3], k: [5, 3], v: [5, 2] },
];

/** Mask values: boolean masks follow a pattern with row 1 all false; float masks mix -inf in, row 1 all -inf. */
function maskData(shape: number[], kind: 'bool' | 'float', seed: number): (number | null)[] {
  const [L, S] = shape.slice(-2) as [number, number];
  const n = shape.reduce((p, d) => p * d, 1);
  return Array.from({ length: n }, (_, i) => {
    const row = Math.floor(i / S) % L, h = Math.sin(i * 12.9898 + seed) * 43758.5453;
    const r = h - Math.floor(h);
    if (kind === 'bool') return row === 1 ? 0 : Number(r > 0.3);
    return row === 1 || r < 0.2 ? null : (r - 0.5) * 3;
  });
}

function fromJson(data: (number | null)[], shape: number[]): Tensor {
  return tensor(data.map((x) => x ?? -Infinity), { dtype: 'float64' }).reshape(shape);
}

interface Built {
  q: Tensor; k: Tensor; v: Tensor; mask: Tensor | null; w: Tensor;
  json: Record<string, unknown>;
}

function build(c: Case, i: number): Built {
  manualSeed(100 + i);
  const leaf = (shape: number[]) => randn(shape, { dtype: 'float64', requiresGrad: true });
  const q = leaf(c.q), k = leaf(c.k), v = leaf(c.v);
  const outShape = noGrad(() => sdpaShape(c));
  const w = randn(outShape, { dtype: 'float64' });
  const json: Record<string, unknown> = {
    q: { shape: c.q, data: Array.from(q.dataSync()) }, k: { shape: c.k, data: Array.from(k.dataSync()) }, v: { shape: c.v, data: Array.from(v.dataSync()) },
    w: { shape: outShape, data: Array.from(w.dataSync()) }, isCausal: c.isCausal ?? false, scale: c.scale ?? null,
  };
  let mask: Tensor | null = null;
  if (c.mask) {
    const data = maskData(c.mask.shape, c.mask.kind, i);
    const spec: MaskSpec = { shape: c.mask.shape, kind: c.mask.kind, grad: c.mask.grad ?? false, data };
    json.mask = spec;
    mask = c.mask.kind === 'bool'
      ? tensor(data as number[], { dtype: 'int32' }).reshape(c.mask.shape)
      : fromJson(data, c.mask.shape).detach().requiresGrad_(spec.grad);
  }
  return { q, k, v, mask, w, json };
}

function sdpaShape(c: Case): number[] {
  const batch = (s: number[]) => s.slice(0, -2);
  const rank = Math.max(c.q.length, c.k.length, c.v.length) - 2;
  const dims = Array.from({ length: rank }, (_, d) =>
    Math.max(...[c.q, c.k, c.v].map((s) => batch(s)[batch(s).length - rank + d] ?? 1)));
  return [...dims, c.q.at(-2)!, c.v.at(-1)!];
}

function expectClose(got: Tensor | null, want: number[] | null, what: string, tol = 1e-12): void {
  expect(got === null, `${what}: presence`).toBe(want === null);
  if (!got || !want) return;
  const g = got.dataSync();
  expect(g.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(g[i]! - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)))) expect.fail(`${what}[${i}]: got ${g[i]}, PyTorch ${want[i]}`);
  }
}

interface Reference { shape: number[]; out: number[]; dq: number[]; dk: number[]; dv: number[]; dmask: number[] | null }

describe.skipIf(skip)('scaledDotProductAttention against PyTorch 2.13 (float64)', () => {
  const built = cases.map(build);
  let refs: Reference[] = [];
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgrad-sdpa-'));
    try {
      writeFileSync(join(dir, 'cases.json'), JSON.stringify(built.map((b) => b.json)));
      refs = await runHfPython<Reference[]>(join(import.meta.dirname, 'sdpa_reference.py'), [join(dir, 'cases.json')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  cases.forEach((c, i) => {
    it(c.name, () => {
      const { q, k, v, mask, w } = built[i]!;
      const ref = refs[i]!;
      const out = sdpa(q, k, v, { attnMask: mask, isCausal: c.isCausal, scale: c.scale });
      expect(out.shape).toEqual(ref.shape);
      expect(out.gradFn?.op).toBe('scaledDotProductAttention');
      expectClose(out, ref.out, 'output');
      out.mul(w).sum().backward();
      expectClose(q.grad, ref.dq, 'dQ');
      expectClose(k.grad, ref.dk, 'dK');
      expectClose(v.grad, ref.dv, 'dV');
      expectClose(mask?.requiresGrad ? mask.grad : null, ref.dmask, 'dMask');
    });
  });
});

describe('scaledDotProductAttention by finite differences (float64)', () => {
  const f64 = (shape: number[]) => randn(shape, { dtype: 'float64' });

  it('first and second order, with a float mask, a boolean mask and isCausal', () => {
    manualSeed(3);
    const q = f64([3, 2]), k = f64([4, 2]), v = f64([4, 2]), fm = f64([3, 4]);
    const bool = tensor([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 1, 1]], { dtype: 'int32' });
    gradgradcheck((a, b, c, m) => sdpa(a!, b!, c!, { attnMask: m }), [q, k, v, fm]);
    gradgradcheck((a, b, c) => sdpa(a!, b!, c!, { attnMask: bool, scale: 0.7 }), [q, k, v]);
    gradgradcheck((a, b, c) => sdpa(a!, b!, c!, { isCausal: true }), [q, k, v]);
  });

  it('broadcast batch dims, and dropout with its mask reused by the backward', () => {
    manualSeed(4);
    gradgradcheck((a, b, c) => sdpa(a!, b!, c!), [f64([2, 1, 2, 2]), f64([1, 2, 3, 2]), f64([3, 2])]);
    const g = new Generator();
    const seeded = (a: Tensor, b: Tensor, c: Tensor) => sdpa(a, b, c, { dropoutP: 0.4, generator: g.manualSeed(9) });
    const inputs = [f64([2, 3, 2]), f64([2, 4, 2]), f64([2, 4, 2])];
    gradcheck(seeded, inputs);
    gradgradcheck(seeded, inputs);
  });
});

describe('scaledDotProductAttention dropout', () => {
  it('draws its mask from the generator: zeroed weights, the rest scaled by 1/(1−p)', () => {
    manualSeed(5);
    const q = randn([1, 4, 3], { dtype: 'float64' }), k = randn([1, 6, 3], { dtype: 'float64' });
    // With v the identity, the output is the (dropped-out) attention weights themselves.
    const v = tensor(Array.from({ length: 36 }, (_, i) => Number(i % 7 === 0)), { dtype: 'float64' }).reshape([1, 6, 6]);
    const plain = sdpa(q, k, v).dataSync();
    const a = sdpa(q, k, v, { dropoutP: 0.5, generator: new Generator().manualSeed(1) }).dataSync();
    const b = sdpa(q, k, v, { dropoutP: 0.5, generator: new Generator().manualSeed(1) }).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    const g = new Generator().manualSeed(1);
    plain.forEach((p, i) => expect(a[i]).toBeCloseTo(g.nextUniform() >= 0.5 ? p * 2 : 0, 12));
  });
});

describe('scaledDotProductAttention memory', () => {
  it('leaves no storage behind: intermediates at once, the dropout mask with the graph', () => {
    const live = () => getBackend().memory().buffers;
    manualSeed(6);
    const q = randn([2, 3, 4], { requiresGrad: true }), k = randn([2, 5, 4]), v = randn([2, 5, 4], { requiresGrad: true });
    const base = live();
    noGrad(() => sdpa(q, k, v, { isCausal: true, dropoutP: 0.2 })).dispose();
    expect(live()).toBe(base);
    const out = sdpa(q, k, v, { attnMask: ones([3, 5], { dtype: 'int32' }), dropoutP: 0.2 });
    const loss = out.sum();
    loss.backward();
    [loss, out, q.grad!, v.grad!].forEach((t) => t.dispose());
    expect(live()).toBe(base + 1); // the mask passed in
  });
});

describe('scaledDotProductAttention on empty inputs, as PyTorch', () => {
  it('gives zeros without keys (S = 0), and empty results for L = 0 or an empty batch', () => {
    const q = randn([1, 2, 4], { requiresGrad: true });
    const out = sdpa(q, randn([1, 0, 4]), randn([1, 0, 3]), { isCausal: true });
    expect(out.arraySync()).toEqual([[[0, 0, 0], [0, 0, 0]]]);
    out.sum().backward();
    expect(Array.from(q.grad!.dataSync())).toEqual(new Array(8).fill(0));
    expect(sdpa(randn([1, 0, 4]), randn([1, 3, 4]), randn([1, 3, 3])).shape).toEqual([1, 0, 3]);
    expect(sdpa(randn([0, 2, 4]), randn([0, 3, 4]), randn([0, 3, 3])).shape).toEqual([0, 2, 3]);
  });
});

describe('scaledDotProductAttention refuses bad calls', () => {
  const q = zeros([2, 3, 4]), k = zeros([2, 5, 4]), v = zeros([2, 5, 6]);
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(TsgradError);
      return (e as Error).message;
    }
    throw new Error('no error');
  };

  it('names the shapes and what to do', () => {
    expect(err(() => sdpa(q, zeros([2, 5, 3]), v))).toMatch(/scaledDotProductAttention: query \[2,3,4\] and key \[2,5,3\] must share the last dim E \(4 vs 3\)/);
    expect(err(() => sdpa(q, k, zeros([2, 4, 6])))).toMatch(/must share the sequence length S/);
    expect(err(() => sdpa(q, zeros([3, 5, 4]), zeros([3, 5, 6])))).toMatch(/cannot be broadcast/);
    expect(err(() => sdpa(zeros([4]), zeros([4]), zeros([4])))).toMatch(/at least 2 dims/);
    expect(err(() => sdpa(q, k, v, { attnMask: ones([3, 5], { dtype: 'int32' }), isCausal: true }))).toMatch(/either attnMask or isCausal, not both/);
    expect(err(() => sdpa(q, k, v, { attnMask: ones([2, 2, 3, 5]) }))).toMatch(/attnMask of shape \[2,2,3,5\] does not broadcast to the attention scores' shape \[2,3,5\]/);
    expect(err(() => sdpa(q, k, v, { attnMask: ones([3, 5], { dtype: 'float64' }) }))).toMatch(/attnMask must be int32 \(true attends\) or float32/);
    expect(err(() => sdpa(q, k, v, { dropoutP: 1 }))).toMatch(/dropoutP must be in \[0, 1\), got number 1/);
    expect(err(() => sdpa(q, k, v, { scale: NaN }))).toMatch(/scale must be a finite number/);
    expect(err(() => sdpa(q, k.cast('float64'), v))).toMatch(/must share a float dtype, got float32, float64 and float32/);
    expect(err(() => sdpa(q, k, [1, 2] as unknown as Tensor))).toMatch(/expected a Tensor, got an array \(value\)/);
    expect(err(() => sdpa(q, k, v, { is_causal: true } as never))).toMatch(/unknown option is_causal; it takes attnMask, dropoutP, isCausal, scale, generator/);
  });
});
