// Schedules against the learning rates PyTorch 1.13 printed for the same settings (SGD lr 0.1;
// get_last_lr() after construction, then after each optimizer.step(); scheduler.step()).
import { describe, expect, it } from 'vitest';
import { optim, tensor } from '../../src/index.js';

function run(make: (opt: optim.SGD) => optim.LRScheduler, steps: number): number[] {
  const p = tensor([0], { requiresGrad: true });
  const opt = new optim.SGD([p], { lr: 0.1 });
  const s = make(opt);
  const out = [s.getLastLr()[0]!];
  for (let i = 0; i < steps; i++) {
    opt.step();
    s.step();
    out.push(s.getLastLr()[0]!);
    expect(opt.paramGroups[0]!.lr).toBe(out[out.length - 1]);
  }
  return out;
}

const close = (got: number[], want: number[]) => expect(got).toEqual(want.map((v) => expect.closeTo(v, 12)));

describe('learning-rate schedules', () => {
  it('StepLR(step_size=3, gamma=0.5)', () => {
    close(run((o) => new optim.StepLR(o, { stepSize: 3, gamma: 0.5 }), 8), [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025]);
  });

  it('CosineAnnealingLR(T_max=4, eta_min=0.01), past T_max too', () => {
    close(run((o) => new optim.CosineAnnealingLR(o, { tMax: 4, etaMin: 0.01 }), 10), [
      0.1, 0.08681980515339464, 0.05500000000000001, 0.023180194846605363, 0.01, 0.023180194846605363,
      0.05500000000000002, 0.08681980515339469, 0.10000000000000006, 0.0868198051533947, 0.05500000000000005,
    ]);
  });

  it('LinearLR(start_factor=0.25, end_factor=1, total_iters=4) as a warm-up', () => {
    close(run((o) => new optim.LinearLR(o, { startFactor: 0.25, endFactor: 1, totalIters: 4 }), 6), [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1]);
  });

  it('LambdaLR(lambda e: 1 / (e + 1))', () => {
    close(run((o) => new optim.LambdaLR(o, (e) => 1 / (e + 1)), 4), [0.1, 0.05, 0.03333333333333333, 0.025, 0.02]);
  });

  it('SequentialLR: LinearLR warm-up then CosineAnnealingLR, switching at the milestone', () => {
    close(run((o) => {
      const warmup = new optim.LinearLR(o, { startFactor: 0.1, totalIters: 3 });
      const decay = new optim.CosineAnnealingLR(o, { tMax: 5 });
      return new optim.SequentialLR(o, [warmup, decay], [3]);
    }, 9), [0.01, 0.04, 0.07, 0.1, 0.09045084971874738, 0.06545084971874737, 0.03454915028125263, 0.009549150281252633, 0, 0.009549150281252628]);
  });

  it('schedules created one after another start from the same initial lr, as PyTorch', () => {
    const p = tensor([0], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1 });
    new optim.LinearLR(opt, { startFactor: 0.5 });
    expect(new optim.StepLR(opt, { stepSize: 1 }).baseLrs).toEqual([0.1]);
    expect(() => new optim.SequentialLR(opt, [new optim.StepLR(opt, { stepSize: 1 })], [2])).toThrow(/SequentialLR: needs 0 milestones for 1 schedulers/);
  });

  it('resumes from a state dict, per param group, and rejects bad settings', () => {
    const a = tensor([0], { requiresGrad: true }), b = tensor([0], { requiresGrad: true });
    const opt = new optim.Adam([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1 });
    const s = new optim.StepLR(opt, { stepSize: 2 });
    for (let i = 0; i < 5; i++) s.step();
    const state = s.stateDict();
    const opt2 = new optim.Adam([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1 });
    const s2 = new optim.StepLR(opt2, { stepSize: 2 });
    s2.loadStateDict(state);
    expect(s2.getLastLr()).toEqual(s.getLastLr());
    close(s.getLastLr(), [0.001, 0.0001]);
    expect(() => new optim.StepLR(opt, { stepSize: 0 })).toThrow(/StepLR: stepSize must be a positive integer, got 0/);
    const lrsBefore = opt.paramGroups.map((g) => g.lr);
    expect(() => new optim.StepLR(opt, { stepSize: 2, gamma: Number.NaN })).toThrow(/StepLR: gamma must be a finite number > 0, got NaN/);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual(lrsBefore);
    expect(() => new optim.LambdaLR(opt, [(e) => e])).toThrow(/LambdaLR: needs one function, or one per param group \(2\)/);
    const bad = new optim.LambdaLR(opt, (e) => (e > 0 ? NaN : 0.5));
    const before = opt.paramGroups.map((g) => g.lr);
    expect(() => bad.step()).toThrow(/LambdaLR: lrLambda\(1\) returned NaN/);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual(before);
    expect(bad.lastEpoch).toBe(0);
  });
});
