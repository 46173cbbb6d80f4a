// nn.functional.layerNorm and crossEntropy against PyTorch's F.layer_norm and F.cross_entropy:
// outputs and gradients, float32 (the CPU backend's fused kernels on the module's memory) and float64.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { grad, manualSeed, nn, randn, tensor } from '../../src/index.js';
import type { Reduction } from '../../src/nn/losses.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('layerNorm and crossEntropy against PyTorch');
const F = nn.functional;
type DT = 'float32' | 'float64';

const values = (n: number, scale: number) => Array.from(randn([n], { dtype: 'float64' }).mul(scale).dataSync());
const weights = (n: number) => Array.from({ length: n }, (_, i) => 1 + Math.cos(i));

interface LnCase { op: 'layerNorm'; dtype: DT; shape: number[]; x: number[]; w: number[]; b: number[]; u: number[]; eps: number }
interface CeCase {
  op: 'crossEntropy'; dtype: DT; shape: number[]; x: number[]; u: number[]; target: number[]; targetShape: number[];
  ignoreIndex: number; reduction: Reduction; labelSmoothing: number;
}
type Case = LnCase | CeCase;

function build(): Case[] {
  manualSeed(21);
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const shape of [[4, 16, 64], [3, 5]]) {
      const n = shape.reduce((p, d) => p * d, 1), d = shape[shape.length - 1]!;
      cases.push({ op: 'layerNorm', dtype, shape, x: values(n, 2).map((v) => v + 0.5), w: values(d, 1), b: values(d, 1), u: weights(n), eps: 1e-5 });
    }
    const ce = (shape: number[], targetShape: number[], target: number[], ignoreIndex: number, reduction: Reduction, labelSmoothing: number) => {
      const n = shape.reduce((p, d) => p * d, 1);
      cases.push({ op: 'crossEntropy', dtype, shape, x: values(n, 3), u: weights(reduction === 'none' ? target.length : 1), target, targetShape, ignoreIndex, reduction, labelSmoothing });
    };
    const big = Array.from({ length: 256 }, (_, i) => (i * 37) % 96);
    ce([256, 96], [256], big, -100, 'mean', 0);
    ce([6, 5], [6], [0, -100, 4, 2, -100, 1], -100, 'mean', 0.1);
    ce([6, 5], [6], [0, 3, 4, 2, 3, 1], 3, 'sum', 0);
    ce([2, 4, 3], [2, 3], [1, 0, 3, 2, 2, 1], 2, 'none', 0.25);
  }
  return cases;
}

function ours(c: Case): { y: number[]; dx: number[]; dw?: number[]; db?: number[] } {
  const x = tensor(c.x, { dtype: c.dtype, requiresGrad: true }).reshape(c.shape);
  if (c.op === 'layerNorm') {
    const w = tensor(c.w, { dtype: c.dtype, requiresGrad: true }), b = tensor(c.b, { dtype: c.dtype, requiresGrad: true });
    const y = F.layerNorm(x, w, b, c.eps);
    const [dx, dw, db] = grad(y.reshape([-1]).mul(tensor(c.u, { dtype: c.dtype })).sum(), [x, w, b]);
    return { y: Array.from(y.dataSync()), dx: Array.from(dx!.dataSync()), dw: Array.from(dw!.dataSync()), db: Array.from(db!.dataSync()) };
  }
  const t = tensor(c.target, { dtype: 'int32' }).reshape(c.targetShape);
  const y = F.crossEntropy(x, t, { ignoreIndex: c.ignoreIndex, reduction: c.reduction, labelSmoothing: c.labelSmoothing });
  const [dx] = grad(y.reshape([-1]).mul(tensor(c.u, { dtype: c.dtype })).sum(), [x]);
  return { y: Array.from(y.dataSync()), dx: Array.from(dx!.dataSync()) };
}

function expectClose(what: string, got: number[], want: number[], tol: number): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)))) expect.fail(`${what}[${i}]: got ${got[i]}, PyTorch ${want[i]}`);
  }
}

describe.skipIf(skip)('layerNorm and crossEntropy against PyTorch', () => {
  it('agree in outputs and gradients, float32 and float64', async () => {
    const cases = build();
    const dir = mkdtempSync(join(tmpdir(), 'tsgrad-norm-loss-'));
    try {
      writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
      const want = await runHfPython<{ y: number[]; dx: number[]; dw?: number[]; db?: number[] }[]>(join(import.meta.dirname, 'norm_loss_reference.py'), [join(dir, 'cases.json')]);
      cases.forEach((c, i) => {
        const got = ours(c), tol = c.dtype === 'float32' ? 5e-5 : 1e-10;
        const name = `${c.op} ${c.dtype} [${c.shape}]`;
        for (const k of ['y', 'dx', 'dw', 'db'] as const) if (want[i]![k]) expectClose(`${name} ${k}`, got[k]!, want[i]![k]!, tol);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
