import { TsgradError } from '../src/index.js';

/** The TsgradError `fn` throws; any other outcome (a raw error, a return) fails the test. */
export function errorOf(fn: () => unknown): TsgradError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof TsgradError)) throw new Error(`expected a TsgradError, got ${(e as Error).name}: ${(e as Error).message}`);
    return e;
  }
  throw new Error('expected a TsgradError, but the call returned');
}
