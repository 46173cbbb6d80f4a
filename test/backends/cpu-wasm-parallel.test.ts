// Large elementwise ops split between worker threads (src/backends/cpu/wasm/parallel.ts): every
// unary and binary export run in parts on two threads gives the bits of one call on one thread,
// over lengths that no part count divides, with a broadcast scalar on either side; and through
// the backend, a GELU and a residual add above the threshold equal the single-threaded results.
import { afterAll, describe, expect, it } from 'vitest';
import { configureMatmulThreads } from '../../src/backends/cpu/threads.js';
import { ParallelElementwise } from '../../src/backends/cpu/wasm/parallel.js';
import { startWasm } from '../../src/backends/cpu/wasm/runtime.js';
import { randn, setBackend } from '../../src/index.js';

const rt = startWasm()!;
const before = configureMatmulThreads({ threads: 2, minElements: 1000 });
afterAll(() => void configureMatmulThreads(before));

/** Byte addresses of four regions of `n` floats (plus a vector of slack each) in the memory. */
function regions(n: number): [number, number, number, number] {
  const bytes = Math.ceil((n * 4 + 64) / 16) * 16;
  rt.reserve(65536 + 4 * bytes);
  return [0, 1, 2, 3].map((i) => 65536 + i * bytes) as [number, number, number, number];
}

describe('threaded elementwise kernels', () => {
  const names = Object.keys(rt.exports).filter((n) => /_(v|vv|sv|vs)$/.test(n));
  it('cover the unary and binary exports', () => {
    expect(names).toEqual(expect.arrayContaining(['exp_v', 'gelu_v', 'geluTanh_v', 'erf_v', 'add_vv', 'mul_sv', 'sub_vs']));
  });

  for (const n of [1000, 4099, 70_001]) {
    it(`give one call's bits for every export at n = ${n}`, () => {
      const par = new ParallelElementwise(rt);
      const [a, b, outOne, outMany] = regions(n);
      const mem = rt.f32();
      for (let i = 0; i < n; i++) {
        mem[a / 4 + i] = ((i * 7919) % 2001 - 1000) / 97;
        mem[b / 4 + i] = ((i * 104729) % 1999 - 999) / 131 + 0.01;
      }
      const bytes = Math.ceil(n / 4) * 16;
      for (const name of names) {
        const binary = !name.endsWith('_v');
        const one = rt.exports[name as 'add_vv'] as (...args: number[]) => void;
        if (binary) one(a, b, outOne, bytes);
        else one(a, outOne, bytes);
        expect(par.run(name, n, a, binary ? b : null, outMany, bytes)).toBe(true);
        expect(Buffer.from(rt.memory.buffer, outMany, n * 4).equals(Buffer.from(rt.memory.buffer, outOne, n * 4)), name).toBe(true);
      }
    });
  }

  it('leaves small ops to the calling thread', () => {
    const [a, , out] = regions(999);
    expect(new ParallelElementwise(rt).run('exp_v', 999, a, null, out, 1008)).toBe(false);
  });

  it('run a GELU and a residual add through the backend with the single-threaded bits', async () => {
    await setBackend('cpu');
    const x = randn([2048, 64]), y = randn([2048, 64]);
    const ops = () => [x.gelu(), x.gelu({ approximate: 'tanh' }), x.add(y), x.mul(y.slice([[0, 1]]))].map((t) => t.dataSync());
    const threaded = ops();
    configureMatmulThreads({ threads: 1 });
    const alone = ops();
    configureMatmulThreads({ threads: 2 });
    threaded.forEach((t, i) => expect(Array.from(t)).toEqual(Array.from(alone[i]!)));
  });
});
