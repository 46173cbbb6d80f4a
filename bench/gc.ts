import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Collects garbage until finalizers ran (they run in a later task than the collection), so a
 * count of live buffers is not changed midway by storages that earlier tests left to the
 * garbage collector.
 */
export async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
}
