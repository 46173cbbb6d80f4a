// A minified single-file Node bundle of tsgrad still works: nothing may depend on the names
// of classes or functions, which minification renames.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNodeMinified } from '../../scripts/build-browser.js';

type Lib = typeof import('../../src/index.js');
const OUT = fileURLToPath(new URL('../../dist/test-node/tsgrad.min.js', import.meta.url));

/** Plain triple loop, the reference for the bundle's matmul. */
function naiveMatmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return c;
}

describe('minified Node bundle', () => {
  let lib: Lib;
  beforeAll(async () => {
    await buildNodeMinified(OUT);
    lib = (await import(/* @vite-ignore */ `${OUT}?t=${Date.now()}`)) as Lib;
  }, 60_000);

  it('is minified (the internal names are gone)', () => {
    const src = readFileSync(OUT, 'utf8');
    // Booleans, so a failure does not print the whole bundle.
    expect(/\bclass (Tensor|GpuRuntime)\b/.test(src), 'class names survived minification').toBe(false);
    expect(/\bfunction broadcastShapes\b/.test(src), 'function names survived minification').toBe(false);
  });

  it('trains on cpu: ops, backward and TsgradError work', () => {
    const { tensor, TsgradError } = lib;
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.mul(x).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 4, 6]);
    let err: unknown;
    try {
      tensor([[1, 2]]).matmul(tensor([[1, 2]]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TsgradError);
    expect((err as Error).name).toBe('TsgradError');
    expect((err as Error).message).toMatch(/^matmul: .*\[1,2\]/);
  });

  it('computes a large (threaded-size) matmul correctly', async () => {
    const { fromTypedArray } = lib;
    const [m, k, n] = [160, 130, 150];
    const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i));
    const product = () => fromTypedArray(a, [m, k]).matmul(fromTypedArray(b, [k, n])).data();
    // The worker source is minification-safe, so the first threaded matmul must succeed.
    const got = (await product()) as Float32Array;
    const want = naiveMatmul(a, b, m, k, n);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-3);
  });

  it('reports gpu.js kernel types by their exported names', async () => {
    const { initBackend, removeBackend } = lib;
    const b = (await initBackend('gpujs', { mode: 'cpu' })) as unknown as { info: { kernelType: string } };
    expect(b.info.kernelType).toBe('CPUKernel');
    removeBackend('gpujs');
  });
});
