import { describe, expect, it } from 'vitest';
import { TsgradError, nn, randn } from '../../src/index.js';

describe('ModuleList and ModuleDict', () => {
  it('name children as PyTorch does, so state dicts line up', () => {
    class Net extends nn.Module {
      h = new nn.ModuleList([new nn.Linear(2, 3), new nn.Linear(3, 2)]);
      heads = new nn.ModuleDict({ cls: new nn.Linear(2, 1) });
      forward(x: ReturnType<typeof randn>) {
        for (const layer of this.h) x = layer.forward(x);
        return this.heads.get('cls').forward(x);
      }
    }
    const net = new Net();
    expect(Object.keys(net.stateDict())).toEqual(['h.0.weight', 'h.0.bias', 'h.1.weight', 'h.1.bias', 'heads.cls.weight', 'heads.cls.bias']);
    expect(net.forward(randn([4, 2])).shape).toEqual([4, 1]);
    expect(net.h.length).toBe(2);
    expect(net.h.at(-1)).toBe(net.h.at(1));
    expect(net.heads.keys()).toEqual(['cls']);
  });

  it('applyLoRA swaps a child in place and iteration sees the new occupant', () => {
    const list = new nn.ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 4)]);
    nn.applyLoRA(list, { targets: ['1'], rank: 2 });
    expect([...list].map((m) => m.constructor.name)).toEqual(['Linear', 'LoRALinear']);
  });

  it('refuse what is not a module, names with dots, and a forward call', () => {
    expect(() => new nn.ModuleList([new nn.Linear(1, 1), 3 as never])).toThrow(/item 1 must be a Module/);
    expect(() => new nn.ModuleDict({ 'a.b': new nn.Linear(1, 1) })).toThrow(TsgradError);
    expect(() => new nn.ModuleDict({ training: new nn.Linear(1, 1) })).toThrow(/Module's own fields/);
    expect(() => new nn.ModuleList().forward()).toThrow(/has no forward/);
    expect(() => new nn.ModuleList([new nn.Linear(1, 1)]).at(1)).toThrow(/out of range/);
    expect(() => new nn.ModuleDict().get('x')).toThrow(/no module named/);
  });
});
