// GPT-2 from Hugging Face files against transformers itself: tiny models made by make_gpt2.py
// (one python call makes every variant and what transformers computes from them).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsgradError, io, models, nn, noGrad, tensor, type Tensor } from '../../src/index.js';
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
