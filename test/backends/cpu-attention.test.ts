// The cpu backend's fused attention (the SIMD kernel in float32, the JavaScript one for what it
// leaves) against PyTorch's scaled_dot_product_attention and against core's composed path, on
// the same inputs: outputs and first-order gradients, with masks, isCausal, dropout, broadcast
// and strided operands, rows that attend nowhere, and rows longer than a key tile.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { configureMatmulThreads } from '../../src/backends/cpu/threads.js';
import { WasmAttention, attentionModules } from '../../src/backends/cpu/wasm/attentionKernels.js';
import { Generator, type Tensor, backendStats, grad, manualSeed, nn, randn, resetStats, tensor } from '../../src/index.js';
import { expectClose, installComposedCpu } from '../fused.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const sdpa = nn.functional.scaledDotProductAttention;
const skip = hfUnavailable('the cpu fused attention against PyTorch');
const COMPOSED = installComposedCpu();

interface Case {
  name: string;
  q: number[]; k: number[]; v: number[];
  mask?: { shape: number[]; kind: 'bool' | 'float' };
  isCausal?: boolean;
  scale?: number;
  /** Query, key and value are views of one [B, T, 3, H, E] projection (as a GPT's), not contiguous. */
  strided?: boolean;
  /** The SIMD kernel runs it (E and Ev multiples of 4). */
  simd: boolean;
}

const cases: Case[] = [
  { name: 'GPT-like: causal, T = 70 (two key tiles)', q: [2, 2, 70, 8], k: [2, 2, 70, 8], v: [2, 2, 70, 8], isCausal: true, simd: true },
  { name: 'strided views of one qkv projection, causal', q: [2, 3, 9, 4], k: [2, 3, 9, 4], v: [2, 3, 9, 4], isCausal: true, strided: true, simd: true },
  { name: 'boolean mask [L, S] with rows that attend nowhere, S = 130', q: [2, 5, 4], k: [2, 130, 4], v: [2, 130, 8], mask: { shape: [5, 130], kind: 'bool' }, simd: true },
  { name: 'float mask [B, 1, L, S] with -inf entries and a -inf row', q: [2, 3, 4, 8], k: [2, 3, 6, 8], v: [2, 3, 6, 4], mask: { shape: [2, 1, 4, 6], kind: 'float' }, simd: true },
  { name: 'padding mask [B, 1, 1, S] (row stride 0)', q: [2, 2, 3, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], mask: { shape: [2, 1, 1, 5], kind: 'bool' }, simd: true },
  { name: 'broadcast batch dims, explicit scale', q: [2, 1, 4, 4], k: [1, 3, 6, 4], v: [3, 6, 8], scale: 0.3, simd: true },
  { name: 'isCausal with L > S', q: [2, 6, 4], k: [2, 3, 4], v: [2, 3, 4], isCausal: true, simd: true },
  { name: "GPT-2's head dim 64 beside a value dim of 12, causal, T = 37", q: [1, 2, 37, 64], k: [1, 2, 37, 64], v: [1, 2, 37, 12], isCausal: true, simd: true },
  { name: 'odd head dims (the JavaScript kernel)', q: [2, 2, 5, 3], k: [2, 2, 7, 3], v: [2, 2, 7, 5], isCausal: true, simd: false },
];

/** Mask values: row 1 hides every key; the rest follow a fixed pattern (floats with some -inf). */
function maskData(shape: number[], kind: 'bool' | 'float', seed: number): (number | null)[] {
  const [L, S] = shape.slice(-2) as [number, number];
  return Array.from({ length: shape.reduce((p, d) => p * d, 1) }, (_, i) => {
    const row = Math.floor(i / S) % L, h = Math.sin(i * 12.9898 + seed) * 43758.5453, r = h - Math.floor(h);
    if (kind === 'bool') return L > 1 && row === 1 ? 0 : Number(r > 0.3);
    return L > 1 && row === 1 ? null : r < 0.2 ? null : (r - 0.5) * 3;
  });
}

interface Inputs { q: number[]; k: number[]; v: number[]; w: number[]; mask: (number | null)[] | null; outShape: number[] }

/** float32 values (as float64 numbers), so PyTorch's float64 run sees the same inputs. */
function inputs(c: Case, i: number): Inputs {
  manualSeed(40 + i);
  const draw = (shape: number[]) => Array.from(randn(shape).dataSync());
  const out = sdpa(randn(c.q), randn(c.k), randn(c.v), { isCausal: c.isCausal, scale: c.scale });
  return { q: draw(c.q), k: draw(c.k), v: draw(c.v), w: draw([...out.shape]), mask: c.mask ? maskData(c.mask.shape, c.mask.kind, i) : null, outShape: [...out.shape] };
}

/** The case's operands on `backend`: leaves (or, strided, views of one leaf) that require grad. */
function operands(c: Case, x: Inputs, backend: string) {
  const leaf = (data: number[], shape: number[]) => tensor(data, { backend, requiresGrad: true }).reshape(shape).detach().requiresGrad_();
  let q: Tensor, k: Tensor, v: Tensor, leaves: Tensor[];
  if (c.strided) {
    // [B, T, 3, H, E] → three [B, H, T, E] views; the leaf's values are q, k, v interleaved.
    const [B, H, T, E] = c.q as [number, number, number, number];
    const data = new Array<number>(B * T * 3 * H * E);
    const idx = (b: number, t: number, w: number, h: number, e: number) => (((b * T + t) * 3 + w) * H + h) * E + e;
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) {
      const at = ((b * H + h) * T + t) * E + e;
      data[idx(b, t, 0, h, e)] = x.q[at]!;
      data[idx(b, t, 1, h, e)] = x.k[at]!;
      data[idx(b, t, 2, h, e)] = x.v[at]!;
    }
    const qkv = leaf(data, [B, T, 3, H, E]);
    [q, k, v] = qkv.chunk(3, 2).map((t) => t.squeeze(2).transpose(1, 2)) as [Tensor, Tensor, Tensor];
    leaves = [qkv];
  } else {
    [q, k, v] = [leaf(x.q, c.q), leaf(x.k, c.k), leaf(x.v, c.v)];
    leaves = [q, k, v];
  }
  const mask = c.mask && x.mask
    ? c.mask.kind === 'bool' ? tensor(x.mask as number[], { dtype: 'int32', backend }).reshape(c.mask.shape) : tensor(x.mask.map((m) => m ?? -Infinity), { backend }).reshape(c.mask.shape)
    : null;
  return { q, k, v, mask, leaves };
}

/** Output and gradients of sum(out · w) for q, k and v, flattened, on `backend`. */
function run(c: Case, x: Inputs, backend: string, dropoutP = 0): number[][] {
  const { q, k, v, mask } = operands(c, x, backend);
  const out = sdpa(q, k, v, { attnMask: mask, isCausal: c.isCausal, scale: c.scale, dropoutP, generator: new Generator().manualSeed(5) });
  const gs = grad(out.mul(tensor(x.w, { backend }).reshape(out.shape)).sum(), [q, k, v]);
  return [out, ...gs].map((t) => Array.from(t!.dataSync()));
}

const WHAT = ['output', 'dQ', 'dK', 'dV'];

describe('cpu fused attention', () => {
  const built = cases.map(inputs);
  afterEach(() => vi.restoreAllMocks());

  /** Runs `c` on the cpu backend, checking which kernels ran: the fused forward and backward, SIMD where the case says. */
  function fused(c: Case, x: Inputs, dropoutP = 0): number[][] {
    const fwd = vi.spyOn(WasmAttention.prototype, 'forward'), bwd = vi.spyOn(WasmAttention.prototype, 'backward');
    resetStats('cpu');
    const got = run(c, x, 'cpu', dropoutP);
    expect(backendStats('cpu').byOp.get('fused:attention')).toBe(1);
    expect(backendStats('cpu').byOp.get('fused:attentionBackward')).toBe(1);
    expect(fwd.mock.results.map((r) => r.value !== null)).toEqual([c.simd]);
    expect(bwd.mock.results.map((r) => r.value !== null)).toEqual([c.simd]);
    return got;
  }

  describe.skipIf(skip)('against PyTorch 2.13 (float64, on the same float32 inputs)', () => {
    let refs: { out: number[]; dq: number[]; dk: number[]; dv: number[] }[] = [];
    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tsgrad-fused-sdpa-'));
      try {
        const json = cases.map((c, i) => {
          const x = built[i]!;
          return {
            q: { shape: c.q, data: x.q }, k: { shape: c.k, data: x.k }, v: { shape: c.v, data: x.v }, w: { shape: x.outShape, data: x.w },
            isCausal: c.isCausal ?? false, scale: c.scale ?? null, ...(c.mask ? { mask: { ...c.mask, grad: false, data: x.mask } } : {}),
          };
        });
        writeFileSync(join(dir, 'cases.json'), JSON.stringify(json));
        refs = await runHfPython(join(import.meta.dirname, '../core/sdpa_reference.py'), [join(dir, 'cases.json')]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);

    cases.forEach((c, i) => {
      it(c.name, () => {
        const got = fused(c, built[i]!);
        const ref = refs[i]!;
        const want = [ref.out, ref.dq, ref.dk, ref.dv];
        got.forEach((g, j) => expectClose(g, want[j]!, 2e-5, WHAT[j]!));
      });
    });
  });

  cases.forEach((c, i) => {
    it(`${c.name}, with dropout: the composed path's values and gradients`, () => {
      const got = fused(c, built[i]!, 0.25);
      const want = run(c, built[i]!, COMPOSED, 0.25);
      got.forEach((g, j) => expectClose(g, want[j]!, 2e-5, WHAT[j]!));
    });
  });

  it('leaves second-order gradients to the composed backward (the fused one is first order)', () => {
    const c = cases[0]!, x = built[0]!;
    const second = (backend: string) => {
      const { q, k, v } = operands(c, x, backend);
      const out = sdpa(q, k, v, { isCausal: true });
      const [dq] = grad(out.mul(tensor(x.w, { backend }).reshape(out.shape)).sum(), [q], { createGraph: true });
      return Array.from(grad(dq!.pow(2).sum(), [k])[0]!.dataSync());
    };
    resetStats('cpu');
    const got = second('cpu');
    expect(backendStats('cpu').byOp.get('fused:attentionBackward')).toBeUndefined();
    expectClose(got, second(COMPOSED), 1e-4, 'd²');
  });

  it('compiles as modules under the 4 KiB a browser compiles synchronously on its main thread', () => {
    const modules = attentionModules({ maxPages: 1, shared: false });
    expect(modules).toHaveLength(2);
    for (const m of modules) expect(m.length).toBeLessThan(4096);
  });

  it('splits the batch entries between worker threads, with the same bits as one thread', () => {
    const c = cases[0]!, x = built[0]!;
    const before = configureMatmulThreads({ threads: 1 });
    try {
      const alone = fused(c, x, 0.25);
      configureMatmulThreads({ threads: 2, minWork: 1, minK: 1 });
      expect(fused(c, x, 0.25)).toEqual(alone);
    } finally {
      configureMatmulThreads(before);
    }
  });
});
