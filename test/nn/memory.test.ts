// memoryReport: bytes by category, measured from live storages.
import { describe, expect, it } from 'vitest';
import { getBackend, manualSeed, memoryReport, nn, optim, randn, scope } from '../../src/index.js';

const F = nn.functional;

function trainOneStep(model: nn.Module, opt: optim.Adam, inF: number): void {
  const x = randn([8, inF]), target = randn([8, inF]);
  scope(() => {
    F.mseLoss(model.forward(x), target).backward();
    opt.step();
  });
}

describe('memoryReport', () => {
  it('LoRA(768, rank 4) keeps 3 × 6,144 × 4 bytes of gradients + Adam state; full fine-tuning 3 × 590,592 × 4', () => {
    manualSeed(0);
    const lora = new nn.LoRALinear(768, 768, { rank: 4 });
    const loraOpt = new optim.Adam(lora.parameters());
    trainOneStep(lora, loraOpt, 768);
    const r = memoryReport(lora, loraOpt);
    expect(r.gradients.bytes + r.optimizerState.bytes).toBe(3 * 6144 * 4);
    expect(r.optimizerState.elements).toBe(2 * 6144);
    expect(r.trainableParams.bytes).toBe(6144 * 4);
    expect(r.frozenParams.bytes).toBe(590592 * 4);

    const full = new nn.Linear(768, 768);
    const fullOpt = new optim.Adam(full.parameters());
    trainOneStep(full, fullOpt, 768);
    const f = memoryReport(full, fullOpt);
    expect(f.gradients.bytes + f.optimizerState.bytes).toBe(3 * 590592 * 4);
    expect(f.frozenParams.bytes).toBe(0);
    expect(f.trainableParams.bytes).toBe(590592 * 4);
  });

  it('counts activations saved for backward, once per storage, excluding parameters; they drop after backward', () => {
    const fc = new nn.Linear(4, 3);
    const x = randn([2, 4]);
    const y = fc.forward(x); // matmul saves x and a view of the weight
    const r = memoryReport(fc, null, { output: y });
    expect(r.activations).toEqual({ bytes: 2 * 4 * 4, buffers: 1, elements: 8 });
    const h = y.relu().relu(); // each relu saves its input: y, then relu(y)
    expect(memoryReport(fc, null, { output: h }).activations.bytes).toBe(2 * 4 * 4 + 2 * (2 * 3 * 4));
    h.sum().backward();
    expect(memoryReport(fc, null, { output: h }).activations.bytes).toBe(0);
  });

  it('gradient memory really drops after zeroGrad, in the report and in the backend', () => {
    const fc = new nn.Linear(64, 64);
    const opt = new optim.SGD(fc.parameters(), { lr: 0.1 });
    scope(() => fc.forward(randn([4, 64])).sum().backward());
    const before = memoryReport(fc, opt);
    expect(before.gradients.bytes).toBe((64 * 64 + 64) * 4);
    const backendBefore = getBackend().memory().bytes;
    opt.zeroGrad();
    const after = memoryReport(fc, opt);
    expect(after.gradients.bytes).toBe(0);
    expect(backendBefore - getBackend().memory().bytes).toBe(before.gradients.bytes);
    expect(after.backends[0]!.name).toBe('cpu');
    expect(after.backends[0]!.bytes).toBeGreaterThanOrEqual(after.total);
    expect(String(after)).toMatch(/trainableParams\s+16\.3 KiB/);
  });
});
