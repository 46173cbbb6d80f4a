// The GPT demo in its quick mode: every row of the report, and the files it saves opened by
// transformers and PEFT with the logits tsgrad computes from the same files.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUICK, runDemo } from '../../examples/gpt/demo.js';
import { SYMBOLS, encode } from '../../examples/gpt/data.js';
import { RUN_NAMES } from '../../examples/gpt/report.js';
import { io, models, nn, noGrad, scope, tensor } from '../../src/index.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('the GPT demo test (its files in transformers and PEFT)');
const script = resolve(import.meta.dirname, 'gpt_demo_hf.py');

interface HfLogits {
  ids: number[];
  base: number[];
  adapted: number[];
  targetModules: string[];
  fanInFanOut: boolean;
  rank: number;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe.skipIf(skip)('npm run demo -- --quick', () => {
  it('reports every run, and transformers + PEFT open its model and adapter with tsgrad\'s logits', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tsgrad-gpt-demo-'));
    const lines: string[] = [];
    const results = await runDemo({ seed: 0, backend: 'cpu', quick: true, out, log: (l) => lines.push(l) });

    expect(results.runs.map((r) => r.name)).toEqual(RUN_NAMES);
    const run = (name: string) => results.runs.find((r) => r.name === name)!;
    // GPT-2's parameters: embeddings, and per block two LayerNorms, c_attn, c_proj, c_fc, c_proj (lm_head tied to wte).
    const [V, P, C, L] = [96, 64, 64, 2];
    const total = V * C + P * C + L * (2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)) + 2 * C;
    expect(run('full').trainable).toBe(total);
    expect(run('scratch').trainable).toBe(total);
    // LoRA on c_attn: A [r, 64] and B [192, r] in each block.
    for (const r of [1, 4, 8]) expect(run(`lora-r${r}`).trainable).toBe(L * r * (C + 3 * C));
    expect(run('base').trainable).toBe(0);
    // Rank 4 over a float16 base and over an NF4 base trains the same adapters as over float32.
    const lora4 = L * 4 * (C + 3 * C);
    for (const name of ['lora-r4-float16', 'lora-r4-nf4']) {
      expect(run(name).trainable).toBe(lora4);
      expect(run(name).gradOptimizerBytes).toBe(run('lora-r4').gradOptimizerBytes);
    }
    // Weights, counted from the storages: 4 bytes a value in float32, 2 in float16; NF4 packs the
    // blocks' 12·C² weights per block at half a byte each, plus one 8-bit absmax per 64 values and
    // a few float32 second-level scales (double quantization); everything else stays float32.
    expect(run('lora-r4').weightBytes).toBe(4 * (total + lora4));
    expect(run('full').weightBytes).toBe(4 * total);
    expect(run('lora-r4-float16').weightBytes).toBe(2 * total + 4 * lora4);
    const quantized = L * 12 * C * C;
    const nf4Floor = 4 * (total - quantized) + quantized / 2 + quantized / 64 + 4 * lora4;
    expect(run('lora-r4-nf4').weightBytes).toBeGreaterThanOrEqual(nf4Floor);
    expect(run('lora-r4-nf4').weightBytes).toBeLessThan(nf4Floor + quantized / 64);
    for (const r of results.runs.slice(1)) {
      expect(r.steps).toBe(QUICK.adaptSteps);
      // A gradient and two Adam moments of 4 bytes per trainable number.
      expect(r.gradOptimizerBytes).toBe(12 * r.trainable);
      expect(r.activationBytes).toBeGreaterThan(0);
      expect(r.msPerStep).toBeGreaterThan(0);
    }
    for (const r of results.runs) {
      expect(Number.isFinite(r.heldOutLoss)).toBe(true);
      expect(r.heldOutLoss).toBeLessThan(Math.log(V) + 0.5);
      expect(r.sample).toMatch(/^[\n -~]+$/);
    }
    expect(results.checks.pretrainedReloadMaxDiff).toBeLessThanOrEqual(1e-5);
    expect(results.checks.adapterReloadMaxDiff).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(results.checks.mergedHeldOutLoss - results.checks.unmergedHeldOutLoss)).toBeLessThan(1e-4);
    for (const label of ['base (no adaptation)', 'LoRA rank 1', 'LoRA rank 4', 'LoRA rank 8', 'LoRA rank 4, float16 base', 'LoRA rank 4, NF4 base (QLoRA)', 'full fine-tuning', 'from scratch']) {
      expect(lines.flatMap((l) => l.split('\n')).filter((l) => l.startsWith(`| ${label} `))).toHaveLength(1);
    }
    const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(saved.runs.map((r: { heldOutLoss: number }) => r.heldOutLoss)).toEqual(results.runs.map((r) => r.heldOutLoss));
    const svg = readFileSync(join(out, 'loss.svg'), 'utf8');
    expect(svg.match(/<polyline/g)).toHaveLength(8);
    expect(svg.match(/<circle/g)).toHaveLength(8);

    // The same files in tsgrad and in transformers + PEFT.
    const text = 'Fellow-Citizens of the Senate and House of Representatives:';
    const hf = await runHfPython<HfLogits>(script, [join(out, 'base'), join(out, 'adapter'), text]);
    expect(hf.ids).toEqual(Array.from(encode(text)));
    expect(hf).toMatchObject({ targetModules: ['c_attn'], fanInFanOut: true, rank: 4 });
    const model = await models.GPT2LMHeadModel.fromPretrained(join(out, 'base'));
    const logits = async () => noGrad(() => scope(() => model.forward(tensor([hf.ids], { dtype: 'int32' })).data()));
    expect(maxAbsDiff(await logits(), hf.base)).toBeLessThan(1e-4);
    nn.applyLoRA(model, { targets: ['c_attn'], rank: 4, alpha: 4 });
    io.loadAdapterDir(model, join(out, 'adapter'));
    const adapted = await logits();
    expect(maxAbsDiff(adapted, hf.adapted)).toBeLessThan(1e-4);
    // The adapter changes the model: the check above is not base against base.
    expect(maxAbsDiff(adapted, hf.base)).toBeGreaterThan(1e-3);
    const vocab = JSON.parse(readFileSync(join(out, 'base', 'vocab.json'), 'utf8')) as Record<string, number>;
    expect(Object.keys(vocab)).toHaveLength(SYMBOLS.length);
    expect([...SYMBOLS].map((ch) => vocab[ch])).toEqual(Array.from(SYMBOLS, (_, i) => i));
  }, 180_000);
});
