// GPT-2 from Hugging Face files against transformers itself: tiny models made by make_gpt2.py
// (one python call makes every variant and what transformers computes from them).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator, TsgradError, getBackend, io, models, nn, noGrad, tensor, type Tensor } from '../../src/index.js';
import { collectGarbage } from '../gc.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const SCRIPT = join(import.meta.dirname, 'make_gpt2.py');
const skip = hfUnavailable('GPT-2 parity with transformers');

interface Made {
  ids: number[][];
  mask: number[][];
  logits: Record<string, number[][][]>;
  maskedLogits: number[][][];
  greedy: { prompt: number[][]; single: number[][]; padded: number[][]; eos: number; stopped: number[][]; untied: number[][] };
  loss: number;
  gradNorms: Record<string, number>;
  raw: number[][];
  warpCases: { temperature?: number; topK?: number; topP?: number }[];
  warped: (number | null)[][][];
}

let dir = '';
let made: Made;

beforeAll(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'tsgrad-gpt2-'));
  made = runHfPython<Made>(SCRIPT, ['make', dir]);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The largest |a − b| over two nested arrays of one shape. */
function maxDiff(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length).toBe(b.length);
    return a.reduce((m: number, x, i) => Math.max(m, maxDiff(x, b[i])), 0);
  }
  return Math.abs((a as number) - (b as number));
}

const logitsOf = (model: models.GPT2LMHeadModel, ids: number[][], attentionMask?: number[][]) =>
  noGrad(() => model.forward(ids, { attentionMask })).arraySync() as number[][][];

/** Rows of `logits` at the positions `mask` marks real (transformers leaves padded positions unspecified). */
const realPositions = (logits: number[][][], mask: number[][]) => logits.map((row, b) => row.filter((_, t) => mask[b]![t] === 1));

describe.skipIf(skip)('GPT2LMHeadModel.fromPretrained', () => {
  for (const variant of ['plain', 'sharded', 'float16', 'bfloat16', 'noprefix', 'untied']) {
    it(`gives transformers' logits for the ${variant} checkpoint`, async () => {
      const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, variant));
      expect(model.training).toBe(false);
      expect(maxDiff(logitsOf(model, made.ids), made.logits[variant])).toBeLessThan(1e-4);
    });
  }

  it('applies an attention mask with padding as transformers does', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const ours = logitsOf(model, made.ids, made.mask);
    expect(maxDiff(realPositions(ours, made.mask), realPositions(made.maskedLogits, made.mask))).toBeLessThan(1e-4);
    expect(maxDiff(ours, made.maskedLogits)).toBeLessThan(1e-4);
  });

  it('ties lm_head to wte unless the config unties them', async () => {
    const tied = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    expect(tied.lm_head.weight).toBe(tied.transformer.wte.weight);
    expect(tied.namedParameters().map(([n]) => n)).not.toContain('lm_head.weight');
    const untied = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'untied'));
    expect(untied.lm_head.weight).not.toBe(untied.transformer.wte.weight);
    expect(untied.config.activationFunction).toBe('gelu');
    expect(untied.config.innerDim).toBe(96);
  });

  it('names PEFT and checkpoint paths as transformers does', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const paths = model.namedModules().map(([p]) => p);
    expect(paths).toEqual(expect.arrayContaining([
      'transformer.wte', 'transformer.wpe', 'transformer.h.0.ln_1', 'transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj',
      'transformer.h.1.ln_2', 'transformer.h.1.mlp.c_fc', 'transformer.h.1.mlp.c_proj', 'transformer.ln_f', 'lm_head',
    ]));
    expect(model.transformer.h.at(0).attn.c_attn).toBeInstanceOf(nn.Conv1D);
  });
});

describe.skipIf(skip)('GPT2LMHeadModel.generate', () => {
  it("equals transformers' greedy decoding token for token", async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const out = await model.generate(made.greedy.prompt, { maxNewTokens: 12, eosTokenId: null });
    expect(out.dtype).toBe('int32');
    expect(out.arraySync()).toEqual(made.greedy.single);
    const untied = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'untied'));
    expect((await untied.generate(made.greedy.prompt, { maxNewTokens: 12, eosTokenId: null })).arraySync()).toEqual(made.greedy.untied);
  });

  it('decodes a left-padded batch with its attention mask as transformers does', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const out = await model.generate(tensor(made.ids, { dtype: 'int32' }), { maxNewTokens: 12, attentionMask: made.mask, eosTokenId: null });
    expect(out.arraySync()).toEqual(made.greedy.padded);
  });

  it('pads rows that met the eos and goes on until every row has, as transformers does', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const out = await model.generate(made.ids, { maxNewTokens: 12, attentionMask: made.mask, eosTokenId: made.greedy.eos, padTokenId: 100 });
    expect(out.arraySync()).toEqual(made.greedy.stopped);
    // With the only row stopped at once, decoding ends there.
    const first = made.greedy.padded[1]![10]!;
    const short = await model.generate([made.ids[1]!], { maxNewTokens: 12, eosTokenId: [first, 99] });
    expect(short.arraySync()).toEqual([[...made.ids[1]!, first]]);
  });

  it('feeds one position per step through the cache, with the full forward\'s logits', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const ids = made.ids[1]!;
    const full = logitsOf(model, [ids]);
    const cache = new models.GPT2Cache();
    const steps = noGrad(() => [model.forward([ids.slice(0, 6)], { pastKeyValues: cache }), model.forward([ids.slice(6, 7)], { pastKeyValues: cache })]);
    expect(steps[1]!.shape).toEqual([1, 1, 101]);
    expect(cache.length).toBe(7);
    expect(maxDiff(steps[1]!.arraySync(), [[full[0]![6]]])).toBeLessThan(1e-4);
    cache.dispose();
  });

  it('keeps memory flat: only the output outlives the call', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const memory = () => (getBackend() as unknown as { memory(): { buffers: number } }).memory().buffers;
    const prompt = tensor(made.ids, { dtype: 'int32' });
    (await model.generate(prompt, { maxNewTokens: 2, attentionMask: made.mask, eosTokenId: 5 })).dispose();
    await collectGarbage();
    const before = memory();
    const out = await model.generate(prompt, { maxNewTokens: 12, attentionMask: made.mask, eosTokenId: 5, temperature: 0.8, topK: 20, topP: 0.9, generator: new Generator().manualSeed(1) });
    await collectGarbage();
    expect(memory()).toBe(before + 1);
    out.dispose();
  });

  it('samples reproducibly from a seeded generator, and topK 1 or temperature 0 is greedy', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const sample = (seed: number) => model.generate(made.greedy.prompt, { maxNewTokens: 12, eosTokenId: null, temperature: 1.5, topP: 0.95, generator: new Generator().manualSeed(seed) });
    const [a, b, c] = [await sample(7), await sample(7), await sample(8)];
    expect(a.arraySync()).toEqual(b.arraySync());
    expect(a.arraySync()).not.toEqual(c.arraySync());
    expect(a.arraySync()).not.toEqual(made.greedy.single);
    expect((await model.generate(made.greedy.prompt, { maxNewTokens: 12, eosTokenId: null, topK: 1, generator: new Generator().manualSeed(3) })).arraySync()).toEqual(made.greedy.single);
    expect((await model.generate(made.greedy.prompt, { maxNewTokens: 12, eosTokenId: null, temperature: 0 })).arraySync()).toEqual(made.greedy.single);
  });

  it("filters logits as transformers' temperature, top-k and top-p processors do", () => {
    made.warpCases.forEach((opts, i) => {
      const ours = models.warpLogits(tensor(made.raw), opts).arraySync() as number[][];
      const theirs = made.warped[i]!;
      expect(ours.map((row) => row.map((v) => v === -Infinity))).toEqual(theirs.map((row) => row.map((v) => v === null)));
      expect(maxDiff(ours.map((row) => row.map((v) => (v === -Infinity ? 0 : v))), theirs.map((row) => row.map((v) => v ?? 0)))).toBeLessThan(1e-5);
    });
  });

  it('refuses bad options before decoding anything', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const fails = async (opts: object, message: RegExp) => {
      const e = await model.generate(made.greedy.prompt, opts as models.GenerateOptions).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(TsgradError);
      expect((e as Error).message).toMatch(message);
    };
    await fails({ maxNewTokens: 0 }, /maxNewTokens must be a positive integer/);
    await fails({ maxNewTokens: 40 }, /5 prompt tokens \+ maxNewTokens 40 exceed the model's n_positions 32/);
    await fails({ maxNewTokens: 2, doSample: true, temperature: 0 }, /temperature 0/);
    await fails({ maxNewTokens: 2, topP: 0 }, /topP must be in \(0, 1\]/);
    await fails({ maxNewTokens: 2, eosTokenId: 101 }, /eosTokenId must be/);
    await fails({ maxNewTokens: 2, top_k: 3 }, /unknown option 'top_k'/);
  });
});

describe.skipIf(skip)('training', () => {
  it("matches transformers' loss and every gradient norm for one step", async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const V = model.config.vocabSize;
    const logits = model.forward(made.ids);
    const T = made.ids[0]!.length;
    const targets = tensor(made.ids.map((row) => row.slice(1)), { dtype: 'int32' }).reshape([-1]);
    const loss = nn.functional.crossEntropy(logits.slice([[0, 2], [0, T - 1]]).reshape([-1, V]), targets);
    expect(Math.abs(loss.itemSync() - made.loss)).toBeLessThan(1e-4);
    loss.backward();
    const names = model.namedParameters().map(([n]) => n);
    expect(names.sort()).toEqual(Object.keys(made.gradNorms).sort());
    for (const [name, p] of model.namedParameters()) {
      const norm = Math.sqrt(p.grad!.mul(p.grad!).sum().itemSync());
      expect(Math.abs(norm - made.gradNorms[name]!), name).toBeLessThan(1e-4 * Math.max(1, made.gradNorms[name]!));
    }
  });

  it('drops out in training mode and not in eval mode', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    const evalLogits = logitsOf(model, made.ids);
    model.train();
    const a = logitsOf(model, made.ids), b = logitsOf(model, made.ids);
    expect(maxDiff(a, b)).toBeGreaterThan(1e-3);
    model.eval();
    expect(maxDiff(logitsOf(model, made.ids), evalLogits)).toBe(0);
  });
});
