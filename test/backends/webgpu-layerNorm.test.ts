// The webgpu backend's fused LayerNorm (a loop per row forward and for dx, a loop per column for
// dweight and dbias) against core's composed ops on the cpu backend, on the same float32 inputs:
// outputs and first-order gradients with and without weight or bias, strided and offset inputs,
// more rows and more columns than one workgroup holds, rows read as floats and as vec4s.
import { describe, expect, it } from 'vitest';
import { type Tensor, backendStats, grad, manualSeed, nn, randn, resetStats, tensor } from '../../src/index.js';
import { pipelines } from './support/webgpuPipelines.js';
import { backendBeforeAll } from '../backendAvailable.js';
import { expectClose, installComposedCpu } from '../fused.js';

const COMPOSED = installComposedCpu();


interface Case { name: string; shape: number[]; weight: boolean; bias: boolean; transpose?: boolean; offset?: number }

const cases: Case[] = [
  { name: 'GPT-like rows with weight and bias', shape: [4, 70, 64], weight: true, bias: true },
  { name: 'no weight or bias, 300 rows (two workgroups)', shape: [300, 5], weight: false, bias: false },
  { name: 'weight only, 300 columns (two workgroups for dweight)', shape: [3, 300], weight: true, bias: false },
  { name: 'vec4 rows: 1100 columns (two workgroups of four columns each for dweight)', shape: [3, 1100], weight: true, bias: true },
  { name: 'a contiguous input at offset 2 (float reads though d % 4 == 0)', shape: [5, 12], weight: true, bias: true, offset: 2 },
  { name: 'bias only, a transposed (strided) input', shape: [6, 9, 7], weight: false, bias: true, transpose: true },
];

/** y and the gradients of sum(y · u) for x, weight and bias on `backend`. */
async function run(c: Case, backend: string, data: number[][]): Promise<number[][]> {
  const leaf = (d: number[], shape: number[]) => tensor(d.slice(0, shape.reduce((a, b) => a * b, 1)), { backend, requiresGrad: true }).reshape(shape);
  const n = c.shape.reduce((a, b) => a * b, 1);
  const x0 = c.offset ? tensor(data[0]!.slice(0, n + c.offset), { backend, requiresGrad: true }) : leaf(data[0]!, c.shape);
  const x1 = c.offset ? x0.slice([[c.offset, c.offset + n]]).reshape(c.shape) : x0;
  const x = c.transpose ? x1.transpose(0, 1) : x1;
  const d = x.shape.at(-1)!;
  const w = c.weight ? leaf(data[1]!, [d]) : null, b = c.bias ? leaf(data[2]!, [d]) : null;
  const y = nn.functional.layerNorm(x, w, b, 1e-5);
  const leaves = [x0, w, b].filter((t): t is Tensor => t !== null);
  const gs = grad(y.mul(tensor(data[3]!.slice(0, y.size), { backend }).reshape(y.shape)).sum(), leaves);
  return Promise.all([y, ...gs].map(async (t) => Array.from(await t!.data())));
}

describe('webgpu fused layerNorm', () => {
  const available = backendBeforeAll('webgpu', 'fused layerNorm tests');

  for (const c of cases) {
    it(c.name, async (t) => {
      if (!available()) return t.skip();
      manualSeed(11);
      const n = c.shape.reduce((a, b) => a * b, 1) + (c.offset ?? 0);
      const data = [0, 1, 2, 3].map((i) => Array.from(randn([n]).mul(i === 0 ? 3 : 1).add(i === 0 ? 1 : 0).dataSync()));
      resetStats('webgpu');
      const got = await run(c, 'webgpu', data);
      expect(backendStats('webgpu').byOp.get('fused:layerNorm')).toBe(1);
      expect(backendStats('webgpu').byOp.get('fused:layerNormBackward')).toBe(1);
      const vec = c.shape.at(-1)! % 4 === 0 && (c.offset ?? 0) % 4 === 0;
      expect(pipelines().has(`layerNorm|${c.weight}|${c.bias}|${vec}`)).toBe(true);
      expect(pipelines().has(`layerNormBackward|rows|${c.weight}|${vec}`)).toBe(true);
      const want = await run(c, COMPOSED, data);
      got.forEach((g, i) => expectClose(g, want[i]!, 1e-4, ['y', 'dx', 'dweight or dbias', 'dbias'][i]!));
    });
  }
});
