// A float16 GPT-2: `model.to({ dtype })` halves the frozen bytes (counted from the storages), the
// forward reads the 16-bit weights in float32 and matches the float32 model holding the same
// (rounded) weights; savePretrained writes an F16 checkpoint that transformers (gpt2_half.py,
// from .venv-hf) loads as float16 with tsgrad's logits, and fromPretrained reads back bit for bit.
// LoRA over the float16 base trains float32 A/B, and PEFT opens the adapter with tsgrad's logits.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Tensor, bfloat16Bits, bfloat16Value, initBackend, io, manualSeed, models, nn, noGrad, registerBackend } from '../../src/index.js';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { storedData } from '../../src/core/seams.js';
import { hfUnavailable, hfVersions, runHfPython } from '../huggingface.js';
import { trainNextToken } from './trainSteps.js';

const config = { nLayer: 2, nEmbd: 64, nHead: 4, vocabSize: 101, nPositions: 32 };
const ids = [[1, 5, 9, 2, 7, 3, 8, 4], [6, 2, 2, 9, 1, 4, 7, 5]];

const maxDiff = (got: Tensor, want: number[]) => Array.from(got.dataSync()).reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);

describe('a float16 GPT-2 on the CPU', () => {
  it('stores its parameters in half the bytes and computes the float32 logits of its rounded weights', async () => {
    manualSeed(0);
    const model = new models.GPT2LMHeadModel(config).eval();
    const before = nn.memoryReport(model).frozenParams.bytes + nn.memoryReport(model).trainableParams.bytes;
    await model.to({ dtype: 'float16' });
    expect(new Set(model.parameters().map((p) => `${p.dtype} ${p.requiresGrad}`))).toEqual(new Set(['float16 false']));
    const report = nn.memoryReport(model);
    expect(report.trainableParams.bytes).toBe(0);
    expect(report.frozenParams.bytes).toBe(before / 2);
    const logits = noGrad(() => model.forward(ids));
    expect(logits.dtype).toBe('float32');

    // The float32 model of the same rounded weights: float16 → float32 is exact.
    const wide = new models.GPT2LMHeadModel(config).eval();
    wide.loadStateDict(model.stateDict());
    expect(wide.parameters().every((p) => p.dtype === 'float32')).toBe(true);
    const want = noGrad(() => wide.forward(ids));
    expect(maxDiff(logits, Array.from(want.dataSync()))).toBeLessThan(1e-5);

    // And back: to({ dtype: 'float32' }) widens exactly.
    await model.to({ dtype: 'float32' });
    expect(maxDiff(noGrad(() => model.forward(ids)), Array.from(want.dataSync()))).toBe(0);
  });

  it('builds straight into 16 bits with the bits of a float32 model cast once, its parameters frozen', async () => {
    for (const dtype of ['float16', 'bfloat16'] as const) {
      manualSeed(5);
      const direct = new models.GPT2LMHeadModel(config, { dtype });
      manualSeed(5);
      const cast = new models.GPT2LMHeadModel(config);
      await cast.to({ dtype });
      const [a, b] = [direct.stateDict(), cast.stateDict()];
      expect(Object.keys(a)).toEqual(Object.keys(b));
      for (const k of Object.keys(a)) {
        expect(a[k]!.dtype, k).toBe(dtype);
        expect(Array.from(await storedData(a[k]!)), k).toEqual(Array.from(await storedData(b[k]!)));
      }
      expect(direct.parameters().some((p) => p.requiresGrad)).toBe(false);
      expect(direct.lm_head.weight).toBe(direct.transformer.wte.weight);
    }
    const fc = new nn.Linear(3, 2, { dtype: 'bfloat16' });
    expect([fc.weight.dtype, fc.weight.requiresGrad, fc.bias!.requiresGrad]).toEqual(['bfloat16', false, false]);
    expect(() => new nn.Conv2d(1, 1, 3, { dtype: 'float16' } as never)).toThrow(/dtype/);
  });

  it('refuses what a 16-bit parameter cannot do, naming it', async () => {
    const model = new models.GPT2LMHeadModel(config);
    await model.to({ dtype: 'bfloat16' });
    expect(() => model.transformer.ln_f.weight!.requiresGrad_()).toThrow(/bfloat16 tensors hold frozen weights/);
    expect(() => model.transformer.wte.weight.sum()).toThrow(/^sum: .*bfloat16.*t\.float\(\)/);
    await expect(model.to({ dtype: 'int32' as never })).rejects.toThrow(/dtype must be 'float32', 'float64', 'float16' or 'bfloat16'/);
    // A backend without 16-bit storage refuses the whole move before anything moves.
    registerBackend({ name: 'float32-only', checkOptions: () => {}, create: () => Object.assign(new CpuBackend(), { name: 'float32-only', dtypes: ['float32', 'int32'] }) });
    await initBackend('float32-only');
    await expect(model.to('float32-only')).rejects.toThrow(/backend 'float32-only' does not support bfloat16/);
    expect(model.parameters().every((p) => p.backend === 'cpu')).toBe(true);
  });
});

const skip = hfUnavailable('test/models/gpt2-half.test.ts');
const out = mkdtempSync(join(tmpdir(), 'tsgrad-gpt2-half-'));

describe.skipIf(skip)(`float16 checkpoints and LoRA over a float16 base, in transformers and PEFT (${hfVersions})`, () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('saves an F16 checkpoint transformers loads with the same logits; an adapter trained over it loads in PEFT', async () => {
    manualSeed(0);
    const model = new models.GPT2LMHeadModel(config).eval();
    await model.to({ dtype: 'float16' });
    await model.savePretrained(join(out, 'half'));
    expect(JSON.parse(readFileSync(join(out, 'half', 'config.json'), 'utf8')).dtype).toBe('float16');
    const header = io.safetensorsHeader(readFileSync(join(out, 'half', 'model.safetensors')));
    expect(new Set(header.tensors.map((t) => t.dtype))).toEqual(new Set(['F16']));

    // Read back as stored, bit for bit; and a float16 file asked for as bfloat16 is rounded once.
    const back = await models.GPT2LMHeadModel.fromPretrained(join(out, 'half'), { dtype: 'float16' });
    const w = model.transformer.h.at(0).attn.c_attn.weight, wBack = back.transformer.h.at(0).attn.c_attn.weight;
    expect(wBack.dtype).toBe('float16');
    expect(Array.from(await storedData(wBack))).toEqual(Array.from(await storedData(w)));
    const logits = noGrad(() => model.forward(ids));
    expect(maxDiff(noGrad(() => back.forward(ids)), Array.from(logits.dataSync()))).toBe(0);
    const bf = await models.GPT2LMHeadModel.fromPretrained(join(out, 'half'), { dtype: 'bfloat16' });
    expect(Array.from(bf.transformer.h.at(0).attn.c_attn.weight.dataSync())).toEqual(Array.from(w.dataSync(), (v) => bfloat16Value(bfloat16Bits(v))));

    // LoRA over the float16 base: float32 A and B, the base frozen in 16 bits.
    nn.applyLoRA(model, { targets: ['c_attn', 'c_proj'], rank: 4, alpha: 8 });
    const trainable = model.parameters().filter((p) => p.requiresGrad);
    expect(new Set(trainable.map((p) => p.dtype))).toEqual(new Set(['float32']));
    trainNextToken(model, ids);
    const adapters = model.modules().filter((m): m is nn.LoRALinear<nn.Conv1D> => m instanceof nn.LoRALinear);
    expect(adapters.length).toBe(6);
    expect(adapters.every((l) => l.weight.dtype === 'float16' && l.loraB.abs().max().itemSync() > 0)).toBe(true);
    const tuned = noGrad(() => model.forward(ids));
    await io.saveAdapterDir(model, join(out, 'adapter'));
    writeFileSync(join(out, 'ids.json'), JSON.stringify(ids));

    const r = await runHfPython<{ autoDtype: string; weightDtype: string; half: number[][][]; float: number[][][]; peft: number[][][] }>(join(import.meta.dirname, 'gpt2_half.py'), [out]);
    expect([r.autoDtype, r.weightDtype]).toEqual(['torch.float16', 'torch.float16']);
    // transformers on the same weights in float32 (what tsgrad computes), and in float16 itself.
    expect(maxDiff(logits, r.float.flat(2))).toBeLessThan(1e-5);
    expect(maxDiff(logits, r.half.flat(2))).toBeLessThan(2e-2);
    expect(maxDiff(tuned, r.peft.flat(2))).toBeLessThan(1e-5);
  }, 180_000);
});
