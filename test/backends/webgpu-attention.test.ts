// The webgpu backend's fused attention (WGSL forward and backward) against core's composed path
// on the cpu backend, on the same float32 inputs and dropout masks, through the register kernels
// (heads of 4…64 columns in steps of 4) and the general ones: outputs and first-order gradients
// with masks, isCausal, dropout, broadcast and strided operands, rows that attend nowhere, rows
// longer than a key tile and heads wider than a kernel's column pass; dK and dV come from one
// kernel, or from two where a mask and dropout leave too few bindings (the masked cases with
// dropout); second order goes through the composed backward.
import { describe, expect, it } from 'vitest';
import { Generator, type Tensor, backendStats, grad, manualSeed, nn, randn, resetStats, tensor } from '../../src/index.js';
import { pipelines } from './support/webgpuPipelines.js';
import { backendBeforeAll } from '../backendAvailable.js';
import { expectClose, installComposedCpu } from '../fused.js';

const sdpa = nn.functional.scaledDotProductAttention;

const COMPOSED = installComposedCpu();


interface Case {
  name: string;
  q: number[]; k: number[]; v: number[];
  mask?: { shape: number[]; kind: 'bool' | 'float' };
  isCausal?: boolean;
  scale?: number;
  /** Query, key and value are transposed views of one [B, T, 3, H, E] projection. */
  strided?: boolean;
  /** Run with dropout too. */
  dropout?: boolean;
  /** The forward's register kernel (wgsl/attentionRegisters.ts) runs: heads of 4…64 columns, a multiple of 4. */
  registers?: boolean;
}

const cases: Case[] = [
  { name: 'GPT-like: causal, T = 40 (two key tiles), heads of 6', q: [2, 2, 40, 6], k: [2, 2, 40, 6], v: [2, 2, 40, 6], isCausal: true },
  { name: 'strided views of one qkv projection, causal', q: [2, 3, 9, 4], k: [2, 3, 9, 4], v: [2, 3, 9, 4], isCausal: true, strided: true, registers: true },
  { name: 'boolean mask [L, S] with rows that attend nowhere', q: [2, 5, 3], k: [2, 37, 3], v: [2, 37, 5], mask: { shape: [5, 37], kind: 'bool' } },
  { name: 'float mask [B, 1, L, S] with -inf entries and a -inf row', q: [2, 3, 4, 5], k: [2, 3, 6, 5], v: [2, 3, 6, 2], mask: { shape: [2, 1, 4, 6], kind: 'float' } },
  { name: 'padding mask [B, 1, 1, S] (row stride 0)', q: [2, 2, 3, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], mask: { shape: [2, 1, 1, 5], kind: 'bool' }, registers: true },
  { name: 'broadcast batch dims, explicit scale', q: [2, 1, 4, 5], k: [1, 3, 6, 5], v: [3, 6, 7], scale: 0.3 },
  { name: 'isCausal with L > S', q: [2, 6, 4], k: [2, 3, 4], v: [2, 3, 5], isCausal: true },
  { name: 'heads wider than one 64-column pass (E = 70, Ev = 130)', q: [2, 5, 70], k: [2, 6, 70], v: [2, 6, 130], isCausal: true },
  { name: 'registers: GPT-2 heads of 64, causal, T = 70 (a partial key tile)', q: [1, 2, 70, 64], k: [1, 2, 70, 64], v: [1, 2, 70, 64], isCausal: true, registers: true },
  { name: 'registers: four rows an invocation (Ev = 32), causal, T = 11', q: [2, 2, 11, 20], k: [2, 2, 11, 20], v: [2, 2, 11, 32], isCausal: true, dropout: true, registers: true },
  { name: 'registers: boolean mask [L, S] with rows that attend nowhere', q: [2, 5, 8], k: [2, 37, 8], v: [2, 37, 4], mask: { shape: [5, 37], kind: 'bool' }, dropout: true, registers: true },
  { name: 'registers: float mask [B, 1, L, S] with -inf entries and a -inf row', q: [2, 3, 4, 4], k: [2, 3, 6, 4], v: [2, 3, 6, 12], mask: { shape: [2, 1, 4, 6], kind: 'float' }, dropout: true, registers: true },
  { name: 'registers: broadcast batch dims, isCausal with L > S', q: [2, 1, 6, 4], k: [1, 3, 3, 4], v: [3, 3, 4], isCausal: true, scale: 0.3, registers: true },
];

/** Row 1 hides every key; the rest follow a fixed pattern (floats with some -inf). */
function maskData(shape: number[], kind: 'bool' | 'float'): number[] {
  const [L, S] = shape.slice(-2) as [number, number];
  return Array.from({ length: shape.reduce((p, d) => p * d, 1) }, (_, i) => {
    const row = Math.floor(i / S) % L, h = Math.sin(i * 12.9898) * 43758.5453, r = h - Math.floor(h);
    if (kind === 'bool') return L > 1 && row === 1 ? 0 : Number(r > 0.3);
    return (L > 1 && row === 1) || r < 0.2 ? -Infinity : (r - 0.5) * 3;
  });
}

/** Output and gradients of sum(out · w) for q, k and v on `backend`, with dropout p. */
async function run(c: Case, backend: string, p: number, data: number[][]): Promise<number[][]> {
  const leaf = (d: number[], shape: number[]) => tensor(d.slice(0, shape.reduce((a, b) => a * b, 1)), { backend, requiresGrad: true }).reshape(shape).detach().requiresGrad_();
  let q: Tensor, k: Tensor, v: Tensor;
  if (c.strided) {
    const [B, H, T, E] = c.q as [number, number, number, number];
    [q, k, v] = leaf(data[0]!, [B, T, 3, H, E]).chunk(3, 2).map((t) => t.squeeze(2).transpose(1, 2)) as [Tensor, Tensor, Tensor];
  } else {
    [q, k, v] = [leaf(data[0]!, c.q), leaf(data[1]!, c.k), leaf(data[2]!, c.v)];
  }
  const mask = c.mask ? tensor(maskData(c.mask.shape, c.mask.kind), { backend, dtype: c.mask.kind === 'bool' ? 'int32' : 'float32' }).reshape(c.mask.shape) : null;
  const out = sdpa(q, k, v, { attnMask: mask, isCausal: c.isCausal, scale: c.scale, dropoutP: p, generator: new Generator().manualSeed(9) });
  const gs = grad(out.mul(tensor(data[3]!.slice(0, out.size), { backend }).reshape(out.shape)).sum(), [q, k, v]);
  return Promise.all([out, ...gs].map(async (t) => Array.from(await t!.data())));
}

describe('webgpu fused attention', () => {
  const available = backendBeforeAll('webgpu', 'fused attention tests');

  for (const [n, c] of cases.entries()) {
    // Dropout on the first cases only: each combination compiles its own pipelines.
    for (const p of n < 4 || c.dropout ? [0, 0.25] : [0]) {
      it(`${c.name}${p ? ', with dropout' : ''}`, async (t) => {
        if (!available()) return t.skip();
        manualSeed(7);
        const n = Math.max(...[c.q, c.k, c.v].map((s) => s.reduce((a, b) => a * b, 1))) * 3;
        const data = [0, 1, 2, 3].map(() => Array.from(randn([n]).dataSync()));
        resetStats('webgpu');
        const got = await run(c, 'webgpu', p, data);
        expect(backendStats('webgpu').byOp.get('fused:attention')).toBe(1);
        expect(backendStats('webgpu').byOp.get('fused:attentionBackward')).toBe(1);
        const [E, Ev] = [c.q.at(-1)!, c.v.at(-1)!];
        const mask = !c.mask ? 'none' : c.mask.kind === 'bool' ? 'int' : 'float';
        expect(pipelines().has(`attention-registers-forward|${c.q.length - 2}|${mask}|${p > 0}|${E}|${Ev}`)).toBe(c.registers === true);
        const want = await run(c, COMPOSED, p, data);
        got.forEach((g, i) => expectClose(g, want[i]!, 1e-4, ['output', 'dQ', 'dK', 'dV'][i]!));
      });
    }
  }

  it('leaves second-order gradients to the composed backward', async (t) => {
    if (!available()) return t.skip();
    manualSeed(8);
    const data = [0, 1, 2, 3].map(() => Array.from(randn([2 * 6 * 4]).dataSync()));
    const second = async (backend: string) => {
      const [q, k, v, w] = data.map((d) => tensor(d, { backend, requiresGrad: true }).reshape([2, 6, 4]).detach().requiresGrad_()) as [Tensor, Tensor, Tensor, Tensor];
      // The output's gradient w does not depend on the output, so no first-order backward of attention is left.
      const [dq] = grad(sdpa(q, k, v, { isCausal: true }).mul(w.detach()).sum(), [q], { createGraph: true });
      return Array.from(await grad(dq!.pow(2).sum(), [k])[0]!.data());
    };
    resetStats('webgpu');
    const got = await second('webgpu');
    expect(backendStats('webgpu').byOp.get('fused:attentionBackward')).toBeUndefined();
    expectClose(got, await second(COMPOSED), 1e-4, 'd²');
  });
});
