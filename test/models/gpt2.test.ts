// GPT-2 from Hugging Face files against transformers itself: tiny models made by make_gpt2.py
// (one python call makes every variant and what transformers computes from them).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator, TsgradError, defaultGenerator, getBackend, io, models, nn, noGrad, randn, tensor, type Tensor } from '../../src/index.js';
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
  defaults: Record<string, unknown>;
  raw: number[][];
  warpCases: { temperature?: number; topK?: number; topP?: number }[];
  warped: (number | null)[][][];
}

let dir = '';
let made: Made;

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'tsgrad-gpt2-'));
  made = await runHfPython<Made>(SCRIPT, ['make', dir]);
}, 240_000);

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

  it('builds float64 parameters when asked, from float32 and bfloat16 files alike', async () => {
    for (const variant of ['plain', 'bfloat16']) {
      const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, variant), { dtype: 'float64', backend: 'cpu' });
      expect(model.parameters().every((p) => p.dtype === 'float64')).toBe(true);
      expect(maxDiff(logitsOf(model, made.ids), made.logits[variant])).toBeLessThan(1e-4);
    }
    await expect(models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'), { backend: 'nope' })).rejects.toThrow(/unknown backend 'nope'/);
    await expect(models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'), { dtype: 'int32' } as object)).rejects.toThrow(/dtype must be 'float32', 'float64', 'float16' or 'bfloat16'/);
  });

  it('refuses a key/value cache outside noGrad, where its tensors would be freed under a graph', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    expect(() => model.forward(made.ids, { pastKeyValues: new models.GPT2Cache() })).toThrow(/GPT2Cache: a key\/value cache is for inference: call the model under noGrad/);
  });

  it('draws no random numbers: layers are built empty, then loaded', async () => {
    const before = defaultGenerator.getState();
    await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    expect(defaultGenerator.getState()).toBe(before);
    nn.init.skipInit(() => new models.GPT2LMHeadModel({ vocabSize: 101, nPositions: 32, nEmbd: 64, nLayer: 2, nHead: 4 }));
    expect(defaultGenerator.getState()).toBe(before);
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

describe.skipIf(skip)('GPT2LMHeadModel.savePretrained', () => {
  it("writes folders that transformers' from_pretrained opens with the same logits", async () => {
    // A new model (transformers' init, tied head) and a loaded untied one changed by a training step.
    const fresh = new models.GPT2LMHeadModel({ vocabSize: 101, nPositions: 32, nEmbd: 64, nLayer: 2, nHead: 4, activationFunction: 'gelu_pytorch_tanh' }).eval();
    const untied = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'untied'));
    const loss = untied.forward(made.ids).mean();
    loss.backward();
    noGrad(() => {
      for (const p of untied.parameters()) p.add_(p.grad!.mul(-100));
    });
    // And a LoRA update on the attention, merged into c_attn's Conv1D weight.
    nn.applyLoRA(untied, { targets: ['c_attn'], rank: 2 });
    noGrad(() => {
      for (const m of untied.modules()) if (m instanceof nn.LoRALinear) m.loraB.copy_(randn(m.loraB.shape));
    });
    expect(nn.mergeAndUnload(untied)).toEqual(['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']);
    await fresh.savePretrained(join(dir, 'saved-fresh'));
    await untied.savePretrained(join(dir, 'saved-untied'));
    const header = io.safetensorsHeader(readFileSync(join(dir, 'saved-fresh', 'model.safetensors')));
    expect(header.tensors.map((t) => t.name)).not.toContain('lm_head.weight');
    expect(header.metadata.format).toBe('pt');
    const [a, b] = await runHfPython<{ logits: number[][][]; tied: boolean; dtype: string; activation: string }[]>(
      SCRIPT, ['check', JSON.stringify([join(dir, 'saved-fresh'), join(dir, 'saved-untied')]), JSON.stringify(made.ids)]);
    expect(a!.tied).toBe(true);
    expect(a!.activation).toBe('gelu_pytorch_tanh');
    expect(maxDiff(a!.logits, logitsOf(fresh, made.ids))).toBeLessThan(1e-4);
    expect(b!.tied).toBe(false);
    expect(b!.dtype).toBe('torch.float32');
    expect(maxDiff(b!.logits, logitsOf(untied, made.ids))).toBeLessThan(1e-4);
    expect(maxDiff(b!.logits, made.logits.untied)).toBeGreaterThan(1e-2);
    // And tsgrad reads its own folder back.
    const again = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'saved-untied'));
    expect(maxDiff(logitsOf(again, made.ids), b!.logits)).toBeLessThan(1e-4);
  }, 180_000);

  it('refuses a model with layers a GPT-2 checkpoint has no place for', async () => {
    const model = await models.GPT2LMHeadModel.fromPretrained(join(dir, 'plain'));
    nn.applyLoRA(model, { targets: ['c_attn'], rank: 2 });
    const e = await model.savePretrained(join(dir, 'saved-lora')).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(TsgradError);
    expect((e as Error).message).toMatch(/holds 'transformer\.h\.0\.attn\.c_attn\.\S+', which a GPT-2 checkpoint has no place for; merge LoRA layers/);
  });
});

/** A copy of the plain checkpoint with its config and tensors changed by `edit`. */
function variant(name: string, edit: { config?: (c: Record<string, unknown>) => void; tensors?: (t: Record<string, Tensor>) => void }): string {
  const out = join(dir, name);
  cpSync(join(dir, 'plain'), out, { recursive: true });
  if (edit.config) {
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    edit.config(config);
    writeFileSync(join(out, 'config.json'), JSON.stringify(config));
  }
  return out;
}

async function withTensors(name: string, edit: (t: Record<string, Tensor>) => void): Promise<string> {
  const out = variant(name, {});
  const { tensors } = io.decodeSafetensors(readFileSync(join(out, 'model.safetensors')));
  edit(tensors);
  writeFileSync(join(out, 'model.safetensors'), await io.encodeSafetensors(tensors));
  return out;
}

async function refusal(path: string): Promise<string> {
  const e = await models.GPT2LMHeadModel.fromPretrained(path).catch((err: unknown) => err);
  expect(e).toBeInstanceOf(TsgradError);
  return (e as Error).message;
}

describe.skipIf(skip)('GPT2Config', () => {
  it("has transformers' defaults under transformers' names", () => {
    const ours = new models.GPT2Config().toJSON();
    for (const key of Object.keys(ours).filter((k) => !['architectures', 'dtype'].includes(k))) expect(ours[key], key).toEqual(made.defaults[key]);
  });

  it('reads its own config.json back, keeping the entries it does not use', () => {
    const config = models.GPT2Config.fromJSON({ ...new models.GPT2Config({ nLayer: 3, eosTokenId: [1, 2] }).toJSON(), n_ctx: 1024, task_specific_params: { x: 1 } });
    expect(config.nLayer).toBe(3);
    expect(config.eosTokenId).toEqual([1, 2]);
    expect(config.toJSON()).toMatchObject({ n_layer: 3, n_ctx: 1024, task_specific_params: { x: 1 } });
    expect(() => new models.GPT2Config({ n_layer: 2 } as object)).toThrow(/GPT2Config: unknown field 'n_layer'; fields: vocabSize/);
  });
});

describe.skipIf(skip)('GPT2LMHeadModel.fromPretrained refuses, naming the field or key', () => {
  it('a config it cannot build', async () => {
    expect(await refusal(variant('heads', { config: (c) => (c.n_head = 5) }))).toMatch(/n_embd 64 must be divisible by n_head 5/);
    expect(await refusal(variant('act', { config: (c) => (c.activation_function = 'mish') }))).toMatch(/activation_function string 'mish' is not supported; use one of gelu_new/);
    expect(await refusal(variant('cross', { config: (c) => (c.add_cross_attention = true) }))).toMatch(/add_cross_attention/);
    expect(await refusal(variant('llama', { config: (c) => (c.model_type = 'llama') }))).toMatch(/model_type string 'llama'; this loader builds 'gpt2' models/);
    expect(await refusal(variant('drop', { config: (c) => (c.attn_pdrop = 1.5) }))).toMatch(/config\.json: attn_pdrop must be a probability/);
  });

  it('a missing, unexpected, misshapen or integer tensor', async () => {
    expect(await refusal(await withTensors('missing', (t) => delete t['transformer.h.1.mlp.c_proj.bias']))).toMatch(/missing weight 'transformer\.h\.1\.mlp\.c_proj\.bias'/);
    expect(await refusal(await withTensors('extra', (t) => (t['transformer.h.0.attn.q_attn.weight'] = tensor([1]))))).toMatch(/unexpected tensor 'transformer\.h\.0\.attn\.q_attn\.weight'/);
    expect(await refusal(await withTensors('shape', (t) => (t['transformer.wpe.weight'] = t['transformer.wpe.weight']!.slice([[0, 16]]).contiguous()))))
      .toMatch(/'transformer\.wpe\.weight' in model\.safetensors has shape \[16,64\] but config\.json .* needs \[32,64\]/);
    expect(await refusal(await withTensors('int', (t) => (t['transformer.ln_f.bias'] = t['transformer.ln_f.bias']!.cast('int32'))))).toMatch(/'transformer\.ln_f\.bias' .* is I32/);
    expect(await refusal(await withTensors('twice', (t) => (t['wte.weight'] = t['transformer.wte.weight']!)))).toMatch(/both 'transformer\.wte\.weight'/);
  });

  it('a folder without its files or with a broken index', async () => {
    expect(await refusal(join(dir, 'nowhere'))).toMatch(/has no config\.json/);
    const bare = variant('bare', {});
    rmSync(join(bare, 'model.safetensors'));
    expect(await refusal(bare)).toMatch(/neither model\.safetensors nor model\.safetensors\.index\.json/);
    const shards = join(dir, 'shards-broken');
    cpSync(join(dir, 'sharded'), shards, { recursive: true });
    rmSync(join(shards, 'model-00003-of-00008.safetensors'));
    expect(await refusal(shards)).toMatch(/lists the shard 'model-00003-of-00008\.safetensors', which is not in/);
    const config = JSON.parse(readFileSync(join(dir, 'plain', 'config.json'), 'utf8'));
    expect(() => models.GPT2Config.fromJSON({ ...config, n_layer: 0 })).toThrow(/n_layer must be a positive integer/);
  });
});
