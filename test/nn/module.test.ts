// Module discovery, modes, freezing and state dicts.
import { describe, expect, it } from 'vitest';
import { TsgradError, manualSeed, nn, noGrad, ones, randn, scope, tensor, zeros, type Tensor } from '../../src/index.js';

class Block extends nn.Module {
  fc = new nn.Linear(4, 3);
  norm = new nn.LayerNorm(3);
  drop = new nn.Dropout(0.5);
  forward(x: Tensor): Tensor {
    return this.drop.forward(this.norm.forward(this.fc.forward(x)));
  }
}

class Net extends nn.Module {
  layers = [new Block(), new Block()];
  scale = new nn.Parameter(ones([1]));
  head = new nn.Linear(3, 2, { bias: false });
  notAParam = zeros([2]);
  forward(x: Tensor): Tensor {
    return this.head.forward(this.layers.reduce((h, b) => b.forward(h.slice([[0, h.shape[0]!], [0, 4]]).add(0)), x).mul(this.scale));
  }
}

describe('nn.Module', () => {
  it('finds parameters and submodules from properties and arrays, with dotted paths', () => {
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'scale',
      'layers.0.fc.weight', 'layers.0.fc.bias', 'layers.0.norm.weight', 'layers.0.norm.bias',
      'layers.1.fc.weight', 'layers.1.fc.bias', 'layers.1.norm.weight', 'layers.1.norm.bias',
      'head.weight',
    ]);
    expect(net.namedModules().map(([n]) => n)).toEqual([
      '', 'layers.0', 'layers.0.fc', 'layers.0.norm', 'layers.0.drop', 'layers.1', 'layers.1.fc', 'layers.1.norm', 'layers.1.drop', 'head',
    ]);
    expect(net.parameters()).toHaveLength(10);
    expect(net.numParameters()).toBe(1 + 2 * (12 + 3 + 3 + 3) + 6);
  });

  it('counts a shared parameter once', () => {
    class Tied extends nn.Module {
      a = new nn.Linear(3, 3);
      b = this.a;
      forward(x: Tensor) { return this.b.forward(this.a.forward(x)); }
    }
    const t = new Tied();
    expect(t.namedParameters().map(([n]) => n)).toEqual(['a.weight', 'a.bias']);
    expect(t.numParameters()).toBe(12);
  });

  it('registers modules and parameters by name and rejects dotted names', () => {
    const seq = new nn.Sequential();
    seq.registerModule('proj', new nn.Linear(2, 2));
    seq.registerParameter('gain', new nn.Parameter(ones([2])));
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['gain', 'proj.weight', 'proj.bias']); // own parameters first, as PyTorch
    expect(() => seq.registerModule('a.b', new nn.ReLU())).toThrow(/without '\.'/);
    expect(() => seq.registerModule('x', {} as never)).toThrow(/^registerModule: 'x' must be an nn.Module, got/);
    expect(() => seq.registerParameter('p', ones([2]) as never)).toThrow(/wrap it: new nn.Parameter/);
  });

  it('train()/eval() set the flag everywhere and change nothing else', () => {
    const net = new Net();
    const before = net.parameters().map((p) => Array.from(p.dataSync()));
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
    expect(net.parameters().map((p) => Array.from(p.dataSync()))).toEqual(before);
  });

  it('freeze() stops gradients and drops existing ones; unfreeze() restores', () => {
    const fc = new nn.Linear(3, 2);
    fc.forward(randn([4, 3])).sum().backward();
    expect(fc.weight.grad).not.toBeNull();
    fc.freeze();
    expect(fc.weight.grad).toBeNull();
    expect(fc.numParameters({ trainableOnly: true })).toBe(0);
    const y = fc.forward(randn([4, 3]));
    expect(y.requiresGrad).toBe(false);
    fc.unfreeze();
    expect(fc.numParameters({ trainableOnly: true })).toBe(8);
  });

  it('parameters survive scope(); stateDict round-trips through loadStateDict', () => {
    manualSeed(1);
    const a = scope(() => new nn.Linear(3, 2));
    expect(a.weight.isDisposed).toBe(false);
    const b = new nn.Linear(3, 2);
    b.loadStateDict(a.stateDict());
    expect(b.weight.dataSync()).toEqual(a.weight.dataSync());
    expect(b.bias!.dataSync()).toEqual(a.bias!.dataSync());
    // The loaded values are copies: training b does not move a.
    noGrad(() => b.weight.copy_(zeros([2, 3])));
    expect(Array.from(a.weight.dataSync()).some((v) => v !== 0)).toBe(true);
  });

  it('loadStateDict names the key on shape mismatch and writes nothing', () => {
    const m = new nn.Linear(3, 2);
    const before = Array.from(m.weight.dataSync());
    const sd = { weight: zeros([3, 2]), bias: zeros([2]) };
    expect(() => m.loadStateDict(sd)).toThrow(TsgradError);
    expect(() => m.loadStateDict(sd)).toThrow("'weight': shape [3,2] in the state dict but [2,3] in the model");
    expect(Array.from(m.weight.dataSync())).toEqual(before);
  });

  it('loadStateDict reports missing and unexpected keys; strict: false loads the rest', () => {
    const m = new nn.Linear(2, 2);
    expect(() => m.loadStateDict({ weight: zeros([2, 2]), extra: zeros([1]) })).toThrow('missing keys: bias; unexpected keys: extra');
    const r = m.loadStateDict({ weight: zeros([2, 2]), extra: zeros([1]) }, { strict: false });
    expect(r).toEqual({ missingKeys: ['bias'], unexpectedKeys: ['extra'] });
    expect(Array.from(m.weight.dataSync())).toEqual([0, 0, 0, 0]);
  });

  it('Parameter requires grad by default, can be frozen, and shares storage with its data', () => {
    const data = tensor([1, 2, 3]);
    const p = new nn.Parameter(data);
    expect(p.requiresGrad).toBe(true);
    expect(p.isLeaf).toBe(true);
    expect(new nn.Parameter(tensor([1]), false).requiresGrad).toBe(false);
    noGrad(() => p.copy_(tensor([4, 5, 6])));
    expect(Array.from(data.dataSync())).toEqual([4, 5, 6]);
  });
});
