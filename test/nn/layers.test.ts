// Layers: shapes, PyTorch's init ranges, forward values against plain arithmetic.
import { describe, expect, it } from 'vitest';
import { TsgradError, manualSeed, nn, noGrad, randn, tensor } from '../../src/index.js';

describe('nn layers', () => {
  it('Linear: weight [out, in], bias [out], init within ±1/√in, y = x·Wᵀ + b', () => {
    manualSeed(3);
    const fc = new nn.Linear(16, 5);
    expect(fc.weight.shape).toEqual([5, 16]);
    expect(fc.bias!.shape).toEqual([5]);
    const bound = 1 / 4;
    const w = Array.from(fc.weight.dataSync());
    expect(w.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.8); // spread over the range, not tiny
    const x = randn([3, 16]);
    const y = fc.forward(x).dataSync();
    const xs = x.dataSync(), b = fc.bias!.dataSync();
    for (let i = 0; i < 3; i++) for (let o = 0; o < 5; o++) {
      let s = b[o]!;
      for (let k = 0; k < 16; k++) s += xs[i * 16 + k]! * w[o * 16 + k]!;
      expect(y[i * 5 + o]).toBeCloseTo(s, 5);
    }
    expect(new nn.Linear(4, 2, { bias: false }).bias).toBeNull();
    expect(() => new nn.Linear(0, 2)).toThrow(TsgradError);
  });

  it('Sequential chains modules, names children 0, 1, ... and indexes them', () => {
    const seq = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    const x = randn([5, 3]);
    const manual = (seq.at(2) as nn.Linear).forward(seq.at(0).forward(x).relu());
    expect(seq.forward(x).dataSync()).toEqual(manual.dataSync());
    expect(() => seq.at(3)).toThrow(/out of range/);
  });

  it('activations match their formulas', () => {
    const x = tensor([-2, -0.5, 0, 1.5]);
    const xs = [-2, -0.5, 0, 1.5];
    const close = (got: Float32Array | Float64Array | Int32Array, want: number[]) => want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    close(new nn.ReLU().forward(x).dataSync(), xs.map((v) => Math.max(v, 0)));
    close(new nn.Tanh().forward(x).dataSync(), xs.map(Math.tanh));
    close(new nn.Sigmoid().forward(x).dataSync(), xs.map((v) => 1 / (1 + Math.exp(-v))));
    // GELU(1.5) = 1.5·Φ(1.5) = 1.5 × 0.9331928
    expect(new nn.GELU().forward(x).dataSync()[3]).toBeCloseTo(1.5 * 0.9331928, 5);
  });

  it('Dropout is active in training, identity in eval, and seeded', () => {
    const d = new nn.Dropout(0.5);
    const x = randn([1000]).abs().add(1);
    manualSeed(9);
    const a = d.forward(x).dataSync();
    const zerosCount = Array.from(a).filter((v) => v === 0).length;
    expect(zerosCount).toBeGreaterThan(400);
    expect(zerosCount).toBeLessThan(600);
    const xs = x.dataSync();
    a.forEach((v, i) => v !== 0 && expect(v).toBeCloseTo(xs[i]! * 2, 5));
    manualSeed(9);
    expect(d.forward(x).dataSync()).toEqual(a);
    d.eval();
    expect(d.forward(x)).toBe(x);
    expect(() => new nn.Dropout(1)).toThrow(TsgradError);
  });

  it('LayerNorm starts as plain normalization; Embedding looks up rows', () => {
    const ln = new nn.LayerNorm(4);
    const y = ln.forward(tensor([[1, 2, 3, 4]])).dataSync();
    const sd = Math.sqrt(1.25 + 1e-5);
    [-1.5, -0.5, 0.5, 1.5].forEach((v, i) => expect(y[i]).toBeCloseTo(v / sd, 5));
    expect(new nn.LayerNorm(4, { elementwiseAffine: false }).numParameters()).toBe(0);
    const emb = new nn.Embedding(10, 3);
    const out = emb.forward(tensor([[7, 2]], { dtype: 'int32' }));
    expect(out.shape).toEqual([1, 2, 3]);
    const w = emb.weight.dataSync();
    expect(Array.from(out.dataSync())).toEqual([...w.slice(21, 24), ...w.slice(6, 9)]);
  });

  it('loss modules wrap the functional losses', () => {
    const p = tensor([[1, 2], [3, 5]]), t = tensor([[1, 1], [1, 1]]);
    expect(new nn.MSELoss().forward(p, t).itemSync()).toBeCloseTo((0 + 1 + 4 + 16) / 4, 6);
    const logits = tensor([[0, Math.log(3)]]);
    // p(class 1) = 3/4
    expect(new nn.CrossEntropyLoss().forward(logits, tensor([1], { dtype: 'int32' })).itemSync()).toBeCloseTo(-Math.log(0.75), 6);
    expect(noGrad(() => new nn.MSELoss().forward(p, t)).requiresGrad).toBe(false);
  });
});
