// Optimizer and module checkpoints from hostile or damaged files: every missing, unknown or
// oddly named state entry is refused by name, and a refused load changes nothing.
import { describe, expect, it } from 'vitest';
import { TsgradError, io, manualSeed, nn, optim, randn, type Tensor } from '../../src/index.js';

const mlp = () => new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 2));

function train(model: nn.Module, opt: optim.Optimizer<object>, steps: number): void {
  const x = randn([5, 3]);
  for (let i = 0; i < steps; i++) {
    model.forward(x).pow(2).mean().backward();
    opt.step();
    opt.zeroGrad();
  }
}

/** Everything an optimizer holds: steps, state tensors' values, hyperparameters. */
const snapshot = (model: nn.Module, opt: optim.Optimizer<object>) => JSON.stringify([
  model.parameters().map((p) => [opt.stateOf(p)?.step, Object.entries(opt.stateOf(p)?.tensors ?? {}).map(([k, t]) => [k, Array.from(t.dataSync())])]),
  opt.paramGroups.map(({ params: _, ...h }) => h),
]);

/** The checkpoint's bytes with its tensors changed by `edit` and metadata by `meta`. */
async function edited(bytes: Uint8Array, edit: (t: Record<string, Tensor>) => void, meta: (m: Record<string, string>) => void = () => {}): Promise<Uint8Array> {
  const { tensors, metadata } = io.decodeSafetensors(bytes);
  edit(tensors);
  const m = { ...metadata };
  meta(m);
  return io.encodeSafetensors(tensors, m);
}

describe('optimizer checkpoints', () => {
  it('a missing moment, an unknown state tensor or number, or a doubled index is refused by name before anything changes', async () => {
    manualSeed(3);
    const model = mlp();
    const adam = new optim.Adam(model, { lr: 0.01 });
    train(model, adam, 2);
    const good = await io.encodeStateDict(adam);
    const numbers = (m: Record<string, string>, f: (n: Record<string, Record<string, number>>) => void) => {
      const n = JSON.parse(m['tsgrad.numbers']!);
      f(n);
      m['tsgrad.numbers'] = JSON.stringify(n);
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ['no expAvgSq', await edited(good, (t) => delete t['state.0.expAvgSq']), /state\[0\] lacks 'expAvgSq'; Adam keeps expAvg and expAvgSq .* step count \(2\)/],
      ['no moments at all', await edited(good, (t) => {
        delete t['state.3.expAvg'];
        delete t['state.3.expAvgSq'];
      }), /state\[3\] lacks 'expAvg'/],
      ['an unknown tensor', await edited(good, (t) => (t['state.1.bogus'] = randn([4]))), /state\[1\] holds 'bogus', which is not part of Adam's state/],
      ["a tensor named '__proto__'", await edited(good, (t) => (t['state.1.__proto__'] = randn([4]))), /state\[1\] holds '__proto__'/],
      ['an unknown number', await edited(good, () => {}, (m) => numbers(m, (n) => (n['0']!.lr = 5))), /state\[0\] holds 'lr'/],
      ["a number named '__proto__'", await edited(good, () => {}, (m) => (m['tsgrad.numbers'] = m['tsgrad.numbers']!.replace('"step":2', '"step":2,"__proto__":1'))), /state\[0\] holds '__proto__'/],
      ['an index written two ways', await edited(good, () => {}, (m) => numbers(m, (n) => (n['01'] = n['1']!))), /state for parameter 01 has no valid step count/],
      // Hyperparameters nested so deep that copying them or naming them in a message would overflow the stack.
      ...await Promise.all(['lr', 'betas', 'params'].map(async (k): Promise<[string, Uint8Array, RegExp]> => [`${k} nested 100,000 deep`,
        await edited(good, () => {}, (m) => (m['tsgrad.paramGroups'] = m['tsgrad.paramGroups']!.replace(/\}\]$/, `,"${k}":${'['.repeat(100_000)}1${']'.repeat(100_000)}}]`))),
        /the checkpoint's 'tsgrad.paramGroups' metadata nests deeper than 16 levels/])),
    ];
    const other = mlp();
    const target = new optim.Adam(other, { lr: 0.5 });
    train(other, target, 1);
    const before = snapshot(other, target);
    for (const [what, bytes, message] of cases) {
      let thrown: unknown;
      try {
        io.decodeStateDict(bytes, target);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, what).toBeInstanceOf(TsgradError);
      expect((thrown as Error).message, what).toMatch(message);
      expect(snapshot(other, target), what).toBe(before);
    }
    io.decodeStateDict(good, target);
    expect(snapshot(other, target)).toBe(snapshot(model, adam));
  });

  it("SGD's momentum buffer may be absent, as PyTorch's may be None; anything else it does not keep is refused", async () => {
    const model = mlp();
    const sgd = new optim.SGD(model, { lr: 0.1, momentum: 0.9 });
    train(model, sgd, 1);
    const target = new optim.SGD(mlp(), { lr: 0.1, momentum: 0.9 });
    io.decodeStateDict(await edited(await io.encodeStateDict(sgd), (t) => delete t['state.0.momentumBuffer']), target);
    expect(target.stateOf(target.paramGroups[0]!.params[0]!)!.tensors).toEqual({});
    await expect((async () => io.decodeStateDict(await edited(await io.encodeStateDict(sgd), (t) => (t['state.0.expAvg'] = randn([4, 3]))), target))())
      .rejects.toThrow(/state\[0\] holds 'expAvg', which is not part of SGD's state \(it keeps momentumBuffer\)/);
  });

  it('in memory, loadStateDict refuses the same', () => {
    const model = mlp();
    const adam = new optim.Adam(model);
    train(model, adam, 1);
    const dict = adam.stateDict();
    delete dict.state[2]!.expAvg;
    expect(() => new optim.Adam(mlp()).loadStateDict(dict)).toThrow(/state\[2\] lacks 'expAvg'/);
  });
});

describe('module checkpoints', () => {
  it("a tensor named '__proto__' is an unexpected key like any other", async () => {
    const model = mlp();
    const bytes = await edited(await io.encodeStateDict(model), (t) => (t['__proto__'] = randn([2])));
    expect(() => io.decodeStateDict(bytes, mlp())).toThrow(/unexpected keys: __proto__/);
  });
});
