// GPT-2 on webgpu against the CPU backend: one folder written by savePretrained, loaded on each;
// logits, a training step's gradients and a padded, eos-stopped greedy decoding must agree.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { manualSeed, models, noGrad, scope, type Tensor } from '../../src/index.js';
import { backendBeforeAll } from '../backendAvailable.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgrad-gpt2-webgpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ids = [[49, 88, 2, 45, 59, 80, 43, 16], [51, 22, 100, 96, 66, 64, 40, 88]];
const mask = [[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]];

async function maxDiff(a: Tensor, b: Tensor): Promise<number> {
  const [x, y] = [await a.data(), await b.data()];
  return Array.from(x).reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}

describe('GPT-2 on webgpu', () => {
  const available = backendBeforeAll('webgpu', 'GPT-2 tests');

  it('gives the CPU backend\'s logits, gradients and greedy tokens', async (ctx) => {
    if (!available()) return ctx.skip();
    manualSeed(0);
    const made = new models.GPT2LMHeadModel({ vocabSize: 101, nPositions: 32, nEmbd: 64, nLayer: 2, nHead: 4, initializerRange: 0.2 });
    await made.savePretrained(dir);
    const cpu = await models.GPT2LMHeadModel.fromPretrained(dir);
    const gpu = await models.GPT2LMHeadModel.fromPretrained(dir, { backend: 'webgpu' });
    expect(gpu.parameters().every((p) => p.backend === 'webgpu')).toBe(true);
    const logits = await scope(async () => maxDiff(noGrad(() => gpu.forward(ids, { attentionMask: mask })), noGrad(() => cpu.forward(ids, { attentionMask: mask }))));
    expect(logits).toBeLessThan(1e-4);

    for (const model of [cpu, gpu]) {
      const loss = scope(() => model.forward(ids).logSoftmax(-1).mean());
      loss.backward();
      loss.dispose();
    }
    const gpuGrads = gpu.namedParameters();
    for (const [i, [name, p]] of cpu.namedParameters().entries()) {
      expect(await maxDiff(gpuGrads[i]![1].grad!, p.grad!), name).toBeLessThan(1e-5);
    }

    const greedy = (model: models.GPT2LMHeadModel) => model.generate(ids, { maxNewTokens: 8, attentionMask: mask, eosTokenId: 29, padTokenId: 0 });
    const [fromCpu, fromGpu] = [await greedy(cpu), await greedy(gpu)];
    expect(await fromGpu.toArray()).toEqual(fromCpu.arraySync());
    for (const t of [fromCpu, fromGpu, ...gpu.parameters().map((p) => p.grad!)]) t.dispose();
  }, 120_000);
});
