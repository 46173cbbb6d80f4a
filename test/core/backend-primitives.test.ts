// Every compute primitive of the Backend interface is counted: core's counting wrapper reads the
// one list PRIMITIVES, and the type check here fails when the interface gains a method that is
// neither in it nor housekeeping (upload, read, free...), so a new kernel cannot go uncounted.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type Backend, PRIMITIVES, type Primitive, backendStats, initBackend, registerBackend, removeBackend } from '../../src/core/backend.js';

/** The Backend methods that run no kernel, so are not counted. */
const HOUSEKEEPING = ['upload', 'fill', 'read', 'readSync', 'free', 'bytes', 'sync', 'memory', 'destroy', 'configure'] as const;

type Method = { [K in keyof Backend]-?: NonNullable<Backend[K]> extends (...args: never[]) => unknown ? K : never }[keyof Backend];

describe('backend primitives', () => {
  it('every Backend method is a counted primitive or housekeeping, never both', () => {
    expectTypeOf<Exclude<Method, Primitive | (typeof HOUSEKEEPING)[number]>>().toEqualTypeOf<never>();
    expect(PRIMITIVES.filter((p) => (HOUSEKEEPING as readonly string[]).includes(p))).toEqual([]);
    expect(new Set(PRIMITIVES).size).toBe(PRIMITIVES.length);
  });

  it('counts each primitive once per call, by primitive and op, and no housekeeping call', async () => {
    const calls: string[] = [];
    const stub = (name: string) => () => (calls.push(name), null);
    const backend = {
      name: 'stub', synchronous: true, dtypes: ['float32'],
      ...Object.fromEntries([...PRIMITIVES, ...HOUSEKEEPING].map((m) => [m, stub(m)])),
      memory: () => ({ buffers: 0, bytes: 0 }),
      read: async () => new Float32Array(0),
    } as unknown as Backend;
    registerBackend({ name: 'stub', checkOptions: () => {}, create: () => backend });
    try {
      const b = await initBackend('stub');
      for (const p of PRIMITIVES) (b[p] as (...args: unknown[]) => unknown)(p === 'unary' || p === 'binary' || p === 'reduce' || p === 'argReduce' ? 'op' : {});
      b.upload(new Float32Array(1));
      b.fill(1, 'float32', 0);
      b.free(null);
      b.bytes(null);
      b.readSync!({} as never);
      const stats = backendStats('stub');
      expect(calls).toEqual([...PRIMITIVES, 'upload', 'fill', 'free', 'bytes', 'readSync']);
      expect(stats.kernels).toBe(PRIMITIVES.length);
      expect([...stats.byOp.keys()].sort()).toEqual(PRIMITIVES.map((p) => (['unary', 'binary', 'reduce', 'argReduce'].includes(p) ? `${p}:op` : p)).sort());
    } finally {
      removeBackend('stub');
    }
  });
});
