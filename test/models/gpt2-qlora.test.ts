// QLoRA on a tiny GPT-2: LoRA trained over an NF4 (double-quantized) base, its blocks' layers
// alone or with the embedding table and its tied head, saves the same PEFT adapter as over a
// float32 one, and real PEFT (gpt2_qlora.py, from .venv-hf) opens it on the float32 model holding
// the dequantized weights with tsgrad's logits; tsgrad's LoRA on that dequantized model agrees too.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Tensor, io, manualSeed, models, nn, noGrad } from '../../src/index.js';
import { hfUnavailable, hfVersions, runHfPython } from '../huggingface.js';
import { trainNextToken } from './trainSteps.js';

const skip = hfUnavailable('test/models/gpt2-qlora.test.ts');
const root = mkdtempSync(join(tmpdir(), 'tsgrad-gpt2-qlora-'));
const config = { nLayer: 2, nEmbd: 64, nHead: 4, vocabSize: 101, nPositions: 32 };

const maxDiff = (got: Tensor, want: number[][][]) => {
  const flat = want.flat(2);
  return Array.from(got.dataSync()).reduce((m, v, i) => Math.max(m, Math.abs(v - flat[i]!)), 0);
};

describe.skipIf(skip)(`an adapter trained over an NF4 base, in PEFT (${hfVersions})`, () => {
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const cases = [['the blocks', ['c_attn', 'c_proj', 'c_fc']], ['the blocks and wte (with its tied lm_head)', ['c_attn', 'c_proj', 'c_fc', 'wte']]] as const;
  it.each(cases)('over %s: the PEFT adapter; PEFT on the dequantized float32 model gives tsgrad\'s logits', async (_, targets) => {
    const out = mkdtempSync(join(root, 'case-'));
    manualSeed(0);
    const model = new models.GPT2LMHeadModel(config).eval();
    const floatState = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.clone()]));
    const q = nn.quantize(model, { format: 'nf4', targets: [...targets], doubleQuant: true });
    expect(q.replaced).toHaveLength(targets.length === 4 ? 10 : 8);
    if (targets.length === 4) expect((model.lm_head as unknown as nn.QuantizedLinear).qweight).toBe((model.transformer.wte as unknown as nn.QuantizedEmbedding).qweight);
    nn.applyLoRA(model, { targets: ['c_attn', 'c_proj'], rank: 4, alpha: 8 });
    const ids = [[1, 5, 9, 2, 7, 3, 8, 4], [6, 2, 2, 9, 1, 4, 7, 5]];
    trainNextToken(model, ids);
    const adapters = model.modules().filter((m): m is nn.LoRALinear<nn.QuantizedLinear> => m instanceof nn.LoRALinear);
    expect(adapters.every((l) => l.base instanceof nn.QuantizedLinear && l.loraB.abs().max().itemSync() > 0)).toBe(true);
    const logits = noGrad(() => model.forward(ids));
    await io.saveAdapterDir(model, join(out, 'adapter'));
    const adapterConfig = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8'));
    expect([adapterConfig.target_modules, adapterConfig.fan_in_fan_out, adapterConfig.r]).toEqual([['c_attn', 'c_proj'], true, 4]);

    // The float32 model PEFT will see: the original weights, each quantized one replaced by its dequantization.
    const dense = new models.GPT2LMHeadModel(config).eval();
    dense.loadStateDict(floatState);
    const layers = new Map(dense.namedModules());
    for (const [path, m] of model.namedModules()) {
      if (!(m instanceof nn.QuantizedLinear || m instanceof nn.QuantizedEmbedding)) continue;
      const target = layers.get(path.replace(/\.base$/, '')) as nn.Conv1D | nn.Embedding;
      noGrad(() => target.weight.copy_(m.dequantize()));
    }
    await dense.savePretrained(join(out, 'base'));
    writeFileSync(join(out, 'ids.json'), JSON.stringify(ids));

    // The adapter loads onto the same base quantized again, for QLoRA inference.
    const again = new models.GPT2LMHeadModel(config).eval();
    again.loadStateDict(floatState);
    nn.quantize(again, { format: 'nf4', targets: [...targets], doubleQuant: true });
    io.loadAdapterDir(again, join(out, 'adapter'));
    expect(maxDiff(noGrad(() => again.forward(ids)), logits.arraySync() as number[][][])).toBe(0);

    io.loadAdapterDir(dense, join(out, 'adapter'));
    expect(maxDiff(noGrad(() => dense.forward(ids)), logits.arraySync() as number[][][])).toBeLessThan(1e-5);

    const r = await runHfPython<{ type: string; logits: number[][][] }>(join(import.meta.dirname, 'gpt2_qlora.py'), [out]);
    expect(r.type).toBe('PeftModelForCausalLM');
    expect(maxDiff(logits, r.logits)).toBeLessThan(1e-5);
  }, 180_000);
});
