// Core's hook for a fused attention kernel: a CPU backend given a plain-loop kernel as
// `fused.attention` must get one call per forward, with broadcast views, and core's recorded
// backward must give the gradients (first and second order) of the composed path.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { installBackend } from '../../src/core/backend.js';
import {
  type FusedKernels, Generator, type Tensor, type TypedArray, type View, backendStats, grad, manualSeed, nn, randn, resetStats, tensor,
} from '../../src/index.js';

type AttentionArgs = Parameters<NonNullable<FusedKernels<TypedArray>['attention']>>[0];

/** The element of a strided view at a multi-index. */
const at = (v: View<TypedArray>, idx: number[]) => v.storage[v.offset + idx.reduce((o, i, d) => o + i * v.strides[d]!, 0)]!;

/** softmax(q·kᵀ·scale + mask)·v with dropout, in plain loops over the (already broadcast) views. */
function attentionLoops(backend: CpuBackend, a: AttentionArgs): { out: TypedArray; logsumexp: TypedArray } {
  const { query: q, key: k, value: v } = a;
  const batch = q.shape.slice(0, -2);
  const [L, E] = q.shape.slice(-2) as [number, number];
  const S = k.shape.at(-2)!, Ev = v.shape.at(-1)!;
  const nb = batch.reduce((p, d) => p * d, 1);
  const out = new Float64Array(nb * L * Ev), lse = new Float64Array(nb * L).fill(Infinity);
  for (let b = 0; b < nb; b++) {
    const bi = batch.map((_, d) => Math.floor(b / batch.slice(d + 1).reduce((p, x) => p * x, 1)) % batch[d]!);
    for (let i = 0; i < L; i++) {
      const s = Array.from({ length: S }, (_, j) => {
        const m = a.mask ? at(a.mask, [...bi, i, j]) : 0;
        if ((a.isCausal && j > i) || (a.mask?.dtype === 'int32' && m === 0)) return -Infinity;
        let dot = 0;
        for (let e = 0; e < E; e++) dot += at(q, [...bi, i, e]) * at(k, [...bi, j, e]);
        return dot * a.scale + (a.mask && a.mask.dtype !== 'int32' ? m : 0);
      });
      const top = Math.max(...s);
      if (top === -Infinity) continue;
      const w = s.map((x) => Math.exp(x - top));
      const z = w.reduce((p, x) => p + x, 0);
      lse[b * L + i] = top + Math.log(z);
      for (let c = 0; c < Ev; c++) {
        let o = 0;
        for (let j = 0; j < S; j++) o += (w[j]! / z) * (a.dropout ? at(a.dropout, [...bi, i, j]) : 1) * at(v, [...bi, j, c]);
        out[(b * L + i) * Ev + c] = o;
      }
    }
  }
  const typed = (x: Float64Array) => backend.upload(q.dtype === 'float64' ? x : Float32Array.from(x));
  return { out: typed(out), logsumexp: typed(lse) };
}

/** The CPU backend with an attention kernel and no other fused kernels. */
class AttentionCpu extends CpuBackend {
  calls: AttentionArgs[] = [];
  override readonly fused: FusedKernels<TypedArray> = {
    attention: (a) => {
      this.calls.push(a);
      return attentionLoops(this, a);
    },
  };
}

let fusedBackend: AttentionCpu;
const sdpa = nn.functional.scaledDotProductAttention;

/** Output, gradients and second-order gradients of one attention call on one backend. */
function derivatives(backend: string, opts: { mask?: number[][]; bool?: boolean; isCausal?: boolean; dropoutP?: number }) {
  manualSeed(11);
  const leaf = (shape: number[]) => tensor(Array.from(randn(shape, { dtype: 'float64' }).dataSync()), { dtype: 'float64', backend, requiresGrad: true }).reshape(shape);
  const q = leaf([2, 1, 3, 4]), k = leaf([1, 2, 5, 4]), v = leaf([2, 5, 3]);
  const mask = opts.mask ? tensor(opts.mask, { dtype: opts.bool ? 'int32' : 'float64', backend, requiresGrad: !opts.bool }) : null;
  const out = sdpa(q, k, v, { attnMask: mask, isCausal: opts.isCausal, dropoutP: opts.dropoutP, generator: new Generator().manualSeed(3) });
  const w = tensor(Array.from({ length: out.size }, (_, i) => Math.cos(i)), { dtype: 'float64', backend }).reshape(out.shape);
  const inputs: Tensor[] = [q, k, v, ...(mask?.requiresGrad ? [mask] : [])];
  const gs = grad(out.mul(w).sum(), inputs, { createGraph: true });
  const ggs = grad(gs.reduce<Tensor>((s, g) => s.add(g!.pow(2).sum()), tensor(0, { dtype: 'float64', backend })), inputs);
  return { op: out.gradFn?.op, values: [out, ...gs, ...ggs].map((t) => Array.from(t!.dataSync())) };
}

describe('fused attention hook', () => {
  beforeAll(() => {
    fusedBackend = new AttentionCpu();
    installBackend('cpu-fused-attention', fusedBackend);
  });

  const settings = {
    'no mask': {},
    'a boolean mask with a row that attends nowhere': { mask: [[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool: true },
    'a float mask that requires grad': { mask: [[0.5, -1, 0, 2, -Infinity], [0, 0, 1, 0, 0], [-2, 0.1, 0, 0, 3]] },
    'isCausal and dropout': { isCausal: true, dropoutP: 0.3 },
  };
  for (const [name, opts] of Object.entries(settings)) {
    it(`${name}: one kernel call per forward, and the composed path's values and gradients`, () => {
      fusedBackend.calls = [];
      resetStats('cpu-fused-attention');
      const fused = derivatives('cpu-fused-attention', opts);
      const composed = derivatives('cpu', opts);
      expect(fused.op).toBe('scaledDotProductAttention');
      // The forward runs the kernel; the backward recomputes the weights in tensor ops.
      expect(fusedBackend.calls.length).toBe(1);
      expect(backendStats('cpu-fused-attention').byOp.get('fused:attention')).toBe(1);
      const call = fusedBackend.calls[0]!;
      expect([call.query.shape, call.key.shape, call.value.shape]).toEqual([[2, 2, 3, 4], [2, 2, 5, 4], [2, 2, 5, 3]]);
      expect(call.dropout?.shape ?? null).toEqual('dropoutP' in opts ? [2, 2, 3, 5] : null);
      fused.values.forEach((vals, i) => vals.forEach((x, j) => {
        const want = composed.values[i]![j]!;
        if (!(Math.abs(x - want) <= 1e-10 * Math.max(1, Math.abs(want)))) expect.fail(`result ${i}[${j}]: fused ${x}, composed ${want}`);
      }));
    });
  }
});
