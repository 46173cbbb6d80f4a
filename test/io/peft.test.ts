// PEFT adapter files: target_modules PEFT matches exactly, trained biases, strict configs, and
// loads that fail without touching the model.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TsgradError, io, manualSeed, nn, noGrad, randn, type Tensor } from '../../src/index.js';

/** Paths 0, 0.0, 0.2 and 2: a Sequential named '0' holds Linears whose names are suffixes of others. */
const nested = () => new nn.Sequential(
  new nn.Sequential(new nn.Linear(6, 8), new nn.Tanh(), new nn.Linear(8, 8)),
  new nn.Tanh(),
  new nn.Linear(8, 5),
);

const randomizeB = (m: nn.Module) => noGrad(() => {
  for (const l of m.modules()) if (l instanceof nn.LoRALinear) l.loraB.copy_(randn(l.loraB.shape));
});

const outputs = (m: nn.Module, x: Tensor) => Array.from(noGrad(() => m.forward(x)).dataSync());

/** Every parameter's values, by name: a model's complete observable state. */
const snapshot = (m: nn.Module) => m.namedParameters().map(([n, p]) => [n, p.requiresGrad, Array.from(p.dataSync())]);

describe('target_modules', () => {
  it('is a regular expression that PEFT full-matches against exactly the adapted paths', async () => {
    manualSeed(0);
    const model = nested();
    nn.applyLoRA(model, { targets: (p) => p === '0.0' || p === '2', rank: 2 });
    const config = JSON.parse((await io.saveAdapter(model))['adapter_config.json']);
    expect(typeof config.target_modules).toBe('string');
    // PEFT: re.fullmatch(target_modules, key) for every key of model.named_modules().
    const matched = nested().namedModules().map(([p]) => p).filter((p) => new RegExp(`^(?:${config.target_modules})$`).test(p));
    expect(matched).toEqual(['0.0', '2']);
  });

  it('anchors rank_pattern keys for a path that is a dotted suffix of another', async () => {
    const model = nested();
    nn.applyLoRA(model, { targets: (p) => p === '0.2', rank: 2 });
    nn.applyLoRA(model, { targets: (p) => p === '0.0', rank: 2 });
    nn.applyLoRA(model, { targets: (p) => p === '2', rank: 4 });
    randomizeB(model);
    const files = await io.saveAdapter(model);
    const config = JSON.parse(files['adapter_config.json']);
    expect(config.r).toBe(2);
    expect(config.rank_pattern).toEqual({ '^2': 4 });
    // PEFT's lookup: re.match(rf"(.*\.)?({key})$", path) — '0.2' must not take rank 4.
    expect(new RegExp('^(.*\\.)?(^2)$').test('0.2')).toBe(false);
    const fresh = nested();
    const baseWeights = Object.entries(model.stateDict()).filter(([k]) => !/lora/.test(k)).map(([k, v]) => [k.replace('.base.', '.'), v] as const);
    fresh.loadStateDict(Object.fromEntries(baseWeights));
    // What Node users hold after readFileSync: a Buffer, typed Uint8Array<ArrayBufferLike>.
    io.loadAdapter(fresh, { ...files, 'adapter_model.safetensors': Buffer.from(files['adapter_model.safetensors']) });
    expect(((fresh.at(0) as nn.Sequential).at(2) as nn.LoRALinear).rank).toBe(2);
    expect((fresh.at(2) as nn.LoRALinear).rank).toBe(4);
    const x = randn([3, 6]);
    expect(outputs(fresh, x)).toEqual(outputs(model, x));
  });
});

/** Two blocks with a Conv1D c_attn and a Linear fc each, as in GPT-2: paths h.0.c_attn, h.0.fc, h.1.c_attn, h.1.fc. */
class Block extends nn.Module {
  c_attn = new nn.Conv1D(12, 4);
  fc = new nn.Linear(12, 4);
  forward(x: Tensor) { return this.fc.forward(this.c_attn.forward(x)); }
}
class Blocks extends nn.Module {
  h = new nn.ModuleList([new Block(), new Block()]);
  forward(x: Tensor) { return this.h.at(1).forward(this.h.at(0).forward(x)); }
}
const configOf = async (m: nn.Module, opts?: io.SaveAdapterOptions) => JSON.parse((await io.saveAdapter(m, opts))['adapter_config.json']);

describe('target_modules as the names given', () => {
  it('is the list given to applyLoRA, across calls, when PEFT would adapt exactly those layers with it', async () => {
    const m = new Blocks();
    nn.applyLoRA(m, { targets: ['c_attn'], rank: 2 });
    expect((await configOf(m)).target_modules).toEqual(['c_attn']);
    nn.applyLoRA(m, { targets: ['h.1.fc', 'h.0.fc'], rank: 2 });
    expect((await configOf(m)).target_modules).toEqual(['c_attn', 'h.0.fc', 'h.1.fc']);
  });

  it('is the exact-path regex when the names would reach layers that were not adapted', async () => {
    const m = new Blocks();
    nn.applyLoRA(m.h.at(0), { targets: ['c_attn'], rank: 2 }); // h.1.c_attn is also named c_attn
    expect((await configOf(m)).target_modules).toBe('^(?:h\\.0\\.c_attn)$');
    const mixed = new Blocks();
    nn.applyLoRA(mixed, { targets: ['c_attn'], rank: 2 });
    nn.applyLoRA(mixed, { targets: /^h\.0\.fc$/, rank: 2 });
    expect((await configOf(mixed)).target_modules).toBe('^(?:h\\.0\\.c_attn|h\\.0\\.fc|h\\.1\\.c_attn)$');
  });

  it('a list read from a PEFT adapter is written back', async () => {
    manualSeed(3);
    const m = new Blocks();
    nn.applyLoRA(m, { targets: ['fc'], rank: 2 });
    const files = await io.saveAdapter(m);
    // As PEFT writes it: its own list of names, and weights with PEFT's metadata only.
    const config = { ...JSON.parse(files['adapter_config.json']), target_modules: ['h.0.fc', 'h.1.fc'] };
    const weights = await io.encodeSafetensors(io.decodeSafetensors(files['adapter_model.safetensors']).tensors, { format: 'pt' });
    const fresh = new Blocks();
    io.loadAdapter(fresh, { 'adapter_model.safetensors': weights, 'adapter_config.json': JSON.stringify(config) });
    expect((await configOf(fresh)).target_modules).toEqual(['h.0.fc', 'h.1.fc']);
  });
});

describe('fan_in_fan_out, task_type and base_model_name_or_path', () => {
  it('fan_in_fan_out is true for Conv1D layers and, with both kinds, that of the last adapted layer (as PEFT writes it)', async () => {
    const conv = new Blocks();
    nn.applyLoRA(conv, { targets: ['c_attn'], rank: 2 });
    expect((await configOf(conv)).fan_in_fan_out).toBe(true);
    const both = new Blocks();
    nn.applyLoRA(both, { targets: ['c_attn', 'fc'], rank: 2 });
    expect((await configOf(both)).fan_in_fan_out).toBe(false); // h.1.fc is last
    const linear = nested();
    nn.applyLoRA(linear, { targets: ['2'], rank: 2 });
    expect((await configOf(linear)).fan_in_fan_out).toBe(false);
  });

  it('come from the options, else from the model (io.AdapterModelInfo), else null; bad values are refused', async () => {
    class Described extends Blocks implements io.AdapterModelInfo {
      peftTaskType: io.PeftTaskType = 'CAUSAL_LM';
      nameOrPath = 'models/tiny-gpt2';
    }
    const m = new Described();
    nn.applyLoRA(m, { targets: ['c_attn'], rank: 2 });
    const fields = (c: Record<string, unknown>) => [c.task_type, c.base_model_name_or_path];
    expect(fields(await configOf(m))).toEqual(['CAUSAL_LM', 'models/tiny-gpt2']);
    expect(fields(await configOf(m, { taskType: 'SEQ_CLS', baseModelNameOrPath: 'gpt2' }))).toEqual(['SEQ_CLS', 'gpt2']);
    expect(fields(await configOf(m, { taskType: null, baseModelNameOrPath: null }))).toEqual([null, null]);
    const plain = nested();
    nn.applyLoRA(plain, { targets: ['2'], rank: 2 });
    expect(fields(await configOf(plain))).toEqual([null, null]);
    await expect(io.saveAdapter(m, { taskType: 'causal' as io.PeftTaskType })).rejects.toThrow(/saveAdapter: taskType must be one of PEFT's task types \(SEQ_CLS, .*CAUSAL_LM.*\) or null, got string 'causal'/);
    await expect(io.saveAdapter(m, { baseModelNameOrPath: 7 as unknown as string })).rejects.toThrow(/baseModelNameOrPath must be a string or null, got number 7/);
    await expect(io.saveAdapter(m, 'gpt2' as never)).rejects.toThrow(/options must be an object/);
    m.peftTaskType = 'LM' as io.PeftTaskType;
    await expect(io.saveAdapter(m)).rejects.toThrow(/the model's peftTaskType must be one of PEFT's task types/);
  });
});

describe('trained biases', () => {
  for (const bias of ['loraOnly', 'all'] as const) {
    it(`bias '${bias}' is written in PEFT's layout and read back`, async () => {
      manualSeed(1);
      const base = nested();
      const tuned = nested();
      tuned.loadStateDict(base.stateDict());
      nn.applyLoRA(tuned, { targets: ['0.0'], rank: 2, bias });
      randomizeB(tuned);
      noGrad(() => {
        for (const [, p] of tuned.namedParameters()) if (p.requiresGrad && p.ndim === 1) p.copy_(randn(p.shape));
      });
      const files = await io.saveAdapter(tuned);
      const config = JSON.parse(files['adapter_config.json']);
      const keys = Object.keys(io.decodeSafetensors(files['adapter_model.safetensors']).tensors).sort();
      if (bias === 'loraOnly') {
        expect(config.bias).toBe('lora_only');
        expect(keys).toEqual(['base_model.model.0.0.base_layer.bias', 'base_model.model.0.0.lora_A.weight', 'base_model.model.0.0.lora_B.weight']);
      } else {
        expect(config.bias).toBe('all');
        expect(keys).toEqual(['base_model.model.0.0.base_layer.bias', 'base_model.model.0.0.lora_A.weight', 'base_model.model.0.0.lora_B.weight',
          'base_model.model.0.2.bias', 'base_model.model.2.bias']);
      }
      const dir = mkdtempSync(join(tmpdir(), 'tsgrad-peft-'));
      await io.saveAdapterDir(tuned, dir);
      expect(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).toBe(files['adapter_config.json']);
      io.loadAdapterDir(base, dir);
      const x = randn([4, 6]);
      expect(outputs(base, x)).toEqual(outputs(tuned, x));
    });
  }
});

describe('a failed loadAdapter leaves the model exactly as it was', () => {
  it('even when the problem is found after the layers to wrap', async () => {
    manualSeed(2);
    const base = nested();
    const tuned = nested();
    tuned.loadStateDict(base.stateDict());
    nn.applyLoRA(tuned, { targets: ['0.0', '2'], rank: 2, bias: 'all' });
    randomizeB(tuned);
    const good = await io.saveAdapter(tuned);
    const { tensors } = io.decodeSafetensors(good['adapter_model.safetensors']);
    // As PEFT writes them: without tsgrad's record, which would refuse the edited configs as torn.
    const metadata = { format: 'pt' };
    const cases: [string, Record<string, Tensor>, string, RegExp][] = [
      ['a bias of the wrong shape', { ...tensors, 'base_model.model.2.base_layer.bias': randn([4]) }, good['adapter_config.json'], /bias for '2' has shape \[4\] but the model's has \[5\]/],
      ['a bias for a module without one', { ...tensors, 'base_model.model.1.bias': randn([5]) }, good['adapter_config.json'], /a bias for '1', which has no bias parameter/],
      ['lora_B missing for the last layer', Object.fromEntries(Object.entries(tensors).filter(([k]) => k !== 'base_model.model.2.lora_B.weight')), good['adapter_config.json'], /'2' lacks lora_B/],
      ['a Sequential as target', { ...tensors, 'base_model.model.0.lora_A.weight': randn([2, 6]), 'base_model.model.0.lora_B.weight': randn([8, 2]) }, good['adapter_config.json'], /'0', which is a Sequential/],
      ['an unknown key', { ...tensors, 'base_model.model.2.weight': randn([5, 8]) }, good['adapter_config.json'], /unexpected key 'base_model.model.2.weight'/],
      ['a rank_pattern that breaks a shape', tensors, JSON.stringify({ ...JSON.parse(good['adapter_config.json']), rank_pattern: { '^2': 3 } }), /'2.lora_A.weight' has shape \[2,8\] but the layer needs \[3,8\]/],
      ['a config that is not JSON', tensors, '{"peft_type": "LORA",', /adapter_config.json is not valid JSON/],
      ['a config that is null', tensors, 'null', /must hold a JSON object/],
      ['a string rank', tensors, JSON.stringify({ ...JSON.parse(good['adapter_config.json']), r: '2' }), /r must be a positive integer, got "2"/],
      ['DoRA', tensors, JSON.stringify({ ...JSON.parse(good['adapter_config.json']), use_dora: true }), /use_dora/],
      ['a fan_in_fan_out that is not a boolean', tensors, JSON.stringify({ ...JSON.parse(good['adapter_config.json']), fan_in_fan_out: 'yes' }), /fan_in_fan_out must be true or false, got "yes"/],
      ['an unknown task_type', tensors, JSON.stringify({ ...JSON.parse(good['adapter_config.json']), task_type: 'LM' }), /task_type must be one of PEFT's task types/],
      ['a target_modules of numbers', tensors, JSON.stringify({ ...JSON.parse(good['adapter_config.json']), target_modules: [0, 2] }), /target_modules must be a list of names, a regular expression or null, got \[0,2\]/],
      // A value nested so deep that naming it in a message would overflow the stack.
      ['an r nested 100,000 deep', tensors, good['adapter_config.json'].replace('"r": 2', `"r": ${'['.repeat(100_000)}2${']'.repeat(100_000)}`),
        /r must be a positive integer, got \(a value nested too deeply to show\)/],
      // Keys that fill a slot another key already filled: which one counts would be a guess.
      ['a second lora_A for a layer', { ...tensors, 'base_model.model.0.0.lora_A.zzz.weight': randn([2, 6]) }, good['adapter_config.json'],
        /'base_model.model.0.0.lora_A.zzz.weight' and 'base_model.model.0.0.lora_A.weight' are both lora_A of '0.0'; which one counts is ambiguous/],
      ['a bias as base_layer.bias and as bias', { ...tensors, 'base_model.model.2.bias': randn([5]) }, good['adapter_config.json'],
        /'base_model.model.2.bias' and 'base_model.model.2.base_layer.bias' are both the bias of '2'/],
      // target_modules as PEFT reads it.
      ...([
        [['nope'], /target_modules \["nope"\] matches no module of the model; PEFT refuses it too/],
        ['nope', /target_modules "nope" matches no module/],
        [5, /target_modules must be a list of names, a regular expression or null, got 5/],
        [['0.0'], /the adapter has weights for '0.2', but its target_modules \["0.0"\] does not select it, so PEFT would not apply them/],
        [['0.0', '1', '2'], /target_modules \["0.0","1","2"\] selects '0.1', a Tanh, which LoRA cannot adapt; PEFT refuses it too/],
        ['(', /target_modules "\(" is not a valid regular expression/],
      ] as const).map(([targets, message]) => [`target_modules ${JSON.stringify(targets)}`, tensors,
        JSON.stringify({ ...JSON.parse(good['adapter_config.json']), target_modules: targets }), message] as [string, Record<string, Tensor>, string, RegExp]),
    ];
    for (const [what, t, config, message] of cases) {
      const model = nested();
      const before = snapshot(model);
      const files = { 'adapter_model.safetensors': await io.encodeSafetensors(t, metadata), 'adapter_config.json': config };
      let thrown: unknown;
      try {
        io.loadAdapter(model, files);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, what).toBeInstanceOf(TsgradError);
      expect((thrown as Error).message, what).toMatch(message);
      expect(model.modules().some((m) => m instanceof nn.LoRALinear), what).toBe(false);
      expect(snapshot(model), what).toEqual(before);
    }
    const model = nested();
    model.loadStateDict(base.stateDict());
    io.loadAdapter(model, good);
    const x = randn([2, 6]);
    expect(outputs(model, x)).toEqual(outputs(tuned, x));
  });
});
