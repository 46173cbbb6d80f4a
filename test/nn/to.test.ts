// Module.to and Optimizer.to: parameters move in place (same objects, new storage), gradients and
// optimizer state follow, and loadStateDict copies across backends. A second CPU instance stands
// in for another backend here; the webgpu section runs the same on a real device.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { installBackend } from '../../src/core/backend.js';
import { backendOf } from '../../src/core/seams.js';
import { type Tensor, TsgradError, manualSeed, nn, noGrad, optim, tensor } from '../../src/index.js';
import { backendBeforeAll } from '../backendAvailable.js';

installBackend('cpu-other', new CpuBackend());

function model(): nn.Sequential {
  manualSeed(3);
  return new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 2));
}

async function trainStep(m: nn.Module, opt: optim.Optimizer<object>, backend?: string): Promise<number[]> {
  const x = tensor([[1, 2, 3], [0, -1, 0.5]], backend ? { backend } : {});
  const loss = nn.functional.crossEntropy(m.forward(x), tensor([1, 0], { dtype: 'int32', ...(backend ? { backend } : {}) }));
  opt.zeroGrad();
  loss.backward();
  opt.step();
  return Array.from(await m.parameters()[0]!.data());
}

describe('Module.to', () => {
  it('moves parameters in place; training there matches training here', async () => {
    const here = model(), there = model();
    const params = there.parameters();
    const optHere = new optim.Adam(here, { lr: 0.1 }), optThere = new optim.Adam(there, { lr: 0.1 });
    expect(await there.to('cpu-other')).toBe(there);
    expect(there.parameters()).toEqual(params);
    const other = backendOf(params[0]!);
    expect(params.every((p) => backendOf(p) === other && p.requiresGrad)).toBe(true);
    expect(other).not.toBe(backendOf(here.parameters()[0]!));
    for (let i = 0; i < 3; i++) expect(await trainStep(there, optThere, 'cpu-other')).toEqual(await trainStep(here, optHere));
  });

  it('moves gradients; an optimizer whose state stayed behind says to move it', async () => {
    const m = model();
    const opt = new optim.Adam(m, { lr: 0.1 });
    await trainStep(m, opt);
    await m.to('cpu-other');
    expect(backendOf(m.parameters()[0]!.grad!)).toBe(backendOf(m.parameters()[0]!));
    const before = Array.from(m.parameters()[0]!.dataSync());
    expect(() => opt.step()).toThrow(/is on 'cpu' but its optimizer state is on 'cpu'.*await optimizer.to/);
    expect(Array.from(m.parameters()[0]!.dataSync())).toEqual(before);
    await opt.to('cpu-other');
    expect(opt.stateTensors().every((t) => backendOf(t) === backendOf(m.parameters()[0]!))).toBe(true);
    expect(() => opt.step()).not.toThrow();
  });

  it('loadStateDict copies tensors from another synchronous backend', async () => {
    const src = model(), dst = new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 2));
    await dst.to('cpu-other');
    dst.loadStateDict(src.stateDict());
    expect(Array.from(dst.parameters()[2]!.dataSync())).toEqual(Array.from(src.parameters()[2]!.dataSync()));
  });

  it('moves buffers (tensor fields that are not parameters) too, and refuses a buffer with a graph', async () => {
    class Masked extends nn.Module {
      fc = new nn.Linear(2, 2);
      mask = tensor([[1, 0], [1, 1]]);
      forward(x: Tensor) { return this.fc.forward(x).mul(this.mask); }
    }
    const m = new Masked();
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['mask']);
    const mask = m.mask;
    await m.to('cpu-other');
    expect(m.mask).toBe(mask);
    expect(backendOf(mask)).toBe(backendOf(m.fc.weight));
    expect(mask.arraySync()).toEqual([[1, 0], [1, 1]]);
    m.mask = m.fc.weight.mul(2) as never;
    await expect(m.to('cpu')).rejects.toThrow(/to: buffer 'mask' is the result of a recorded op/);
    expect(backendOf(m.fc.weight)).toBe(backendOf(mask));
  });

  it('refuses unknown backends before moving anything', async () => {
    const m = model();
    const b = backendOf(m.parameters()[0]!);
    await expect(m.to('nowhere')).rejects.toThrow(TsgradError);
    expect(m.parameters().every((p) => backendOf(p) === b)).toBe(true);
  });
});

describe('optimizers take a Module', () => {
  it('uses its parameters, and says what to pass otherwise', () => {
    const m = model();
    expect(new optim.SGD(m).paramGroups[0]!.params).toEqual(m.parameters());
    expect(() => new optim.Adam(tensor([1], { requiresGrad: true }) as never)).toThrow(/Adam: params must be a Module, an iterable of tensors such as model.parameters\(\), or a list of param groups, got a \[1\] float32 tensor \(wrap it in an array: \[t\]\)/);
  });
});

describe('Module.to on webgpu', () => {
  const available = backendBeforeAll('webgpu', 'Module.to tests');

  it('trains on webgpu after the move, like on cpu, and the state dict comes back with to', async (ctx) => {
    if (!available()) return ctx.skip();
    const here = model(), there = model();
    const optHere = new optim.SGD(here, { lr: 0.5, momentum: 0.9 }), optThere = new optim.SGD(there, { lr: 0.5, momentum: 0.9 });
    await trainStep(here, optHere);
    await trainStep(there, optThere);
    await there.to('webgpu');
    await optThere.to('webgpu');
    const got = await trainStep(there, optThere, 'webgpu');
    const want = await trainStep(here, optHere);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    // A cpu state dict loads straight into the webgpu model; a webgpu one must be moved first.
    there.loadStateDict(here.stateDict());
    expect(Array.from(await there.parameters()[1]!.data())).toEqual(Array.from(here.parameters()[1]!.dataSync()));
    expect(() => here.loadStateDict(there.stateDict())).toThrow(/'0.weight' is on 'webgpu', which is asynchronous.*await model.loadStateDictAsync\(state\)/);
    // loadStateDictAsync moves it, as PyTorch's load_state_dict copies across devices.
    noGrad(() => there.parameters()[0]!.mul_(2));
    const want0 = Array.from(await there.parameters()[0]!.data());
    await here.loadStateDictAsync(there.stateDict());
    expect(Array.from(here.parameters()[0]!.dataSync())).toEqual(want0);
    await expect(here.loadStateDictAsync({ ...there.stateDict(), extra: there.parameters()[0]! })).rejects.toThrow(/unexpected keys: extra/);
    expect(String(there.parameters()[0])).toMatch(/^tensor\(<values on 'webgpu': read them with await t.toArray\(\) or await t.data\(\)>, shape=\[4, 3\], backend='webgpu', requiresGrad=true\)$/);
  });
});
