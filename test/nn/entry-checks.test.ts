// nn and optim entry points: bad input is a TsgradError, and a failed call leaves the model,
// the optimizer and the tensors as they were (validate everything, then act).
import { describe, expect, it } from 'vitest';
import { TsgradError, nn, ones, optim, randn, tensor, zeros, type Tensor } from '../../src/index.js';
import { errorOf } from '../errorOf.js';

const anyV = (v: unknown) => v as never;

const snapshot = (ts: Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

describe('Module.loadStateDict', () => {
  it('a null entry is an error naming it, not a silent skip', () => {
    const m = new nn.Linear(2, 2);
    const before = snapshot(m.parameters());
    expect(errorOf(() => m.loadStateDict({ weight: anyV(null), bias: zeros([2]) })).message).toBe("loadStateDict: 'weight' must be a live tensor, got null");
    expect(errorOf(() => m.loadStateDict({ weight: anyV(null), bias: zeros([2]) }, { strict: false })).message).toMatch(/^loadStateDict: 'weight' must be a live tensor/);
    expect(snapshot(m.parameters())).toEqual(before);
  });

  it('checks every entry before writing any', () => {
    const m = new nn.Sequential(new nn.Linear(2, 2), new nn.Linear(2, 2));
    const before = snapshot(m.parameters());
    const disposed = zeros([2]);
    disposed.dispose();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ '1.bias': 'x' }, /^loadStateDict: '1.bias' must be a live tensor, got string 'x'/],
      [{ '1.bias': disposed }, /^loadStateDict: '1.bias' must be a live tensor, got a disposed tensor of shape \[2\]/],
      [{ '1.bias': zeros([3]) }, /^loadStateDict: '1.bias': shape \[3\] in the state dict but \[2\] in the model/],
    ];
    for (const [last, message] of bad) {
      const state = { '0.weight': ones([2, 2]), '0.bias': ones([2]), '1.weight': ones([2, 2]), ...last };
      expect(errorOf(() => m.loadStateDict(anyV(state))).message).toMatch(message);
      expect(snapshot(m.parameters())).toEqual(before);
    }
    expect(errorOf(() => m.loadStateDict(anyV(null))).message).toMatch(/^loadStateDict: state must be an object of tensors by parameter name/);
  });
});

describe('optimizers', () => {
  it('constructors name what they were given', () => {
    expect(errorOf(() => new optim.SGD(anyV(randn([2])))).message).toBe('SGD: params must be a Module, an iterable of tensors such as model.parameters(), or a list of param groups, got a [2] float32 tensor (wrap it in an array: [t])');
    expect(errorOf(() => new optim.SGD(anyV(undefined))).message).toMatch(/^SGD: params must be a Module, an iterable of tensors/);
    expect(errorOf(() => new optim.Adam([zeros([2], { requiresGrad: true })], anyV({ learningRate: 0.1 }))).message)
      .toBe('Adam: unknown hyperparameter \'learningRate\'; known: lr, betas, eps, weightDecay');
    expect(errorOf(() => new optim.Adam([{ params: [zeros([2], { requiresGrad: true })], momentum: 0.9 } as never])).message)
      .toMatch(/^Adam: unknown hyperparameter 'momentum' in param group 0/);
    expect(errorOf(() => new optim.Adam([zeros([2], { requiresGrad: true })], anyV({ betas: null }))).message).toMatch(/^Adam: betas must be a pair \[beta1, beta2\], got null/);
    expect(errorOf(() => new optim.SGD([zeros([2], { requiresGrad: true })], anyV({ lr: '0.1' }))).message).toBe("SGD: lr must be ≥ 0, got string '0.1'");
    expect(errorOf(() => new optim.SGD([anyV(null)])).message).toMatch(/^SGD: param group 0 must be \{ params, \.\.\.hyperparameters \}, got null/);
  });

  for (const make of [
    (ps: Tensor[]) => new optim.SGD(ps, { lr: 0.5, momentum: 0.9, weightDecay: 0.1 }),
    (ps: Tensor[]) => new optim.AdamW(ps, { lr: 0.5 }),
  ]) {
    it(`a bad gradient fails ${make([zeros([1], { requiresGrad: true })]).constructor.name}.step() before anything changes`, () => {
      const p = ones([2, 2], { requiresGrad: true }), q = ones([2], { requiresGrad: true });
      const opt = make([p, q]);
      p.grad = ones([2, 2]);
      q.grad = ones([2]);
      opt.step();
      const params = snapshot([p, q]), state = snapshot(opt.stateTensors()), steps = [opt.stateOf(p)!.step, opt.stateOf(q)!.step];
      const bads: [Tensor, RegExp][] = [
        [ones([3]), /step: the gradient of parameter 1 of group 0 has shape \[3\] but the parameter has shape \[2\]/],
        [ones([1]), /step: the gradient of parameter 1 of group 0 has shape \[1\] but the parameter has shape \[2\]/],
        [ones([2], { dtype: 'float64' }), /step: the gradient of parameter 1 of group 0 is float64 on 'cpu' but the parameter is float32 on 'cpu'/],
      ];
      for (const [bad, message] of bads) {
        q.grad = bad;
        expect(errorOf(() => opt.step()).message).toMatch(message);
        expect(snapshot([p, q])).toEqual(params);
        expect(snapshot(opt.stateTensors())).toEqual(state);
        expect([opt.stateOf(p)!.step, opt.stateOf(q)!.step]).toEqual(steps);
      }
    });
  }

  it('loadStateDict refuses malformed snapshots with a TsgradError', () => {
    const opt = new optim.Adam([zeros([2], { requiresGrad: true })]);
    expect(errorOf(() => opt.loadStateDict(anyV(null))).message).toMatch(/^loadStateDict: expected \{ state, paramGroups \}/);
    const dict = opt.stateDict();
    expect(errorOf(() => opt.loadStateDict(anyV({ ...dict, state: { 0: { step: 1, expAvg: 'x' } } }))).message).toMatch(/^loadStateDict: expected a Tensor, got string 'x' \(state\[0\]\.expAvg\)/);
  });

  it('clipGradNorm refuses non-tensors', () => {
    expect(errorOf(() => optim.clipGradNorm(anyV([1, 2]), 1)).message).toMatch(/^clipGradNorm: expected a Tensor, got number 1 \(params\[0\]\)/);
    expect(errorOf(() => optim.clipGradNorm(anyV(5), 1)).message).toMatch(/^clipGradNorm: params must be an iterable of tensors/);
  });
});

describe('layers', () => {
  it('refuse non-tensor inputs and bad constructor arguments', () => {
    expect(errorOf(() => new nn.ReLU().forward(anyV([1, 2]))).message).toMatch(/^ReLU: expected a Tensor, got an array \(input\); wrap it with tensor\(\)/);
    expect(errorOf(() => new nn.Sequential(new nn.ReLU(), anyV(5))).message).toBe('Sequential: argument 2 must be a Module, got number 5');
    expect(errorOf(() => new nn.Linear(2.5, 2)).message).toBe('Linear: inFeatures must be a positive integer, got number 2.5');
    expect(errorOf(() => new nn.GELU(anyV('fast'))).message).toMatch(/^GELU: approximate must be 'none' or 'tanh'/);
    expect(errorOf(() => new nn.Dropout(anyV('0.5'))).message).toMatch(/^Dropout: p must be in \[0, 1\), got string '0.5'/);
    expect(errorOf(() => nn.functional.layerNorm(randn([2, 3]), ones([4]))).message).toBe('layerNorm: weight must be [3] for input [2,3], got [4]');
    expect(errorOf(() => nn.functional.embedding(tensor([0], { dtype: 'int32' }), anyV({}))).message).toMatch(/^embedding: expected a Tensor, got object \(weight\)/);
  });

  it('take plain arrays of whole numbers as indices and class targets, and refuse fractions', () => {
    const table = tensor([[1, 2], [3, 4], [5, 6]]);
    // Rows 2 and 0 of the table, as with int32 tensor indices.
    const picked = nn.functional.embedding([[2, 0]], table);
    expect(picked.shape).toEqual([1, 2, 2]);
    expect(Array.from(picked.dataSync())).toEqual([5, 6, 1, 2]);
    expect(errorOf(() => nn.functional.embedding([1.5, 2], table)).message).toMatch(/^embedding: expected whole numbers .*got 1.5; round them/);
    expect(errorOf(() => nn.functional.embedding([NaN], table)).message).toMatch(/^embedding: expected whole numbers .*got NaN/);
    expect(errorOf(() => nn.functional.crossEntropy([[1, 2]], [0.7])).message).toMatch(/^crossEntropy: expected whole numbers .*got 0.7/);
    expect(errorOf(() => nn.functional.embedding(anyV(['1']), table)).message).toMatch(/^embedding: expected a number at depth 1, got string '1'/);
  });
});
