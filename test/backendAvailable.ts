import { beforeAll } from 'vitest';
import { initBackend } from '../src/index.js';
import { REQUIREMENTS } from './matrix.js';

/**
 * Initializes `backend` before the enclosing suite's tests. A missing driver fails the suite
 * under CI and is skipped with a loud notice elsewhere, naming what to install (`requirement`,
 * by default the backend's in test/matrix.ts); tests skip themselves while `available()` is false.
 */
export function backendBeforeAll(backend: string, suite: string, opts: { init?: () => Promise<unknown>; requirement?: string } = {}): () => boolean {
  let available = false;
  beforeAll(async () => {
    try {
      await (opts.init ?? (() => initBackend(backend)))();
      available = true;
    } catch (e) {
      if (process.env.CI) throw new Error(`backend '${backend}' is unavailable in CI: ${(e as Error).message}`);
      console.warn(`\n*** SKIPPING the ${backend} ${suite}: ${(e as Error).message}\n*** ${opts.requirement ?? REQUIREMENTS[backend] ?? ''}\n`);
    }
  });
  return () => available;
}
