// The webgpu backend's elementwise kernel four elements an invocation (vec4 reads of operands
// whose innermost dim has stride 1, one element repeated for stride 0) against the same ops on
// the cpu backend: a bias row, a column broadcast along the innermost dim, a transposed copy of
// attention heads, int32 and a where; views that do not align to 4 keep the element kernel.
import { describe, expect, it } from 'vitest';
import { type Tensor, manualSeed, randn, tensor, where } from '../../src/index.js';
import { pipelines } from './support/webgpuPipelines.js';
import { backendBeforeAll } from '../backendAvailable.js';


interface Case {
  name: string;
  inputs: { shape: number[]; dtype?: 'int32' }[];
  f: (...xs: Tensor[]) => Tensor;
  /** The kernel key's start that must be compiled after the case ran. */
  kernel: string;
}

const cases: Case[] = [
  { name: 'a contiguous add', inputs: [{ shape: [3, 8] }, { shape: [3, 8] }], f: (a, b) => a.add(b), kernel: 'ew4|v0 + v1|float32,float32|float32|1|00' },
  { name: 'a bias row over [6, 12]', inputs: [{ shape: [6, 12] }, { shape: [12] }], f: (a, b) => a.add(b), kernel: 'ew4|v0 + v1|float32,float32|float32|2|00' },
  { name: 'a column repeated along the innermost dim', inputs: [{ shape: [5, 8] }, { shape: [5, 1] }], f: (a, b) => a.mul(b), kernel: 'ew4|v0 * v1|float32,float32|float32|2|01' },
  { name: 'heads [B, H, T, E] transposed to [B, T, H, E] and copied', inputs: [{ shape: [2, 3, 5, 8] }], f: (a) => a.transpose(1, 2).contiguous(), kernel: 'ew4|v0|float32|float32|4|0' },
  { name: 'int32 products and a where', inputs: [{ shape: [4, 4], dtype: 'int32' }, { shape: [4, 4], dtype: 'int32' }], f: (a, b) => where(a.gt(b), a.mul(b), b), kernel: 'ew4|select(v2, v1, v0 != 0)' },
  { name: 'an innermost dim of 6 keeps the element kernel', inputs: [{ shape: [4, 6] }, { shape: [6] }], f: (a, b) => a.sub(b), kernel: 'ew|v0 - v1|float32,float32|float32|2' },
  { name: 'a view at offset 2 keeps the element kernel', inputs: [{ shape: [26] }], f: (a) => a.slice([[2, 26]]).reshape([3, 8]).exp(), kernel: 'ew|exp(v0)|float32|float32|1' },
];

describe('webgpu elementwise, four elements an invocation', () => {
  const available = backendBeforeAll('webgpu', 'elementwise tests');

  for (const c of cases) {
    it(c.name, async (t) => {
      if (!available()) return t.skip();
      manualSeed(5);
      const data = c.inputs.map(({ shape, dtype }) => {
        const x = randn(shape).mul(4);
        return dtype ? x.round().cast('int32') : x;
      });
      const got = c.f(...(await Promise.all(data.map((x) => x.to('webgpu')))));
      const want = c.f(...data);
      expect(got.shape).toEqual(want.shape);
      const g = Array.from(await got.data()), w = Array.from(want.dataSync());
      w.forEach((v, i) => expect(Math.abs(g[i]! - v), `element ${i}: got ${g[i]}, want ${v}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
      expect([...pipelines().keys()].some((k) => k.startsWith(c.kernel))).toBe(true);
    });
  }

  it('writes into a strided destination through copy', async (t) => {
    if (!available()) return t.skip();
    const x = tensor(Array.from({ length: 32 }, (_, i) => i), { backend: 'webgpu' }).reshape([4, 8]);
    const y = tensor(Array.from({ length: 16 }, (_, i) => -i), { backend: 'webgpu' }).reshape([2, 8]);
    // Rows 1 and 3 of x take y's rows: a destination view with row stride 16.
    x.reshape([2, 2, 8]).slice([[0, 2], [1, 2], [0, 8]]).copy_(y.reshape([2, 1, 8]));
    expect(Array.from(await x.data())).toEqual(Array.from({ length: 32 }, (_, i) => (Math.floor(i / 8) % 2 ? -((Math.floor(i / 16) * 8) + (i % 8)) : i)));
  });
});
