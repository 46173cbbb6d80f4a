// The PyTorch-shaped names example, briefly, on cpu and webgpu: it learns, its schedule is the
// cosine one, save + load gives the same model, and the two backends agree.
import { describe, expect, it } from 'vitest';
import { type PytorchStyleResult, trainPytorchStyle } from '../../examples/names-pytorch-style.js';
import { backendBeforeAll } from '../backendAvailable.js';

const STEPS = 200;

function expectTrained(r: PytorchStyleResult): void {
  expect(r.initialLoss).toBeCloseTo(Math.log(27), 0);
  expect(r.finalLoss).toBeLessThan(2.7);
  expect(r.reloadedLoss).toBeCloseTo(r.finalLoss, 6);
  expect(r.lrs).toHaveLength(STEPS);
  expect(r.lrs[STEPS / 2 - 1]).toBeCloseTo((1e-2 + 1e-4) / 2, 8);
  expect(r.lrs[STEPS - 1]).toBeCloseTo(1e-4, 12);
  expect(r.lrs.every((lr, i) => i === 0 || lr < r.lrs[i - 1]!)).toBe(true);
  expect(r.samples).toHaveLength(5);
  for (const s of r.samples) expect(s).toMatch(/^[a-z]{0,20}$/);
}

describe('examples/names-pytorch-style.ts', () => {
  let cpu: PytorchStyleResult;
  const webgpu = backendBeforeAll('webgpu', 'run of the names example');

  it('trains, schedules, saves, reloads and samples on cpu', async () => {
    cpu = await trainPytorchStyle({ device: 'cpu', steps: STEPS });
    expectTrained(cpu);
  }, 120_000);

  it('does the same on webgpu, matching cpu', async (ctx) => {
    if (!webgpu()) return ctx.skip();
    const gpu = await trainPytorchStyle({ device: 'webgpu', steps: STEPS });
    expectTrained(gpu);
    expect(gpu.finalLoss).toBeCloseTo(cpu.finalLoss, 2);
  }, 180_000);
});
