// The CPU matmul against a naive triple loop: odd sizes, padded edge tiles, blocks of k, strided
// and broadcast operands, every dtype; on one thread and split between worker threads; on the
// WebAssembly path (float32) and the JavaScript one.
import fc from 'fast-check';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { configureMatmulThreads } from '../../src/backends/cpu/matmul.js';
import { WasmMatmul } from '../../src/backends/cpu/wasm/matmul.js';
import type { View } from '../../src/core/backend.js';
import { type DType, type TypedArray, typedArrayFor } from '../../src/core/dtype.js';
import { tensor } from '../../src/index.js';

const paths = { wasm: new CpuBackend(), js: new CpuBackend({ wasm: false }) };

/** A layout for a logical shape: storage order of the dims, padding per dim, offset, broadcast dims. */
interface Layout {
  order: number[];
  pad: number[];
  offset: number;
  broadcast: boolean[];
}

function layoutArb(rank: number, batchDims: number): fc.Arbitrary<Layout> {
  return fc.record({
    order: fc.shuffledSubarray([...Array(rank).keys()], { minLength: rank, maxLength: rank }),
    pad: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: rank, maxLength: rank }),
    offset: fc.integer({ min: 0, max: 3 }),
    broadcast: fc.array(fc.boolean(), { minLength: rank, maxLength: rank }).map((b) => b.map((x, d) => x && d < batchDims)),
  });
}

/** A strided view of `shape` in `layout`, filled with small integers (so every dtype sums exactly). */
function makeView(shape: number[], layout: Layout, dtype: DType, values: () => number): View<TypedArray> {
  const strides = new Array<number>(shape.length).fill(0);
  let step = 1;
  for (let i = layout.order.length - 1; i >= 0; i--) {
    const d = layout.order[i]!;
    strides[d] = layout.broadcast[d] ? 0 : step;
    if (!layout.broadcast[d]) step *= shape[d]! + layout.pad[d]!;
  }
  const span = shape.reduce((s, n, d) => s + Math.max(0, n - 1) * strides[d]!, 0);
  const storage = typedArrayFor(dtype, layout.offset + span + 1);
  for (let i = 0; i < storage.length; i++) storage[i] = values();
  return { storage, shape, strides, offset: layout.offset, dtype };
}

function at(v: View<TypedArray>, idx: number[]): number {
  return v.storage[idx.reduce((o, i, d) => o + i * v.strides[d]!, v.offset)]!;
}

/** Row-major result of a · b by the definition, summed in double precision. */
function naiveMatmul(a: View<TypedArray>, b: View<TypedArray>): number[] {
  const r = a.shape.length;
  const m = a.shape[r - 2]!, k = a.shape[r - 1]!, n = b.shape[r - 1]!;
  const batch = a.shape.slice(0, r - 2);
  const out: number[] = [];
  const visit = (prefix: number[]): void => {
    if (prefix.length < batch.length) {
      for (let i = 0; i < batch[prefix.length]!; i++) visit([...prefix, i]);
      return;
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += at(a, [...prefix, i, p]) * at(b, [...prefix, p, j]);
        out.push(s);
      }
    }
  };
  visit([]);
  return out;
}

const smallInt = () => Math.floor(Math.random() * 17) - 8;

const caseArb = fc
  .record({
    batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    m: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 })),
    k: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 300 })),
    n: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 110 })),
    dtype: fc.constantFrom<DType>('float32', 'float64', 'int32'),
  })
  .chain((c) => {
    const rank = c.batch.length + 2;
    return fc.record({ c: fc.constant(c), la: layoutArb(rank, c.batch.length), lb: layoutArb(rank, c.batch.length) });
  });

const defaults = configureMatmulThreads({});
afterAll(() => void configureMatmulThreads(defaults));

// Threaded: every matmul, however small, split three ways (more parts than this machine's cores,
// and uneven), so the properties below cover the workers' row and column splits too.
describe.each([
  { mode: 'one thread', config: { threads: 1 }, path: 'wasm' as const },
  { mode: 'three threads', config: { threads: 3, minWork: 0, minK: 0 }, path: 'wasm' as const },
  { mode: 'one thread', config: { threads: 1 }, path: 'js' as const },
  { mode: 'three threads', config: { threads: 3, minWork: 0, minK: 0 }, path: 'js' as const },
])('cpu matmul on $mode, $path path', ({ config, path }) => {
  const backend = paths[path];
  beforeEach(() => void configureMatmulThreads(config));

  it('runs on the path it names', () => {
    expect(backend.info.path).toBe(path);
  });

  it('matches a naive triple loop for strided, broadcast and odd-sized operands in every dtype', () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), ({ c, la, lb }, uploaded) => {
        // Uploaded, a float32 operand lives in the module's memory on the wasm path.
        const place = (v: View<TypedArray>) => (uploaded ? { ...v, storage: backend.upload(v.storage) } : v);
        const a = place(makeView([...c.batch, c.m, c.k], la, c.dtype, smallInt));
        const b = place(makeView([...c.batch, c.k, c.n], lb, c.dtype, smallInt));
        const got = backend.matmul(a, b);
        expect(got.length).toBe(c.batch.reduce((x, y) => x * y, 1) * c.m * c.n);
        // Small integers: every partial sum is exact in float32, so the results must be equal.
        expect(Array.from(got)).toEqual(naiveMatmul(a, b));
      }),
      { numRuns: 150 },
    );
  });

  it('keeps float64 precision over several k-blocks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }), fc.integer({ min: 250, max: 700 }), fc.integer({ min: 1, max: 9 }), layoutArb(2, 0), layoutArb(2, 0),
        (m, k, n, la, lb) => {
          const a = makeView([m, k], la, 'float64', Math.random);
          const b = makeView([k, n], lb, 'float64', () => Math.random() - 0.5);
          const got = backend.matmul(a, b);
          const want = naiveMatmul(a, b);
          want.forEach((w, i) => expect(Math.abs(got[i]! - w)).toBeLessThan(1e-12 * k));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('returns zeros when k = 0', () => {
    const a = makeView([3, 0], { order: [0, 1], pad: [0, 0], offset: 0, broadcast: [false, false] }, 'float32', smallInt);
    const b = makeView([0, 5], { order: [0, 1], pad: [0, 0], offset: 0, broadcast: [false, false] }, 'float32', smallInt);
    expect(Array.from(backend.matmul(a, b))).toEqual(new Array(15).fill(0));
  });

  it('computes transposed and batch-broadcast tensors through the public API', () => {
    // x [2, 1, 3, 4] · (w [5, 4])ᵀ broadcast over the batch: each row dotted with each w row.
    const x = tensor(Array.from({ length: 24 }, (_, i) => i - 7), { shape: [2, 1, 3, 4], dtype: 'float32' });
    const w = tensor(Array.from({ length: 20 }, (_, i) => (i * 3) % 7), { shape: [5, 4], dtype: 'float32' });
    const y = x.matmul(w.transpose(0, 1));
    expect(y.shape).toEqual([2, 1, 3, 5]);
    const xs = x.dataSync(), ws = w.dataSync(), got = y.dataSync();
    for (let r = 0; r < 6; r++) {
      for (let o = 0; o < 5; o++) {
        let s = 0;
        for (let p = 0; p < 4; p++) s += xs[r * 4 + p]! * ws[o * 4 + p]!;
        expect(got[r * 5 + o]).toBe(s);
      }
    }
  });
});

describe.each(['wasm', 'js'] as const)('threaded cpu matmul, %s path', (path) => {
  const backend = paths[path];
  beforeEach(() => void configureMatmulThreads(defaults));

  it('equals the single-threaded result bit for bit above the default threshold', () => {
    // Each tile of C is summed by the same micro-kernel calls in the same order on any thread,
    // so splitting C changes no rounding: the results must be identical, not just close.
    const layout = { order: [0, 1], pad: [0, 0], offset: 0, broadcast: [false, false] };
    for (const [m, k, n, dtype] of [[200, 300, 150, 'float32'], [97, 260, 301, 'float64'], [5, 700, 400, 'float32']] as const) {
      expect(m * k * n).toBeGreaterThanOrEqual(defaults.minWork);
      expect(k).toBeGreaterThanOrEqual(defaults.minK);
      const a = makeView([m, k], layout, dtype, () => Math.random() - 0.5);
      const b = makeView([k, n], { ...layout, order: [1, 0] }, dtype, () => Math.random() - 0.5);
      configureMatmulThreads({ threads: 1 });
      const single = backend.matmul(a, b);
      for (const threads of [2, 3]) {
        configureMatmulThreads({ threads });
        const threaded = backend.matmul(a, b);
        // Still that many threads: the pool started and no worker failed (either would drop to one).
        expect(configureMatmulThreads({}).threads).toBe(threads);
        expect(Array.from(threaded)).toEqual(Array.from(single));
      }
    }
  });

  it('rejects a TSGRAD_CPU_THREADS that is not a whole number', async () => {
    vi.stubEnv('TSGRAD_CPU_THREADS', 'two');
    vi.resetModules();
    try {
      // A fresh copy of the module reads the variable again.
      const fresh = await import('../../src/backends/cpu/matmul.js');
      expect(() => fresh.configureMatmulThreads({})).toThrow(/TSGRAD_CPU_THREADS must be a whole number ≥ 1, got 'two'/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('wasm matmul into a result in the module memory', () => {
  // A result whose rows fill whole 4×8 tiles is written by the kernel in place, batch by batch;
  // any other goes through the padded scratch.
  it('is exact for batched, tile-shaped and odd-shaped results, on one and on three threads', () => {
    const backend = paths.wasm;
    const layout = (rank: number) => ({ order: [...Array(rank).keys()], pad: new Array<number>(rank).fill(0), offset: 0, broadcast: new Array<boolean>(rank).fill(false) });
    for (const config of [{ threads: 1 }, { threads: 3, minWork: 0, minK: 0 }]) {
      configureMatmulThreads(config);
      for (const [batch, m, k, n] of [[[3], 8, 20, 16], [[2, 2], 4, 33, 8], [[], 64, 70, 24], [[3], 6, 20, 16], [[2], 8, 20, 12]] as const) {
        const a = makeView([...batch, m, k], layout(batch.length + 2), 'float32', smallInt);
        const b = makeView([...batch, k, n], layout(batch.length + 2), 'float32', smallInt);
        const inMemory = (v: View<TypedArray>) => ({ ...v, storage: backend.upload(v.storage) });
        const got = backend.matmul(inMemory(a), inMemory(b));
        expect((got.buffer as ArrayBufferLike) instanceof SharedArrayBuffer).toBe(true);
        expect(Array.from(got), `${batch} × ${m}×${k}·${k}×${n}`).toEqual(naiveMatmul(a, b));
      }
    }
    configureMatmulThreads(defaults);
  });
});

describe('wasm matmul of a batch of small matrices on threads', () => {
  // Each matrix is below the threshold for splitting it, but the batch is not: whole matrices
  // go to the threads (attention's [B·H, T, T] products), each summed by the same kernel calls.
  it('spreads the batch over the threads, exactly and bit for bit as on one thread', () => {
    const backend = paths.wasm;
    const batchPath = vi.spyOn(WasmMatmul.prototype as unknown as { runBatch: () => boolean }, 'runBatch');
    const layout = (rank: number, transposed: boolean) => ({
      order: transposed ? [...Array(rank - 2).keys(), rank - 1, rank - 2] : [...Array(rank).keys()],
      pad: new Array<number>(rank).fill(0), offset: 0, broadcast: new Array<boolean>(rank).fill(false),
    });
    for (const [batch, m, k, n, inMemory] of [[[8, 4], 64, 16, 64, true], [[32, 8], 12, 24, 20, false], [[40], 24, 64, 16, false]] as const) {
      const a = makeView([...batch, m, k], layout(batch.length + 2, false), 'float32', smallInt);
      const b = makeView([...batch, k, n], layout(batch.length + 2, true), 'float32', smallInt);
      const place = (v: View<TypedArray>) => (inMemory ? { ...v, storage: backend.upload(v.storage) } : v);
      configureMatmulThreads({ threads: 1 });
      const single = Array.from(backend.matmul(place(a), place(b)));
      expect(single, `${batch} × ${m}×${k}·${k}×${n}`).toEqual(naiveMatmul(a, b));
      for (const threads of [2, 3]) {
        configureMatmulThreads({ threads });
        batchPath.mockClear();
        const threaded = Array.from(backend.matmul(place(a), place(b)));
        expect(batchPath).toHaveReturnedWith(true);
        expect(configureMatmulThreads({}).threads).toBe(threads);
        expect(threaded).toEqual(single);
      }
    }
    batchPath.mockRestore();
    configureMatmulThreads(defaults);
  });
});
