// What the fused-kernel tests share: core's composed form on the CPU backend, the reference a
// fused kernel is held to, and an elementwise comparison that names the first element off.
import { expect } from 'vitest';
import { CpuBackend } from '../src/backends/cpu/index.js';
import { installBackend } from '../src/core/backend.js';
import type { FusedKernels, TypedArray } from '../src/index.js';

/** The CPU backend with no fused kernel at all, so core composes every fused op from primitives. */
export class ComposedCpu extends CpuBackend {
  override readonly fused: FusedKernels<TypedArray> = {};
}

/** Installs a `ComposedCpu` as 'cpu-composed' (each test file runs in its own process) and returns that name. */
export function installComposedCpu(): string {
  installBackend('cpu-composed', new ComposedCpu());
  return 'cpu-composed';
}

/** Fails at the first element where |got − want| > tol · max(1, |want|), naming it `what[i]` with both values. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what = 'element'): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)))) expect.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}
