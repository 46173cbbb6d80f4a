// LoRA on GPT-2's attention against transformers and real PEFT (gpt2_lora.py, from .venv-hf), on a
// tiny GPT-2 transformers made (fixed seed, 2 layers, width 64): tsgrad's adapter is the one PEFT
// writes and PEFT opens it with tsgrad's logits; an adapter PEFT trained loads into tsgrad with
// PEFT's logits; a merged model saved with savePretrained opens in transformers with the same logits.
// Without the venv, training LoRA on GPT-2 still checks that only A and B train.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, io, manualSeed, memoryReport, models, nn, noGrad, optim, randn, scope } from '../../src/index.js';
import { hfUnavailable, hfVersions, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('test/models/gpt2-lora.test.ts');
const script = join(import.meta.dirname, 'gpt2_lora.py');
const out = mkdtempSync(join(tmpdir(), 'tsgrad-gpt2-lora-'));
let made: { ids: number[][]; peftLogits: number[][][]; peftMinBNorm: number };

const maxDiff = (got: Tensor, want: number[][][]) => {
  const flat = want.flat(2);
  return Array.from(got.dataSync()).reduce((m, v, i) => Math.max(m, Math.abs(v - flat[i]!)), 0);
};
const readConfig = (dir: string) => JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
const shapes = (dir: string) => Object.fromEntries(Object.entries(io.loadSafetensors(join(dir, 'adapter_model.safetensors')).tensors).map(([k, t]) => [k, t.shape]));

describe('LoRA on GPT-2\'s c_attn', () => {
  it('trains A and B only: frozen weights bit-identical, no gradients or Adam state for them, the loss falls', () => {
    manualSeed(0);
    const model = new models.GPT2LMHeadModel({ nLayer: 2, nEmbd: 64, nHead: 4, vocabSize: 50, nPositions: 16 }).eval();
    const report = nn.applyLoRA(model, { targets: ['c_attn'], rank: 4, alpha: 8 });
    expect(report.replaced).toEqual(['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']);
    const adapter = 4 * 64 + 192 * 4;
    expect(report.trainable).toBe(2 * adapter);
    const frozen = model.namedParameters().filter(([, p]) => !p.requiresGrad).map(([n, p]) => [n, Array.from(p.dataSync())] as const);
    expect(frozen.map(([n]) => n)).toContain('transformer.h.0.attn.c_attn.base.weight');
    const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
    const ids = [[1, 5, 9, 2, 7, 3, 8, 4], [6, 2, 2, 9, 1, 4, 7, 5]];
    const targets = ids.flatMap((row) => [...row.slice(1), 0]);
    const losses: number[] = [];
    for (let step = 0; step < 4; step++) {
      scope(() => {
        const loss = nn.functional.crossEntropy(model.forward(ids).reshape([-1, 50]), targets);
        loss.backward();
        losses.push(loss.itemSync());
        opt.step();
      });
    }
    expect(losses[3]).toBeLessThan(losses[0]!);
    const params = new Map(model.namedParameters());
    for (const [n, values] of frozen) {
      expect(params.get(n)!.grad, n).toBeNull();
      expect(Array.from(params.get(n)!.dataSync()), n).toEqual(values);
    }
    const r = memoryReport(model, opt);
    expect(r.optimizerState.elements).toBe(2 * 2 * adapter);
    expect(r.gradients.elements).toBe(2 * adapter);
  });
});

describe.skipIf(skip)(`LoRA on GPT-2 against transformers and PEFT (${hfVersions})`, () => {
  beforeAll(async () => {
    made = await runHfPython(script, ['make', out]);
  }, 180_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('an adapter PEFT trained (B non-zero) loads into tsgrad with PEFT\'s logits', async () => {
    expect(made.peftMinBNorm).toBeGreaterThan(0);
    const model = await models.GPT2LMHeadModel.fromPretrained(join(out, 'base'));
    io.loadAdapterDir(model, join(out, 'peft'));
    const attn = model.transformer.h.at(0).attn;
    expect(attn.c_attn).toBeInstanceOf(nn.LoRALinear);
    expect((attn.c_attn as unknown as nn.LoRALinear<nn.Conv1D>).base).toBeInstanceOf(nn.Conv1D);
    expect(attn.c_attn.weight.shape).toEqual([64, 192]); // the frozen Conv1D weight, as PEFT exposes it
    expect(maxDiff(noGrad(() => model.forward(made.ids)), made.peftLogits)).toBeLessThan(1e-5);
  });

  it('tsgrad → PEFT: the adapter is what PEFT writes; PeftModel.from_pretrained gives tsgrad\'s logits, and so does the merged model in transformers', async () => {
    const base = join(out, 'base');
    const model = await models.GPT2LMHeadModel.fromPretrained(base);
    manualSeed(7);
    nn.applyLoRA(model, { targets: ['c_attn'], rank: 4, alpha: 8 });
    noGrad(() => {
      for (const m of model.modules()) if (m instanceof nn.LoRALinear) m.loraB.copy_(randn(m.loraB.shape).mul(0.2));
    });
    const ts = join(out, 'ts');
    mkdirSync(ts);
    await io.saveAdapterDir(model, join(ts, 'adapter'));
    writeFileSync(join(ts, 'ids.json'), JSON.stringify(made.ids));
    const logits = noGrad(() => model.forward(made.ids));
    nn.mergeAndUnload(model);
    expect(maxDiff(noGrad(() => model.forward(made.ids)), logits.arraySync() as number[][][])).toBeLessThan(1e-5);
    await model.savePretrained(join(ts, 'merged'));

    const ours = readConfig(join(ts, 'adapter'));
    const theirs = readConfig(join(out, 'reference'));
    expect(ours.target_modules).toEqual(['c_attn']);
    expect([ours.fan_in_fan_out, ours.task_type, ours.base_model_name_or_path]).toEqual([true, 'CAUSAL_LM', base]);
    for (const field of ['peft_type', 'r', 'lora_alpha', 'lora_dropout', 'use_rslora', 'fan_in_fan_out', 'bias', 'task_type', 'target_modules', 'base_model_name_or_path', 'rank_pattern', 'alpha_pattern']) {
      expect(ours[field], field).toEqual(theirs[field]);
    }
    expect(shapes(join(ts, 'adapter'))).toEqual(shapes(join(out, 'reference')));
    expect(Object.keys(shapes(join(ts, 'adapter')))).toContain('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight');

    const r = await runHfPython<{ type: string; adapterLogits: number[][][]; mergedLogits: number[][][] }>(script, ['check', out]);
    expect(r.type).toBe('PeftModelForCausalLM');
    expect(maxDiff(logits, r.adapterLogits)).toBeLessThan(1e-5);
    expect(maxDiff(logits, r.mergedLogits)).toBeLessThan(1e-5);
  }, 180_000);
});
