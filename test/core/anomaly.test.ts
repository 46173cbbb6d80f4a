// detectAnomaly names the forward op whose backward produced NaN/Inf, with its shapes, on a
// synchronous backend (checked at once) and on webgpu (checked when the block ends).
import { describe, expect, it } from 'vitest';
import { TsgradError, detectAnomaly, initBackend, tensor } from '../../src/index.js';

async function rejection(p: Promise<unknown>): Promise<TsgradError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof TsgradError)) throw e;
    return e;
  }
  throw new Error('expected a TsgradError');
}

describe('detectAnomaly', () => {
  it('blames the op whose backward made the first non-finite gradient, with its shapes and call site', async () => {
    const x = tensor([[0, 1], [4, 9]], { requiresGrad: true });
    const e = await rejection(detectAnomaly(() => x.mul(1).sqrt().mul(2).sum().backward()));
    expect(e.message).toMatch(/^detectAnomaly: the backward of 'sqrt' \(inputs \[2,2\] float32 → output \[2,2\]\) produced Infinity in the gradient of input 0; the forward 'sqrt' was called at .*anomaly\.test\.ts/);
  });

  it('names NaN too, and passes finite work through with its result', async () => {
    const a = tensor([0], { requiresGrad: true });
    // 0 · log(0): the gradient reaching log is 0, and its backward 0 / 0 is NaN.
    const e = await rejection(detectAnomaly(() => a.log().mul(0).sum().backward()));
    expect(e.message).toMatch(/backward of 'log' \(inputs \[1\] float32 → output \[1\]\) produced NaN/);
    const b = tensor([1, 2], { requiresGrad: true });
    expect(await detectAnomaly(() => b.mul(b).sum())).toBeDefined();
    await detectAnomaly(() => b.mul(b).sum().backward());
    expect(Array.from(b.grad!.dataSync())).toEqual([2, 4]);
  });

  it('outside it, the same gradient goes through silently', () => {
    const x = tensor([0, 1], { requiresGrad: true });
    x.sqrt().sum().backward();
    expect(x.grad!.dataSync()[0]).toBe(Infinity);
  });

  it('on webgpu, the gradients are checked when the block ends', async (ctx) => {
    try {
      await initBackend('webgpu');
    } catch (err) {
      if (process.env.CI) throw err;
      console.warn(`\n*** SKIPPING detectAnomaly on webgpu: ${(err as Error).message}\n`);
      return ctx.skip();
    }
    const x = tensor([0, 1], { backend: 'webgpu', requiresGrad: true });
    const e = await rejection(detectAnomaly(() => x.sqrt().sum().backward()));
    expect(e.message).toMatch(/^detectAnomaly: the backward of 'sqrt' \(inputs \[2\] float32 → output \[2\]\) produced Infinity/);
  });
});
