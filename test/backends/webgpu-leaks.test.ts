// On GPU backends a tensor collected without dispose() or scope() is reported with where it was
// made, once per place (its line and callers: a loop reports once); disposed and scoped tensors are not. Skipped loudly without a driver; a failure in CI.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, expect, it, vi } from 'vitest';
import { initBackend, nn, randn, scope, setLeakWarnings } from '../../src/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects until the finalizers ran (they run in a later task than the collection). */
async function collect(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
}

function leakOne(): void {
  randn([64], { backend: 'webgpu' });
}

function disposeOne(): void {
  randn([32], { backend: 'webgpu' }).dispose();
  scope(() => {
    randn([16], { backend: 'webgpu' }).mul(2);
  });
  // Ops that build constants of their own (tril's mask) free them with their result.
  const x = randn([4, 4], { backend: 'webgpu' });
  for (const y of [x.tril(), x.triu(1), nn.functional.scaledDotProductAttention(x, x, x, { isCausal: true })]) y.dispose();
  x.dispose();
}

afterEach(() => setLeakWarnings(true));

it('warns once per creation place for GPU tensors left to the garbage collector', async (ctx) => {
  try {
    await initBackend('webgpu');
  } catch (e) {
    if (process.env.CI) throw e;
    console.warn(`\n*** SKIPPING the webgpu leak warning test: ${(e as Error).message}\n`);
    return ctx.skip();
  }
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    disposeOne();
    await collect();
    expect(warn).not.toHaveBeenCalled();
    leakOne();
    leakOne();
    await collect();
    // Two leaks, called from two lines: two warnings, each naming leakOne's line first, then its caller.
    expect(warn).toHaveBeenCalledTimes(2);
    const [first, second] = warn.mock.calls.map(([w]) => String(w).split('\n'));
    for (const lines of [first!, second!]) {
      expect(lines[0]).toMatch(/^tsgrad: a webgpu tensor \(256 bytes\) was garbage-collected without dispose\(\) or scope\(\)/);
      expect(lines[1]).toMatch(/^ {4}at leakOne .*webgpu-leaks\.test\.ts:20:/);
    }
    expect(first![2]).not.toBe(second![2]);
    // The same place leaking again, in a loop: no more warnings.
    for (let i = 0; i < 3; i++) leakOne();
    await collect();
    expect(warn).toHaveBeenCalledTimes(3);
    setLeakWarnings(false);
    randn([128], { backend: 'webgpu' });
    await collect();
    expect(warn).toHaveBeenCalledTimes(3);
  } finally {
    warn.mockRestore();
  }
});
