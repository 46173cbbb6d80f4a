// Optimizers against hand-worked PyTorch update formulas, computed here in plain JS.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { type View, installBackend } from '../../src/core/backend.js';
import type { TypedArray } from '../../src/core/dtype.js';
import { TsgradError, backendStats, nn, optim, resetStats, tensor, type Tensor } from '../../src/index.js';

const f64 = (v: number[]) => tensor(v, { dtype: 'float64', requiresGrad: true });
const arr = (t: Tensor) => Array.from(t.dataSync());
const GRADS = [[0.5, -1, 2], [0.1, 0.3, -0.7], [-2, 0.25, 1]];
const P0 = [1, -2, 0.5];

/** Runs `steps` updates with the fixed gradients GRADS. */
function run(make: (p: Tensor) => optim.Optimizer<object>, steps = 3): number[] {
  const p = f64(P0);
  const opt = make(p);
  for (let t = 0; t < steps; t++) {
    p.grad = tensor(GRADS[t]!, { dtype: 'float64' });
    opt.step();
  }
  return arr(p);
}

function expectClose(got: number[], want: number[], digits = 12): void {
  expect(got).toHaveLength(want.length);
  got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, digits));
}

/** PyTorch's SGD, element by element. */
function refSGD(o: { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }, steps = 3): number[] {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = o;
  return P0.map((p0, i) => {
    let p = p0, buf = 0;
    for (let t = 0; t < steps; t++) {
      let d = GRADS[t]![i]! + weightDecay * p;
      if (momentum) {
        buf = t === 0 ? d : momentum * buf + (1 - dampening) * d;
        d = nesterov ? d + momentum * buf : buf;
      }
      p -= lr * d;
    }
    return p;
  });
}

/** PyTorch's Adam / AdamW, element by element. */
function refAdam(o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean }, steps = 3): number[] {
  return P0.map((p0, i) => {
    let p = p0, m = 0, v = 0;
    for (let t = 1; t <= steps; t++) {
      let g = GRADS[t - 1]![i]!;
      if (o.decoupled) p *= 1 - o.lr * o.wd;
      else g += o.wd * p;
      m = o.b1 * m + (1 - o.b1) * g;
      v = o.b2 * v + (1 - o.b2) * g * g;
      const bc1 = 1 - o.b1 ** t, bc2 = 1 - o.b2 ** t;
      p -= (o.lr / bc1) * (m / (Math.sqrt(v) / Math.sqrt(bc2) + o.eps));
    }
    return p;
  });
}

describe('optim.SGD', () => {
  it('plain, momentum, dampening, nesterov and weight decay match the reference', () => {
    const cases = [
      { lr: 0.1 },
      { lr: 0.1, momentum: 0.9 },
      { lr: 0.05, momentum: 0.8, dampening: 0.3 },
      { lr: 0.1, momentum: 0.9, nesterov: true },
      { lr: 0.1, momentum: 0.5, weightDecay: 0.2 },
    ];
    for (const c of cases) expectClose(run((p) => new optim.SGD([p], c)), refSGD(c));
    // One step by hand: p − lr·g.
    expectClose(run((p) => new optim.SGD([p], { lr: 0.1 }), 1), [0.95, -1.9, 0.3]);
  });

  it('rejects nesterov without momentum and negative hyperparameters', () => {
    expect(() => new optim.SGD([f64([1])], { nesterov: true })).toThrow(/nesterov needs momentum > 0/);
    expect(() => new optim.SGD([f64([1])], { lr: -1 })).toThrow(/lr must be ≥ 0, got -1/);
  });
});

describe('optim.Adam / AdamW', () => {
  const base = { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8 };
  it('Adam with bias correction matches the reference (and one step moves each weight by lr)', () => {
    expectClose(run((p) => new optim.Adam([p], { lr: 0.01 })), refAdam({ ...base, wd: 0, decoupled: false }));
    // After one step m̂ = g and v̂ = g², so each weight moves by lr·sign(g) (up to eps).
    expectClose(run((p) => new optim.Adam([p], { lr: 0.01 }), 1), [0.99, -1.99, 0.49], 6);
  });

  it('Adam weightDecay is L2 on the gradient; AdamW decays the weights directly (default 0.01)', () => {
    expectClose(run((p) => new optim.Adam([p], { lr: 0.01, weightDecay: 0.1 })), refAdam({ ...base, wd: 0.1, decoupled: false }));
    expectClose(run((p) => new optim.AdamW([p], { lr: 0.01, weightDecay: 0.1 })), refAdam({ ...base, wd: 0.1, decoupled: true }));
    expectClose(run((p) => new optim.AdamW([p], { lr: 0.01 })), refAdam({ ...base, wd: 0.01, decoupled: true }));
    const custom = { lr: 0.02, betas: [0.8, 0.99] as [number, number], eps: 1e-6 };
    expectClose(run((p) => new optim.Adam([p], custom)), refAdam({ lr: 0.02, b1: 0.8, b2: 0.99, eps: 1e-6, wd: 0, decoupled: false }));
  });

  it('float32 parameters follow the reference to float precision', () => {
    const p = tensor(P0, { requiresGrad: true });
    const opt = new optim.Adam([p], { lr: 0.01 });
    for (let t = 0; t < 3; t++) {
      p.grad = tensor(GRADS[t]!);
      opt.step();
    }
    expectClose(arr(p), refAdam({ ...base, wd: 0, decoupled: false }), 6);
  });

  it('validates betas and eps', () => {
    expect(() => new optim.Adam([f64([1])], { betas: [1, 0.9] })).toThrow(/betas\[0\] must be in \[0, 1\), got 1/);
    expect(() => new optim.AdamW([f64([1])], { eps: -1 })).toThrow(/AdamW: eps/);
  });
});

describe('Optimizer', () => {
  it('param groups carry their own lr and weight decay', () => {
    const a = f64([1]), b = f64([1]);
    const opt = new optim.SGD([{ params: [a] }, { params: [b], lr: 0.5, weightDecay: 1 }], { lr: 0.1 });
    a.grad = tensor([1], { dtype: 'float64' });
    b.grad = tensor([1], { dtype: 'float64' });
    opt.step();
    expect(arr(a)).toEqual([0.9]);
    expect(arr(b)).toEqual([0]); // 1 − 0.5·(1 + 1·1)
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.5]);
  });

  it('skips frozen parameters even when they hold a gradient, and gives them no state', () => {
    const fc = new nn.Linear(3, 2);
    const opt = new optim.Adam(fc.parameters(), { lr: 0.1 });
    fc.bias!.requiresGrad = false;
    const b0 = arr(fc.bias!);
    fc.weight.grad = tensor([[1, 1, 1], [1, 1, 1]]);
    fc.bias!.grad = tensor([1, 1]);
    opt.step();
    expect(arr(fc.bias!)).toEqual(b0);
    expect(opt.stateOf(fc.bias!)).toBeUndefined();
    expect(opt.stateOf(fc.weight)!.step).toBe(1);
    // Unfreezing makes it train from then on, as in PyTorch.
    fc.bias!.requiresGrad = true;
    opt.step();
    expect(arr(fc.bias!)).not.toEqual(b0);
  });

  it('creates state lazily: none before the first step, none for parameters without a gradient', () => {
    const a = f64([1, 2]), b = f64([3]);
    const opt = new optim.Adam([a, b]);
    expect(opt.stateTensors()).toHaveLength(0);
    a.grad = tensor([1, 1], { dtype: 'float64' });
    opt.step();
    expect(opt.stateOf(a)!.step).toBe(1);
    expect(opt.stateOf(b)).toBeUndefined();
    expect(opt.stateTensors().map((t) => t.size)).toEqual([2, 2]);
  });

  it('zeroGrad sets gradients to null and frees them', () => {
    const p = f64([1]);
    const opt = new optim.SGD([p]);
    const g = tensor([1], { dtype: 'float64' });
    p.grad = g;
    opt.zeroGrad();
    expect(p.grad).toBeNull();
    expect(g.isDisposed).toBe(true);
  });

  it('rejects empty, duplicate and non-leaf parameters', () => {
    const p = f64([1]);
    expect(() => new optim.Adam([])).toThrow(/empty parameter list/);
    expect(() => new optim.Adam([p, p])).toThrow(/appears twice/);
    expect(() => new optim.Adam([{ params: [p] }, { params: [p] }])).toThrow(/appears twice/);
    expect(() => new optim.Adam([p.mul(2)])).toThrow(TsgradError);
  });

  it('stateDict is a snapshot that loadStateDict restores exactly', () => {
    const pa = f64(P0), pb = f64(P0);
    const a = new optim.Adam([pa], { lr: 0.01 });
    for (let t = 0; t < 2; t++) {
      pa.grad = tensor(GRADS[t]!, { dtype: 'float64' });
      a.step();
    }
    const sd = a.stateDict();
    expect(sd.paramGroups).toEqual([{ lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, params: [0] }]);
    expect(sd.state[0]!.step).toBe(2);
    pa.grad = tensor(GRADS[2]!, { dtype: 'float64' });
    a.step();
    expect(sd.state[0]!.step).toBe(2);
    const b = new optim.Adam([pb], { lr: 0.5 });
    pb.grad = tensor(GRADS[0]!, { dtype: 'float64' });
    b.step();
    b.loadStateDict(sd);
    expect(b.paramGroups[0]!.lr).toBe(0.01);
    pb.copy_(tensor(refAdam({ lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false }, 2), { dtype: 'float64' }));
    pb.grad = tensor(GRADS[2]!, { dtype: 'float64' });
    b.step();
    expectClose(arr(pb), arr(pa));
    const bad = { ...sd, state: { 0: { ...sd.state[0]!, expAvg: tensor([1], { dtype: 'float64' }) } } };
    expect(() => b.loadStateDict(bad)).toThrow('state[0].expAvg has shape [1] but parameter 0 has shape [3]');
  });
});

describe('optim.clipGradNorm', () => {
  it('scales gradients to maxNorm and returns the norm before clipping', () => {
    const a = f64([0, 0]), b = f64([0]);
    a.grad = tensor([3, 0], { dtype: 'float64' });
    b.grad = tensor([4], { dtype: 'float64' });
    const norm = optim.clipGradNorm([a, b], 1)!;
    expect(norm.itemSync()).toBeCloseTo(5, 12);
    expectClose(arr(a.grad), [3 / (5 + 1e-6), 0]);
    expectClose(arr(b.grad), [4 / (5 + 1e-6)]);
    // Under the limit: unchanged.
    optim.clipGradNorm([a, b], 10);
    expectClose(arr(b.grad), [4 / (5 + 1e-6)]);
    expect(optim.clipGradNorm([a, b], 1, { normType: Infinity })!.itemSync()).toBeCloseTo(4 / (5 + 1e-6), 12);
    expect(optim.clipGradNorm([f64([1])], 1)).toBeNull();
  });
});

describe('fused Adam', () => {
  it("uses the backend's fused kernel when it has one, with the same result as the composed ops", () => {
    class FusedCpu extends CpuBackend {
      override readonly fused = {
        adam(a: { param: TypedArray; grad: View<TypedArray>; m: TypedArray; v: TypedArray; size: number;
          lr: number; beta1: number; beta2: number; eps: number; biasCorrection1: number; biasCorrection2: number; l2: number; decoupledDecay: number }) {
          for (let i = 0; i < a.size; i++) {
            a.param[i] = a.param[i]! * (1 - a.decoupledDecay);
            const g = a.grad.storage[a.grad.offset + i]! + a.l2 * a.param[i]!;
            a.m[i] = a.beta1 * a.m[i]! + (1 - a.beta1) * g;
            a.v[i] = a.beta2 * a.v[i]! + (1 - a.beta2) * g * g;
            a.param[i] = a.param[i]! - (a.lr / a.biasCorrection1) * (a.m[i]! / (Math.sqrt(a.v[i]!) / Math.sqrt(a.biasCorrection2) + a.eps));
          }
        },
      };
    }
    installBackend('cpu-fused-test', new FusedCpu());
    const p = tensor(P0, { dtype: 'float64', requiresGrad: true, backend: 'cpu-fused-test' });
    const opt = new optim.AdamW([p], { lr: 0.01, weightDecay: 0.1 });
    resetStats('cpu-fused-test');
    for (let t = 0; t < 3; t++) {
      p.grad = tensor(GRADS[t]!, { dtype: 'float64', backend: 'cpu-fused-test' });
      opt.step();
    }
    expect(backendStats('cpu-fused-test').byOp.get('fused:adam')).toBe(3);
    expect(backendStats('cpu-fused-test').byOp.get('binary:mul') ?? 0).toBe(0);
    expectClose(arr(p), refAdam({ lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled: true }));
  });
});

describe("the CPU backend's fused Adam", () => {
  it('runs one fused kernel per parameter and step for Adam and AdamW, composing nothing', () => {
    for (const decoupled of [false, true]) {
      const p = tensor(P0, { dtype: 'float64', requiresGrad: true });
      const opt = decoupled ? new optim.AdamW([p], { lr: 0.01, weightDecay: 0.1 }) : new optim.Adam([p], { lr: 0.01, weightDecay: 0.1 });
      resetStats('cpu');
      for (let t = 0; t < 3; t++) {
        p.grad = tensor(GRADS[t]!, { dtype: 'float64' });
        opt.step();
      }
      expect(backendStats('cpu').byOp.get('fused:adam')).toBe(3);
      expect(backendStats('cpu').byOp.get('binary:mul') ?? 0).toBe(0);
      expectClose(arr(p), refAdam({ lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled }));
    }
  });

  it('reads a strided gradient and marks the parameter written, so a graph that saved it refuses backward', () => {
    const p = tensor(P0, { dtype: 'float64', requiresGrad: true });
    const saved = p.mul(p).sum();
    const opt = new optim.Adam([p], { lr: 0.01 });
    p.grad = tensor(GRADS[0]!.flatMap((g) => [9, g]), { dtype: 'float64' }).slice([[1, 6, 2]]);
    resetStats('cpu');
    opt.step();
    expect(backendStats('cpu').byOp.get('fused:adam')).toBe(1);
    expectClose(arr(p), refAdam({ lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false }, 1));
    expect(() => saved.backward()).toThrow(TsgradError);
  });
});

describe('optimizer state dicts are snapshots', () => {
  it('do not share hyperparameter arrays with the live optimizer, and are validated on load', () => {
    const p = tensor([1, 2], { requiresGrad: true });
    const opt = new optim.Adam([p], { lr: 0.1, betas: [0.9, 0.999] });
    const dict = opt.stateDict();
    (dict.paramGroups[0]!.betas as number[])[0] = 0.5;
    expect(opt.paramGroups[0]!.betas[0]).toBe(0.9);
    (dict.paramGroups[0]!.betas as number[])[0] = 1.5;
    expect(() => opt.loadStateDict(dict)).toThrow(TsgradError);
    expect(opt.paramGroups[0]!.betas[0]).toBe(0.9);
  });
});
