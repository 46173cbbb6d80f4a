// LoRALinear: construction, validation, gradients against finite differences and hand-worked
// arithmetic, frozen masking (kernel counts), merge semantics.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TsgradError, backendStats, gradcheck, manualSeed, nn, noGrad, optim, randn, resetStats, scope, type Tensor,
} from '../../src/index.js';

const F = nn.functional;

/** A LoRALinear with a random (nonzero) B, so every path carries signal. */
function randomLoRA(inF: number, outF: number, opts: nn.LoRAOptions): nn.LoRALinear {
  const l = new nn.LoRALinear(inF, outF, opts);
  noGrad(() => l.loraB.copy_(randn(l.loraB.shape)));
  return l;
}

const arr = (t: Tensor) => Array.from(t.dataSync());

const sizes = fc.record({
  inF: fc.integer({ min: 1, max: 6 }),
  outF: fc.integer({ min: 1, max: 6 }),
  batch: fc.integer({ min: 1, max: 4 }),
  rankFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  alpha: fc.double({ min: 0.1, max: 32, noNaN: true }),
  rs: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});
const rankOf = (s: { inF: number; outF: number; rankFrac: number }) => 1 + Math.floor(s.rankFrac * (Math.min(s.inF, s.outF) - 1));

describe('LoRALinear construction', () => {
  it('has frozen base, A [rank, in] in ±1/√in, B [out, rank] zeros, scaling alpha/rank', () => {
    manualSeed(0);
    const l = new nn.LoRALinear(64, 32, { rank: 4, alpha: 16 });
    expect(l.loraA.shape).toEqual([4, 64]);
    expect(l.loraB.shape).toEqual([32, 4]);
    expect(l.base.weight.shape).toEqual([32, 64]);
    expect(l.base.weight.requiresGrad).toBe(false);
    expect(l.base.bias!.requiresGrad).toBe(false);
    expect(l.loraA.requiresGrad && l.loraB.requiresGrad).toBe(true);
    expect(arr(l.loraB).every((v) => v === 0)).toBe(true);
    const a = arr(l.loraA);
    expect(a.every((v) => Math.abs(v) <= 1 / 8)).toBe(true);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.1);
    expect(l.scaling).toBe(4);
    expect(new nn.LoRALinear(64, 32, { rank: 4, alpha: 16, useRsLoRA: true }).scaling).toBe(8);
    expect(new nn.LoRALinear(8, 8, { rank: 2, bias: false }).base.bias).toBeNull();
    expect(l.namedParameters().map(([n]) => n)).toEqual(['loraA', 'loraB', 'base.weight', 'base.bias']);
  });

  it("init: 'gaussian' draws A with standard deviation 1/rank", () => {
    manualSeed(5);
    const a = arr(new nn.LoRALinear(1024, 8, { rank: 4, init: 'gaussian' }).loraA);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(sd).toBeGreaterThan(0.25 * 0.95);
    expect(sd).toBeLessThan(0.25 * 1.05);
  });

  it('rejects bad rank, alpha, dropout and init with TsgradErrors', () => {
    const bad: [nn.LoRAOptions, RegExp][] = [
      [{ rank: 0 }, /rank must be an integer in \[1, min\(in, out\) = 4\], got 0/],
      [{ rank: 5 }, /got 5/],
      [{ rank: 1.5 }, /got 1.5/],
      [{ rank: 2, alpha: 0 }, /alpha must be a number > 0, got 0/],
      [{ rank: 2, alpha: -1 }, /alpha must be a number > 0/],
      [{ rank: 2, dropout: 1 }, /dropout must be a number in \[0, 1\), got 1/],
      [{ rank: 2, dropout: -0.1 }, /dropout/],
      [{ rank: 2, init: 'xavier' as 'kaiming' }, /init must be/],
      // Strings that look like numbers are refused, not coerced.
      [{ rank: 2, dropout: '0.1' as unknown as number }, /dropout must be a number in \[0, 1\), got string '0.1'/],
      [{ rank: 2, alpha: '16' as unknown as number }, /alpha must be a number > 0, got string '16'/],
      [{ rank: 2, useRsLoRA: 'yes' as unknown as boolean }, /useRsLoRA must be true or false, got string 'yes'/],
      [null as unknown as nn.LoRAOptions, /options must be an object/],
    ];
    for (const [opts, msg] of bad) {
      expect(() => new nn.LoRALinear(4, 6, opts)).toThrow(TsgradError);
      expect(() => new nn.LoRALinear(4, 6, opts)).toThrow(msg);
    }
    expect(() => nn.LoRALinear.fromLinear(new nn.Linear(4, 6), { rank: 9 })).toThrow(/rank/);
    expect(() => nn.LoRALinear.fromLinear(new nn.ReLU() as unknown as nn.Linear)).toThrow(/expects an nn.Linear, got ReLU/);
  });

  it('fromLinear shares and freezes the existing weights', () => {
    const fcl = new nn.Linear(6, 3);
    const l = nn.LoRALinear.fromLinear(fcl, { rank: 2 });
    expect(l.base).toBe(fcl);
    expect(l.base.weight).toBe(fcl.weight);
    expect(fcl.weight.requiresGrad).toBe(false);
    expect(l.loraA.shape).toEqual([2, 6]);
    expect(l.loraB.shape).toEqual([3, 2]);
  });
});

describe('LoRALinear gradients and outputs (property tests)', () => {
  it('gradcheck passes for x, A and B through the layer function, at random sizes, ranks and scalings', () => {
    fc.assert(
      fc.property(sizes, (s) => {
        manualSeed(s.seed);
        const l = randomLoRA(s.inF, s.outF, { rank: rankOf(s), alpha: s.alpha, useRsLoRA: s.rs });
        const w = l.base.weight.cast('float64'), b = l.base.bias!.cast('float64');
        const x = randn([s.batch, s.inF]);
        const r = gradcheck((xx, a, bb) => F.loraLinear(xx, w, b, a, bb, l.scaling), [x, l.loraA, l.loraB], { atol: 1e-6, rtol: 1e-4 });
        expect(r.ok).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it("the module's gradients match hand-worked arithmetic, and W0/b0 receive none", () => {
    fc.assert(
      fc.property(sizes, (s) => {
        manualSeed(s.seed);
        const l = randomLoRA(s.inF, s.outF, { rank: rankOf(s), alpha: s.alpha, useRsLoRA: s.rs });
        const r = l.rank, n = s.batch, I = s.inF, O = s.outF, sc = l.scaling;
        const x = randn([n, I], { requiresGrad: true });
        const g = randn([n, O]);
        scope(() => l.forward(x).mul(g).sum().backward());
        expect(l.base.weight.grad).toBeNull();
        expect(l.base.bias!.grad).toBeNull();
        const [X, G, A, B, W] = [x, g, l.loraA, l.loraB, l.base.weight].map(arr) as number[][];
        // h = x Aᵀ [n, r]; dB = sc·Gᵀh; dA = sc·(G B)ᵀ x; dx = G W + sc·(G B) A
        const h = Array.from({ length: n * r }, (_, k) => { let t = 0; for (let i = 0; i < I; i++) t += X![Math.floor(k / r) * I + i]! * A![(k % r) * I + i]!; return t; });
        const gb = Array.from({ length: n * r }, (_, k) => { let t = 0; for (let o = 0; o < O; o++) t += G![Math.floor(k / r) * O + o]! * B![o * r + (k % r)]!; return t; });
        const close = (got: number[], want: (k: number) => number) => got.forEach((v, k) => expect(v).toBeCloseTo(want(k), 3));
        close(arr(l.loraB.grad!), (k) => { let t = 0; for (let m = 0; m < n; m++) t += G![m * O + Math.floor(k / r)]! * h[m * r + (k % r)]!; return sc * t; });
        close(arr(l.loraA.grad!), (k) => { let t = 0; for (let m = 0; m < n; m++) t += gb[m * r + Math.floor(k / I)]! * X![m * I + (k % I)]!; return sc * t; });
        close(arr(x.grad!), (k) => {
          const m = Math.floor(k / I), i = k % I;
          let t = 0;
          for (let o = 0; o < O; o++) t += G![m * O + o]! * W![o * I + i]!;
          for (let j = 0; j < r; j++) t += sc * gb[m * r + j]! * A![j * I + i]!;
          return t;
        });
      }),
      { numRuns: 30 },
    );
  });

  it('merged and unmerged outputs agree; unmerge restores W0 up to exactly the reported drift', () => {
    fc.assert(
      fc.property(sizes, (s) => {
        manualSeed(s.seed);
        const l = randomLoRA(s.inF, s.outF, { rank: rankOf(s), alpha: s.alpha, useRsLoRA: s.rs });
        const x = randn([s.batch, s.inF]);
        const w0 = arr(l.base.weight);
        const unmerged = arr(noGrad(() => l.forward(x)));
        l.merge();
        expect(l.isMerged).toBe(true);
        const merged = arr(noGrad(() => l.forward(x)));
        const scale = Math.max(1, ...unmerged.map(Math.abs));
        merged.forEach((v, i) => expect(Math.abs(v - unmerged[i]!)).toBeLessThan(1e-5 * scale * (1 + s.alpha)));
        const { maxDrift } = l.unmerge();
        expect(l.isMerged).toBe(false);
        const drift = Math.max(0, ...arr(l.base.weight).map((v, i) => Math.abs(v - w0[i]!)));
        expect(maxDrift).toBe(drift);
        expect(drift).toBeLessThan(1e-5 * (1 + s.alpha));
      }),
      { numRuns: 30 },
    );
  });

  it('with B = 0 the output equals the base layer exactly and dL/dA is zero on the first step', () => {
    fc.assert(
      fc.property(sizes, (s) => {
        manualSeed(s.seed);
        const l = new nn.LoRALinear(s.inF, s.outF, { rank: rankOf(s), alpha: s.alpha, useRsLoRA: s.rs });
        const x = randn([s.batch, s.inF]);
        const y = l.forward(x);
        expect(arr(y)).toEqual(arr(l.base.forward(x)));
        y.mul(randn(y.shape)).sum().backward();
        expect(arr(l.loraA.grad!).every((v) => v === 0)).toBe(true);
        expect(arr(l.loraB.grad!).some((v) => v !== 0)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});

describe('LoRALinear merge semantics', () => {
  it('merging twice adds once; eval() does not merge; unmerge when unmerged is a no-op', () => {
    manualSeed(2);
    const l = randomLoRA(8, 5, { rank: 2, alpha: 4 });
    const w0 = arr(l.base.weight);
    l.eval();
    expect(l.isMerged).toBe(false);
    expect(arr(l.base.weight)).toEqual(w0);
    l.merge();
    const once = arr(l.base.weight);
    expect(once).not.toEqual(w0);
    l.merge();
    expect(arr(l.base.weight)).toEqual(once);
    l.unmerge();
    expect(l.unmerge()).toEqual({ maxDrift: 0 });
  });

  it('unmerge subtracts what merge added even if A or B changed while merged', () => {
    manualSeed(4);
    const l = randomLoRA(6, 6, { rank: 3 });
    const w0 = arr(l.base.weight);
    l.merge();
    noGrad(() => l.loraB.copy_(randn([6, 3])));
    const { maxDrift } = l.unmerge();
    arr(l.base.weight).forEach((v, i) => expect(Math.abs(v - w0[i]!)).toBeLessThanOrEqual(maxDrift!));
  });

  it('backward through a merged layer is a clear error; inference under noGrad works', () => {
    const l = randomLoRA(4, 3, { rank: 2 });
    const x = randn([2, 4]);
    l.merge();
    const y = l.forward(x);
    expect(() => y.sum().backward()).toThrow(TsgradError);
    expect(() => l.forward(x).sum().backward()).toThrow(/merged .* call unmerge\(\) before training/);
    expect(noGrad(() => l.forward(x)).requiresGrad).toBe(false);
    l.unmerge();
    l.forward(x).sum().backward();
    expect(l.loraA.grad).not.toBeNull();
  });

  it('stateDict and loadStateDict are refused while merged, so the update is never applied twice', () => {
    const l = randomLoRA(4, 3, { rank: 2 });
    const sd = l.stateDict();
    const model = new nn.Sequential(l);
    l.merge();
    expect(() => l.loadStateDict(sd)).toThrow(/loadStateDict: LoRALinear '\(root\)' is merged .* call unmerge\(\) first/);
    expect(() => model.stateDict()).toThrow(/stateDict: LoRALinear '0' is merged/);
    l.unmerge();
    expect(Object.keys(model.stateDict())).toEqual(['0.loraA', '0.loraB', '0.base.weight', '0.base.bias']);
  });

  it('dropout applies to the adapter input only, in training mode', () => {
    manualSeed(8);
    const l = randomLoRA(10, 4, { rank: 2, dropout: 0.5 });
    const x = randn([3, 10]);
    manualSeed(11);
    const y = arr(noGrad(() => l.forward(x)));
    manualSeed(11);
    const h = F.dropout(x, 0.5, true);
    const want = arr(noGrad(() => l.base.forward(x).add(h.matmul(l.loraA.transpose(0, 1)).mul(l.scaling).matmul(l.loraB.transpose(0, 1)))));
    y.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    l.eval();
    const plain = arr(noGrad(() => F.loraLinear(x, l.base.weight, l.base.bias, l.loraA, l.loraB, l.scaling)));
    expect(arr(noGrad(() => l.forward(x)))).toEqual(plain);
  });
});

describe('frozen masking at 768×768, rank 4', () => {
  it('backward runs no dW0 matmul: 3 matmuls with W0 frozen, 4 when it trains', () => {
    manualSeed(0);
    const l = randomLoRA(768, 768, { rank: 4 });
    const x = randn([64, 768]), target = randn([64, 768]);
    const countBackwardMatmuls = () => scope(() => {
      const loss = F.mseLoss(l.forward(x), target);
      resetStats();
      loss.backward();
      return backendStats().byOp.get('matmul') ?? 0;
    });
    resetStats();
    scope(() => l.forward(x));
    // x·W0ᵀ, x·Aᵀ, (·)·Bᵀ: the unmerged forward never forms B·A.
    expect(backendStats().byOp.get('matmul')).toBe(3);
    expect(countBackwardMatmuls()).toBe(3); // dB, d(xAᵀ), dA
    expect(l.base.weight.grad).toBeNull();
    expect(l.base.bias!.grad).toBeNull();
    l.base.weight.requiresGrad = true;
    expect(countBackwardMatmuls()).toBe(4); // + dW0
    expect(l.base.weight.grad!.shape).toEqual([768, 768]);
  });

  it('Adam trains only A and B: W0 bit-identical after N steps, state is exactly 2 × 6,144 numbers', () => {
    manualSeed(1);
    const l = new nn.LoRALinear(768, 768, { rank: 4 });
    const opt = new optim.Adam(l.parameters(), { lr: 1e-2 });
    const x = randn([16, 768]), target = randn([16, 768]);
    const w0 = l.base.weight.dataSync().slice(), b0 = l.base.bias!.dataSync().slice();
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) {
      scope(() => {
        const loss = F.mseLoss(l.forward(x), target);
        loss.backward();
        losses.push(loss.itemSync());
        opt.step();
        opt.zeroGrad();
      });
    }
    expect(losses[3]).toBeLessThan(losses[0]!);
    expect(l.base.weight.dataSync()).toEqual(w0);
    expect(l.base.bias!.dataSync()).toEqual(b0);
    expect(l.base.weight.grad).toBeNull();
    expect(opt.stateOf(l.base.weight)).toBeUndefined();
    expect(opt.stateOf(l.base.bias!)).toBeUndefined();
    expect(opt.stateTensors().reduce((n, t) => n + t.size, 0)).toBe(2 * 6144);
    expect(opt.stateOf(l.loraA)!.step).toBe(4);
  });
});
