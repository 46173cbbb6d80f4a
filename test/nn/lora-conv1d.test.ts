// LoRA on Hugging Face's Conv1D (weight [in, out], PEFT's fan_in_fan_out): the wrapper's type and
// the base's weight and bias it exposes, outputs and gradients against float64 arithmetic, exact
// merge/unmerge in the transposed layout, mergeAndUnload, and frozen masking (kernel counts,
// memoryReport, optimizer state).
import { describe, expect, it } from 'vitest';
import {
  TsgradError, backendStats, manualSeed, memoryReport, nn, noGrad, optim, randn, resetStats, scope, type Tensor,
} from '../../src/index.js';

const F = nn.functional;
const arr = (t: Tensor) => Array.from(t.dataSync());

/** A LoRA-wrapped Conv1D(nf = out, nx = in) with random B and bias, so every path carries signal. */
function conv1dLoRA(inF: number, outF: number, opts: nn.LoRAOptions): nn.LoRALinear<nn.Conv1D> {
  const conv = new nn.Conv1D(outF, inF);
  noGrad(() => conv.bias.copy_(randn([outF])));
  const l = nn.LoRALinear.wrap(conv, opts);
  noGrad(() => l.loraB.copy_(randn(l.loraB.shape)));
  return l;
}

/** C = A·B for row-major A [n, k] and B [k, m], in float64. */
function matmul(a: number[], b: number[], n: number, k: number, m: number): number[] {
  const c = new Array<number>(n * m).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let t = 0; t < k; t++) c[i * m + j]! += a[i * k + t]! * b[t * m + j]!;
  return c;
}

/** Transpose of a row-major [n, m] matrix. */
function tr(a: number[], n: number, m: number): number[] {
  return Array.from({ length: n * m }, (_, k) => a[(k % n) * m + Math.floor(k / n)]!);
}

const expectClose = (got: number[], want: number[], tol: number) => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!), `at ${i}: ${v} vs ${want[i]}`).toBeLessThan(tol * (1 + Math.abs(want[i]!))));
};

class Attn extends nn.Module {
  c_attn = new nn.Conv1D(12, 4);
  c_proj = new nn.Conv1D(4, 4);
  forward(x: Tensor) { return this.c_proj.forward(this.c_attn.forward(x).chunk(3, -1)[0]!); }
}
class Block extends nn.Module {
  attn = new Attn();
  fc: nn.Linear = new nn.Linear(4, 4);
  forward(x: Tensor) { return this.fc.forward(this.attn.forward(x)); }
}

describe('LoRALinear over a Conv1D', () => {
  it('is typed by its base, exposes the frozen base weight and bias, and has A [r, in], B [out, r]', () => {
    manualSeed(0);
    const conv = new nn.Conv1D(12, 4);
    const l = nn.LoRALinear.wrap(conv, { rank: 2, alpha: 4 });
    const base: nn.Conv1D = l.base; // the type says what it wraps
    expect(base).toBe(conv);
    expect(base.nf).toBe(12);
    expect(l.weight).toBe(conv.weight);
    expect(l.bias).toBe(conv.bias);
    expect(l.weight.shape).toEqual([4, 12]);
    expect(l.fanInFanOut).toBe(true);
    expect([l.inFeatures, l.outFeatures]).toEqual([4, 12]);
    expect(l.loraA.shape).toEqual([2, 4]);
    expect(l.loraB.shape).toEqual([12, 2]);
    expect(conv.weight.requiresGrad || conv.bias.requiresGrad).toBe(false);
    // The getters add no parameters: each appears once, under the base's path.
    expect(l.namedParameters().map(([n]) => n)).toEqual(['loraA', 'loraB', 'base.weight', 'base.bias']);

    const lin = nn.LoRALinear.fromLinear(new nn.Linear(4, 6, { bias: false }), { rank: 2 });
    expect(lin.fanInFanOut).toBe(false);
    expect(lin.weight).toBe(lin.base.weight);
    expect(lin.bias).toBeNull();
    expect(() => nn.LoRALinear.wrap(new nn.ReLU() as unknown as nn.Linear)).toThrow(/expects an nn.Linear, nn.Conv1D or nn.QuantizedLinear, got ReLU/);
    expect(() => nn.LoRALinear.wrap(conv, { rank: 5 })).toThrow(/rank must be an integer in \[1, min\(in, out\) = 4\], got 5/);
  });

  it('after applyLoRA a field typed as its layer still reads that layer\'s weight and bias', () => {
    const block = new Block();
    const [w, b] = [block.fc.weight, block.attn.c_attn.weight];
    nn.applyLoRA(block, { targets: ['fc', 'c_attn'], rank: 2 });
    expect(block.fc).toBeInstanceOf(nn.LoRALinear);
    expect(block.fc.weight).toBe(w);
    expect(block.attn.c_attn.weight).toBe(b);
    expect(() => block.forward(randn([2, 5]))).toThrow(/LoRALinear: input \[2,5\] must end in the 4 input features of the Conv1D it wraps \(weight \[4,12\]\)/);
  });

  it('forward and gradients (x, A, B) match float64 arithmetic; W0 and b0 get none', () => {
    manualSeed(1);
    const [n, I, O, r] = [3, 5, 7, 2];
    const l = conv1dLoRA(I, O, { rank: r, alpha: 3 });
    const s = l.scaling;
    const x = randn([n, I], { requiresGrad: true });
    const g = randn([n, O]);
    const y = l.forward(x);
    scope(() => y.mul(g).sum().backward());
    const [X, G, A, B, W, b0] = [x, g, l.loraA, l.loraB, l.weight, l.bias].map(arr) as number[][];
    const h = matmul(X!, tr(A!, r, I), n, I, r); // x Aᵀ
    const yWant = matmul(X!, W!, n, I, O).map((v, k) => v + b0![k % O]! + s * matmul(h, tr(B!, O, r), n, r, O)[k]!);
    expectClose(arr(y), yWant, 1e-5);
    const gb = matmul(G!, B!, n, O, r); // G B
    expectClose(arr(l.loraB.grad!), matmul(tr(G!, n, O), h, O, n, r).map((v) => s * v), 1e-5);
    expectClose(arr(l.loraA.grad!), matmul(tr(gb, n, r), X!, r, n, I).map((v) => s * v), 1e-5);
    const dx = matmul(G!, tr(W!, I, O), n, O, I).map((v, k) => v + s * matmul(gb, A!, n, r, I)[k]!);
    expectClose(arr(x.grad!), dx, 1e-5);
    expect(l.weight.grad).toBeNull();
    expect(l.bias.grad).toBeNull();
  });

  it('merge adds (scaling·B·A)ᵀ to the [in, out] weight; unmerge restores it within the reported drift', () => {
    manualSeed(2);
    const [I, O, r] = [6, 9, 3];
    for (const useRsLoRA of [false, true]) {
      const l = conv1dLoRA(I, O, { rank: r, alpha: 5, useRsLoRA });
      const x = randn([4, I]);
      const w0 = arr(l.weight);
      const unmerged = arr(noGrad(() => l.forward(x)));
      l.merge().merge(); // merging twice adds once
      const delta = tr(matmul(arr(l.loraB), arr(l.loraA), O, r, I), O, I).map((v) => l.scaling * v);
      expectClose(arr(l.weight), w0.map((v, k) => v + delta[k]!), 1e-6);
      expectClose(arr(noGrad(() => l.forward(x))), unmerged, 1e-5);
      const { maxDrift } = l.unmerge();
      const drift = Math.max(0, ...arr(l.weight).map((v, i) => Math.abs(v - w0[i]!)));
      expect(maxDrift).toBe(drift);
      expect(drift).toBeLessThan(1e-6);
    }
  });

  it('nn.mergeAndUnload puts merged Conv1D and Linear layers back under the base model\'s names', () => {
    manualSeed(3);
    const block = new Block();
    const names = Object.keys(block.stateDict());
    nn.applyLoRA(block, { targets: ['c_attn', 'fc'], rank: 2, alpha: 4 });
    noGrad(() => { for (const m of block.modules()) if (m instanceof nn.LoRALinear) m.loraB.copy_(randn(m.loraB.shape)); });
    const x = randn([3, 4]);
    const before = arr(noGrad(() => block.forward(x)));
    expect(nn.mergeAndUnload(block)).toEqual(['attn.c_attn', 'fc']);
    expect(block.attn.c_attn).toBeInstanceOf(nn.Conv1D);
    expect(block.fc).toBeInstanceOf(nn.Linear);
    expect(Object.keys(block.stateDict())).toEqual(names);
    expectClose(arr(noGrad(() => block.forward(x))), before, 1e-5);
    expect(() => nn.mergeAndUnload(nn.LoRALinear.wrap(new nn.Conv1D(4, 4)))).toThrow(TsgradError);
  });
});

describe('frozen masking of a Conv1D at GPT-2 c_attn shape (64 → 192), rank 4', () => {
  it('backward runs no dW0 matmul: 3 matmuls with W0 frozen, 4 when it trains', () => {
    manualSeed(4);
    const l = conv1dLoRA(64, 192, { rank: 4 });
    const x = randn([16, 64]), target = randn([16, 192]);
    const countBackwardMatmuls = () => scope(() => {
      const loss = F.mseLoss(l.forward(x), target);
      resetStats();
      loss.backward();
      return backendStats().byOp.get('matmul') ?? 0;
    });
    resetStats();
    scope(() => l.forward(x));
    expect(backendStats().byOp.get('matmul')).toBe(3); // x·W0, x·Aᵀ, (·)·Bᵀ
    expect(countBackwardMatmuls()).toBe(3); // dB, d(xAᵀ), dA
    expect(l.weight.grad).toBeNull();
    expect(l.bias.grad).toBeNull();
    l.weight.requiresGrad = true;
    expect(countBackwardMatmuls()).toBe(4); // + dW0
    expect(l.weight.grad!.shape).toEqual([64, 192]);
  });

  it('Adam keeps gradients and state for A and B only; W0 and b0 stay bit-identical', () => {
    manualSeed(5);
    const l = nn.LoRALinear.wrap(new nn.Conv1D(192, 64), { rank: 4 });
    const opt = new optim.Adam(l.parameters(), { lr: 1e-2 });
    const x = randn([16, 64]), target = randn([16, 192]);
    const w0 = arr(l.weight), b0 = arr(l.bias);
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) {
      scope(() => {
        const loss = F.mseLoss(l.forward(x), target);
        loss.backward();
        losses.push(loss.itemSync());
        opt.step();
      });
    }
    expect(losses[3]).toBeLessThan(losses[0]!);
    expect(arr(l.weight)).toEqual(w0);
    expect(arr(l.bias)).toEqual(b0);
    const adapter = 4 * 64 + 192 * 4;
    const r = memoryReport(l, opt);
    expect(r.gradients.bytes + r.optimizerState.bytes).toBe(3 * adapter * 4);
    expect(r.trainableParams.bytes).toBe(adapter * 4);
    expect(r.frozenParams.bytes).toBe((64 * 192 + 192) * 4);
    expect(opt.stateOf(l.weight)).toBeUndefined();
    expect(opt.stateOf(l.bias)).toBeUndefined();
  });
});
