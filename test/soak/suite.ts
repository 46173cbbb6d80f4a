import { describe, expect, it } from 'vitest';
import { notFlat, soak } from '../../bench/soak-loop.js';
import { backendBeforeAll } from '../backendAvailable.js';

/**
 * The CI soak: 1,000 training steps of a small LoRALinear on `backend` (SGD with momentum, so the
 * slowest backend, gpu.js, stays well under a minute), with the assertions of bench/soak.ts: no
 * growth in live storages or backend bytes after step 250, RSS within +64 MiB.
 */
export function defineSoak(backend: string, requirement = ''): void {
  describe(`soak: ${backend}`, () => {
    const available = backendBeforeAll(backend, 'soak', { requirement });
    it('1,000 training steps keep memory flat', async (ctx) => {
      if (!available()) return ctx.skip();
      const samples = await soak({ backend, steps: 1000, every: 250, dim: 16, rank: 2, batch: 8, optimizer: 'sgd' });
      expect(samples.map((s) => s.step)).toEqual([250, 500, 750, 1000]);
      expect(notFlat(samples, { rssSlackMiB: 64 })).toBeNull();
      // It trained: the loss went down.
      expect(samples[3]!.loss).toBeLessThan(samples[0]!.loss);
    }, 120_000);
  });
}
