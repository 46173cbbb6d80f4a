// applyLoRA and trainableSummary.
import { describe, expect, it } from 'vitest';
import { TsgradError, manualSeed, nn, noGrad, randn, type Tensor } from '../../src/index.js';

class Attention extends nn.Module {
  query = new nn.Linear(8, 8);
  key = new nn.Linear(8, 8);
  value = new nn.Linear(8, 8);
  norm = new nn.LayerNorm(8);
  forward(x: Tensor): Tensor {
    return this.norm.forward(this.query.forward(x).add(this.key.forward(x)).add(this.value.forward(x)));
  }
}

class Model extends nn.Module {
  blocks = [new Attention(), new Attention()];
  head = new nn.Linear(8, 2);
  forward(x: Tensor): Tensor {
    return this.head.forward(this.blocks.reduce((h, b) => b.forward(h), x));
  }
}

describe('nn.applyLoRA', () => {
  it('wraps targets by name suffix in place, freezes the rest, and reports', () => {
    manualSeed(0);
    const m = new Model();
    const x = randn([3, 8]);
    const before = noGrad(() => m.forward(x)).dataSync();
    const q0 = m.blocks[0]!.query;
    const report = nn.applyLoRA(m, { targets: ['query', 'value'], rank: 2, alpha: 4 });
    expect(report.replaced).toEqual(['blocks.0.query', 'blocks.0.value', 'blocks.1.query', 'blocks.1.value']);
    expect(m.blocks[0]!.query).toBeInstanceOf(nn.LoRALinear);
    expect((m.blocks[0]!.query as unknown as nn.LoRALinear).base).toBe(q0);
    expect(m.blocks[0]!.key).toBeInstanceOf(nn.Linear);
    const trainable = m.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
    expect(trainable).toEqual([
      'blocks.0.query.loraA', 'blocks.0.query.loraB', 'blocks.0.value.loraA', 'blocks.0.value.loraB',
      'blocks.1.query.loraA', 'blocks.1.query.loraB', 'blocks.1.value.loraA', 'blocks.1.value.loraB',
    ]);
    expect(report.trainable).toBe(4 * (2 * 8 + 8 * 2));
    expect(report.total).toBe(m.numParameters());
    // B starts at zero: the adapted model computes what the original did.
    expect(noGrad(() => m.forward(x)).dataSync()).toEqual(before);
  });

  it('accepts a RegExp on the dotted path and a predicate', () => {
    const m = new Model();
    expect(nn.applyLoRA(m, { targets: /^blocks\.1\.(key|value)$/, rank: 2 }).replaced).toEqual(['blocks.1.key', 'blocks.1.value']);
    const m2 = new Model();
    const r = nn.applyLoRA(m2, { targets: (path, mod) => mod instanceof nn.Linear && path === 'head', rank: 1 });
    expect(r.replaced).toEqual(['head']);
  });

  it('bias: "all" trains every bias, "loraOnly" those of adapted layers', () => {
    const biasNames = (m: Model) => m.namedParameters().filter(([n, p]) => p.requiresGrad && n.endsWith('bias')).map(([n]) => n);
    const a = new Model();
    nn.applyLoRA(a, { targets: ['head'], rank: 1, bias: 'all' });
    expect(biasNames(a)).toEqual([
      'blocks.0.query.bias', 'blocks.0.key.bias', 'blocks.0.value.bias', 'blocks.0.norm.bias',
      'blocks.1.query.bias', 'blocks.1.key.bias', 'blocks.1.value.bias', 'blocks.1.norm.bias', 'head.base.bias',
    ]);
    const b = new Model();
    nn.applyLoRA(b, { targets: ['head'], rank: 1, bias: 'loraOnly' });
    expect(biasNames(b)).toEqual(['head.base.bias']);
  });

  it('errors when a target matches nothing, a non-Linear, or an adapted layer', () => {
    expect(() => nn.applyLoRA(new Model(), { targets: ['query', 'qkv'], rank: 2 })).toThrow(TsgradError);
    expect(() => nn.applyLoRA(new Model(), { targets: ['qkv'], rank: 2 })).toThrow(/target 'qkv' matches no layer; Linear, Conv1D and Conv2d layers in the model: blocks\.0\.query/);
    expect(() => nn.applyLoRA(new Model(), { targets: /nothing/, rank: 2 })).toThrow(/match no layer/);
    expect(() => nn.applyLoRA(new Model(), { targets: ['norm'], rank: 2 })).toThrow(/'blocks\.0\.norm', a LayerNorm; only nn\.Linear, nn\.Conv1D, nn\.Conv2d and nn\.QuantizedLinear layers/);
    const m = new Model();
    nn.applyLoRA(m, { targets: ['head'], rank: 2 });
    expect(() => nn.applyLoRA(m, { targets: ['head'], rank: 2 })).toThrow(/'head' is already a LoRALinear/);
    // A failed call changes nothing.
    const fresh = new Model();
    expect(() => nn.applyLoRA(fresh, { targets: ['query', 'qkv'], rank: 2 })).toThrow();
    expect(fresh.numParameters({ trainableOnly: true })).toBe(fresh.numParameters());
  });

  it('works on Sequential children', () => {
    const seq = new nn.Sequential(new nn.Linear(4, 4), new nn.ReLU(), new nn.Linear(4, 2));
    expect(nn.applyLoRA(seq, { targets: ['0', '2'], rank: 1 }).replaced).toEqual(['0', '2']);
    expect(seq.at(0)).toBeInstanceOf(nn.LoRALinear);
    expect(seq.forward(randn([3, 4])).shape).toEqual([3, 2]);
  });
});

describe('nn.trainableSummary', () => {
  it("prints PEFT's line: 6,144 of 596,736 for one 768×768 Linear with bias at rank 4", () => {
    expect(nn.trainableSummary(new nn.LoRALinear(768, 768, { rank: 4 }))).toBe('trainable params: 6,144 || all params: 596,736 || trainable%: 1.0296');
    const lin = new nn.Linear(768, 768);
    const m = new nn.Sequential(lin);
    nn.applyLoRA(m, { targets: ['0'], rank: 4 });
    expect(nn.trainableSummary(m)).toBe('trainable params: 6,144 || all params: 596,736 || trainable%: 1.0296');
    expect(nn.trainableSummary(new nn.Linear(3, 2).freeze())).toBe('trainable params: 0 || all params: 8 || trainable%: 0.0000');
  });
});

describe('nn.applyLoRA called twice', () => {
  it('keeps the adapters of the first call trainable', () => {
    const m = new Model();
    nn.applyLoRA(m, { targets: ['query'], rank: 2 });
    nn.applyLoRA(m, { targets: ['value'], rank: 4 });
    const trainable = m.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
    expect(trainable.filter((n) => n.includes('.query.'))).toHaveLength(4);
    expect(trainable.filter((n) => n.includes('.value.'))).toHaveLength(4);
    expect(trainable).toHaveLength(8);
  });

  it('refuses bad options before freezing or wrapping anything', () => {
    const m = new Model();
    // head is [8 → 2], so rank 4 fits the attention layers but not it.
    const bad: [unknown, RegExp][] = [
      [null, /^applyLoRA: options must be an object/],
      [{ targets: 'query' }, /^applyLoRA: targets must be a list of layer names.*for one layer pass \['query'\]/],
      [{ targets: ['query', 'head'], rank: 4 }, /^applyLoRA: layer 'head': rank must be an integer in \[1, min\(in, out\) = 2\], got 4/],
      [{ targets: ['query'], rank: 2, dropout: 2 }, /^applyLoRA: layer 'blocks\.0\.query': /],
    ];
    const shape = () => m.namedModules().map(([path, mod]) => `${path}:${mod.constructor.name}`);
    const layout = shape();
    for (const [opts, message] of bad) {
      expect(() => nn.applyLoRA(m, opts as never)).toThrow(message);
      expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
      expect(shape()).toEqual(layout);
    }
  });
});
