import { expect } from 'vitest';
import { type Tensor, scope } from '../src/index.js';

/**
 * Awaits reads of `make()`'s result for `ms` milliseconds and checks that an interval scheduled
 * before the loop fired during it: a backend that answers reads synchronously must still let
 * the event loop turn (vitest's own RPC, timers, I/O, a page's rendering depend on it).
 */
export async function expectTimersRunDuringReads(make: () => Tensor, ms = 2000): Promise<void> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  let reads = 0;
  const end = Date.now() + ms;
  try {
    while (Date.now() < end) {
      await scope(async () => void (await make().data()));
      reads++;
    }
  } finally {
    clearInterval(timer);
  }
  expect(reads).toBeGreaterThan(1);
  // A 20 ms interval over 2 s fires about 100 times when reads are quick; on a slow or loaded
  // machine a read can outlast the interval, and then it fires once per turn of the loop, so
  // about once per read. A starved loop fires it never.
  expect(ticks).toBeGreaterThanOrEqual(Math.min(Math.floor(ms / 20 / 4), Math.floor(reads / 2)));
}
