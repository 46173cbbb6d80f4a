import { describe, expect, it } from 'vitest';
import { notFlat, soak } from '../../bench/soak-loop.js';
import { backendBeforeAll } from '../backendAvailable.js';
import type { MatrixEntry } from '../matrix.js';

/**
 * The CI soak: `steps` (1,000; 400 on gpu.js, the slowest) training steps of a small LoRALinear
 * on `entry`'s backend (SGD with momentum), with the assertions of
 * bench/soak.ts: no growth in live storages or backend bytes after the first quarter, RSS within
 * +64 MiB.
 */
export function defineSoak(entry: MatrixEntry, steps: number): void {
  const every = steps / 4;
  describe(`soak: ${entry.name}`, () => {
    const available = backendBeforeAll(entry.backend, 'soak', entry);
    it(`${steps.toLocaleString('en')} training steps keep memory flat`, async (ctx) => {
      if (!available()) return ctx.skip();
      const samples = await soak({ backend: entry.backend, steps, every, dim: 16, rank: 2, batch: 8, optimizer: 'sgd' });
      expect(samples.map((s) => s.step)).toEqual([1, 2, 3, 4].map((q) => q * every));
      expect(notFlat(samples, { rssSlackMiB: 64 })).toBeNull();
      // It trained: the loss went down.
      expect(samples[3]!.loss).toBeLessThan(samples[0]!.loss);
    }, 120_000);
  });
}
