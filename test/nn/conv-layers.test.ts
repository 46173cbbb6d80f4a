// The convolution-family layers against PyTorch (conv_layers.py from .venv-hf): a state dict
// PyTorch saved loads by the same keys and shapes and gives PyTorch's outputs, and the default
// init draws from the ranges PyTorch's does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsgradError, io, manualSeed, nn, noGrad, randn } from '../../src/index.js';
import { errorOf } from '../errorOf.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('test/nn/conv-layers.test.ts');

/** conv_layers.py's model, layer for layer. */
const model = () => new nn.Sequential(
  new nn.Conv2d(3, 8, 3, { padding: 1, dtype: 'float64' }),
  new nn.GroupNorm(4, 8, { dtype: 'float64' }),
  new nn.SiLU(),
  new nn.Conv2d(8, 8, [3, 2], { stride: 2, dilation: [1, 2], groups: 2, dtype: 'float64' }),
  new nn.MaxPool2d(2, { stride: 1 }),
  new nn.ConvTranspose2d(8, 4, 4, { stride: 2, padding: 1, groups: 2, dtype: 'float64' }),
  new nn.Upsample({ scaleFactor: 2, mode: 'bilinear' }),
  new nn.AvgPool2d(3, { stride: 1, padding: 1 }),
  new nn.GroupNorm(2, 4, { affine: false, dtype: 'float64' }),
  new nn.Conv2d(4, 2, 1, { bias: false, padding: 'same', dtype: 'float64' }),
  new nn.Upsample({ size: [5, 7] }),
);

describe.skipIf(skip)('convolution layers against PyTorch 2.13', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-conv-layers-'));
  let ref: { keys: Record<string, number[]>; init: Record<'conv' | 'convTranspose', { weight: number; bias: number; weightStd: number }> };
  beforeAll(async () => {
    ref = await runHfPython(join(import.meta.dirname, 'conv_layers.py'), [dir]);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has PyTorch\'s state-dict keys and shapes; a PyTorch state dict loads and gives its outputs', () => {
    const m = model();
    expect(Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]))).toEqual(ref.keys);
    const result = m.loadStateDict(io.loadSafetensors(join(dir, 'model.safetensors')).tensors);
    expect(result.missingKeys ?? []).toEqual([]);
    const { x, y } = io.loadSafetensors(join(dir, 'io.safetensors')).tensors;
    const out = noGrad(() => m.forward(x!));
    expect(out.shape).toEqual(y!.shape);
    const want = y!.dataSync();
    const worst = Array.from(out.dataSync()).reduce((w, v, i) => Math.max(w, Math.abs(v - want[i]!)), 0);
    expect(worst).toBeLessThan(1e-12);
  });

  it('initialises weights and biases as PyTorch does: U(±1/√fanIn), fanIn from PyTorch\'s layout', () => {
    manualSeed(1);
    const layers = { conv: new nn.Conv2d(16, 32, 3, { groups: 2 }), convTranspose: new nn.ConvTranspose2d(16, 32, [3, 2], { groups: 4 }) };
    for (const [name, layer] of Object.entries(layers) as [keyof typeof layers, nn.Conv2d | nn.ConvTranspose2d][]) {
      const theirs = ref.init[name];
      const w = Array.from(layer.weight.dataSync()), b = Array.from(layer.bias!.dataSync());
      const maxAbs = (v: number[]) => Math.max(...v.map(Math.abs));
      // Both draws fill the same interval: their largest magnitudes agree to a few percent.
      expect(maxAbs(w) / theirs.weight, name).toBeGreaterThan(0.97);
      expect(maxAbs(w) / theirs.weight, name).toBeLessThan(1.03);
      expect(maxAbs(b), name).toBeLessThan(theirs.bias * 1.25);
      const mean = w.reduce((s, v) => s + v, 0) / w.length;
      const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / (w.length - 1));
      expect(Math.abs(std / theirs.weightStd - 1), name).toBeLessThan(0.08);
    }
  });
});

describe('convolution layers', () => {
  it('refuse bad sizes and options when built, naming the layer', () => {
    expect(errorOf(() => new nn.Conv2d(3, 8, 3, { groups: 2 })).message).toMatch(/Conv2d: groups must be a positive integer dividing inChannels 3 and outChannels 8/);
    expect(errorOf(() => new nn.Conv2d(4, 8, 0)).message).toMatch(/Conv2d: kernelSize must be an integer ≥ 1/);
    expect(errorOf(() => new nn.Conv2d(4, 8, 3, { stride: 2, padding: 'same' })).message).toMatch(/padding 'same' needs stride 1/);
    expect(errorOf(() => new nn.Conv2d(4, 8, 3, { padding_mode: 'zeros' } as never)).message).toMatch(/unknown option padding_mode/);
    expect(errorOf(() => new nn.ConvTranspose2d(4, 8, 3, { outputPadding: 1 })).message).toMatch(/outputPadding \[1,1\] must be smaller than stride \[1,1\] or dilation \[1,1\]/);
    expect(errorOf(() => new nn.GroupNorm(3, 8)).message).toMatch(/GroupNorm: numGroups must be a positive integer dividing numChannels 8/);
    expect(errorOf(() => new nn.Upsample({ mode: 'bilinear' })).message).toMatch(/Upsample: give exactly one of size and scaleFactor/);
    expect(errorOf(() => new nn.MaxPool2d(2, { ceilMode: true } as never))).toBeInstanceOf(TsgradError);
  });

  it('train: gradients reach every parameter', () => {
    const m = new nn.Sequential(new nn.Conv2d(2, 4, 3, { padding: 1 }), new nn.GroupNorm(2, 4), new nn.SiLU(), new nn.ConvTranspose2d(4, 2, 2, { stride: 2 }));
    m.forward(randn([1, 2, 4, 4])).pow(2).mean().backward();
    for (const [name, p] of m.namedParameters()) expect(p.grad?.shape, name).toEqual(p.shape);
  });
});
