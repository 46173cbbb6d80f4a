// LoRA adapters on Conv1D and Linear layers, proven both ways against real PEFT (peft_conv1d.py,
// run from .venv-hf) on a model nested as GPT-2 is: tsgrad's files equal what PEFT's own
// save_pretrained writes for the same settings, PEFT opens them with tsgrad's outputs and merged
// weights, and adapters PEFT made load into tsgrad with PEFT's outputs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, io, manualSeed, nn, noGrad, randn } from '../../src/index.js';
import { hfUnavailable, hfVersions, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('test/io/peft-conv1d.test.ts');
const script = join(import.meta.dirname, 'peft_conv1d.py');
const D = 8;

class Attn extends nn.Module {
  c_attn = new nn.Conv1D(3 * D, D);
  c_proj = new nn.Conv1D(D, D);
  forward(x: Tensor) {
    const [q, k, v] = this.c_attn.forward(x).split(D, -1) as [Tensor, Tensor, Tensor];
    return this.c_proj.forward(q.tanh().mul(k).add(v));
  }
}
class MLP extends nn.Module {
  c_fc = new nn.Linear(D, 4 * D);
  c_proj = new nn.Conv1D(D, 4 * D);
  forward(x: Tensor) { return this.c_proj.forward(this.c_fc.forward(x).tanh()); }
}
class Block extends nn.Module {
  attn = new Attn();
  mlp = new MLP();
  forward(x: Tensor) {
    const h = x.add(this.attn.forward(x));
    return h.add(this.mlp.forward(h));
  }
}
/** peft_conv1d.Tiny, with the facts a Hugging Face model gives saveAdapter (io.AdapterModelInfo). */
class Tiny extends nn.Module implements io.AdapterModelInfo {
  readonly peftTaskType = 'FEATURE_EXTRACTION';
  readonly nameOrPath = 'tiny-mixed';
  h = new nn.ModuleList([new Block(), new Block()]);
  head = new nn.Linear(D, 5);
  forward(x: Tensor) {
    for (const block of this.h) x = block.forward(x);
    return this.head.forward(x);
  }
}

interface TsgradCase {
  name: string;
  calls: { targets: string[]; rank: number; alpha: number; bias?: 'loraOnly' }[];
  options?: io.SaveAdapterOptions;
  /** The LoraConfig PEFT is given for the same adapter, and the name_or_path its model has. */
  reference: { config: Record<string, unknown>; name_or_path?: string };
}

const tsgradCases: TsgradCase[] = [
  {
    name: "c_attn (Conv1D), the model's task type and name",
    calls: [{ targets: ['c_attn'], rank: 4, alpha: 8 }],
    reference: { config: { r: 4, lora_alpha: 8, target_modules: ['c_attn'], task_type: 'FEATURE_EXTRACTION' }, name_or_path: 'tiny-mixed' },
  },
  {
    name: 'Conv1D and Linear, the last adapted a Linear, options over the model',
    calls: [{ targets: ['c_attn', 'head'], rank: 2, alpha: 4 }],
    options: { taskType: null, baseModelNameOrPath: 'elsewhere' },
    reference: { config: { r: 2, lora_alpha: 4, target_modules: ['c_attn', 'head'] }, name_or_path: 'elsewhere' },
  },
  {
    name: 'two calls with different lists and ranks, trained biases of adapted layers',
    calls: [{ targets: ['c_attn', 'c_fc'], rank: 2, alpha: 4, bias: 'loraOnly' }, { targets: ['mlp.c_proj'], rank: 4, alpha: 4, bias: 'loraOnly' }],
    reference: { config: { r: 2, lora_alpha: 4, target_modules: ['c_attn', 'c_fc', 'mlp.c_proj'], rank_pattern: { 'mlp.c_proj': 4 }, bias: 'lora_only', task_type: 'FEATURE_EXTRACTION' }, name_or_path: 'tiny-mixed' },
  },
];

const peftCases: { name: string; config: Record<string, unknown>; conv1d: string[] }[] = [
  { name: 'c_attn, c_proj (Conv1D) and c_fc (Linear)', config: { r: 4, lora_alpha: 8, target_modules: ['c_attn', 'c_proj', 'c_fc'] }, conv1d: ['c_attn', 'c_proj'] },
  {
    name: 'rsLoRA, a rank pattern, trained biases, a task type',
    config: { r: 2, lora_alpha: 4, use_rslora: true, target_modules: ['c_attn', 'head'], rank_pattern: { 'h.1.attn.c_attn': 3 }, bias: 'lora_only', task_type: 'FEATURE_EXTRACTION' },
    conv1d: ['c_attn'],
  },
];

const root = mkdtempSync(join(tmpdir(), 'tsgrad-peft-conv1d-'));
let made: { peft: { adapted: string[] }[] };

/** The base model PyTorch made, in tsgrad. */
function baseModel(): Tiny {
  const m = new Tiny();
  m.loadStateDict(io.loadSafetensors(join(root, 'base.safetensors')).tensors);
  return m;
}
const inputX = () => io.loadSafetensors(join(root, 'x.safetensors')).tensors.x!;
const maxDiff = (a: Tensor, b: Tensor) => Array.from(a.dataSync()).reduce((m, v, i) => Math.max(m, Math.abs(v - b.dataSync()[i]!)), 0);
const readConfig = (dir: string) => JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
/** Key → shape of an adapter's tensors. */
const shapes = (dir: string) => Object.fromEntries(Object.entries(io.loadSafetensors(join(dir, 'adapter_model.safetensors')).tensors).map(([k, t]) => [k, t.shape]));

describe.skipIf(skip)(`LoRA on Conv1D and Linear against real PEFT (${hfVersions})`, () => {
  beforeAll(async () => {
    made = await runHfPython(script, ['make', root, JSON.stringify({ peft: peftCases.map((c) => c.config), reference: tsgradCases.map((c) => c.reference) })]);
  }, 180_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('PEFT → tsgrad: adapters PEFT made (B non-zero) load with the same outputs, Conv1D layers wrapped in place', async () => {
    for (const [i, c] of peftCases.entries()) {
      const dir = join(root, `peft${i}`);
      const model = baseModel();
      io.loadAdapterDir(model, dir);
      const lora = model.namedModules().filter(([, m]) => m instanceof nn.LoRALinear) as [string, nn.LoRALinear<nn.LoRABase>][];
      expect(lora.map(([p]) => p).sort(), c.name).toEqual(made.peft[i]!.adapted);
      for (const [p, l] of lora) expect(l.base, `${c.name}: ${p}`).toBeInstanceOf(c.conv1d.some((t) => p.endsWith(t)) ? nn.Conv1D : nn.Linear);
      const y = io.loadSafetensors(join(dir, 'y.safetensors')).tensors.y!;
      expect(maxDiff(noGrad(() => model.forward(inputX())), y), c.name).toBeLessThan(1e-5);
      // Saved again, the config keeps PEFT's target_modules list and layout.
      const again = JSON.parse((await io.saveAdapter(model))['adapter_config.json']);
      const theirs = readConfig(dir);
      expect(new Set(again.target_modules), c.name).toEqual(new Set(theirs.target_modules));
      expect(again.fan_in_fan_out, c.name).toBe(theirs.fan_in_fan_out);
    }
  });

  it('tsgrad → PEFT: the files are what PEFT writes; PeftModel.from_pretrained gives tsgrad\'s outputs, merge_and_unload its merged weights', async () => {
    for (const [i, c] of tsgradCases.entries()) {
      const dir = join(root, `ts${i}`);
      mkdirSync(dir);
      manualSeed(20 + i);
      const model = baseModel();
      for (const call of c.calls) nn.applyLoRA(model, call);
      noGrad(() => {
        for (const m of model.modules()) if (m instanceof nn.LoRALinear) m.loraB.copy_(randn(m.loraB.shape).mul(0.2));
        for (const [n, p] of model.namedParameters()) if (p.requiresGrad && n.endsWith('bias')) p.copy_(randn(p.shape).mul(0.2));
      });
      await io.saveAdapterDir(model, join(dir, 'adapter'), c.options);
      const x = inputX();
      await io.saveSafetensors(join(dir, 'io.safetensors'), { y: noGrad(() => model.forward(x)) });
      nn.mergeAndUnload(model);
      await io.saveSafetensors(join(dir, 'merged.safetensors'), model.stateDict());

      const ours = readConfig(join(dir, 'adapter'));
      const theirs = readConfig(join(root, `ref${i}`));
      for (const field of ['peft_type', 'r', 'lora_alpha', 'lora_dropout', 'use_rslora', 'fan_in_fan_out', 'bias', 'task_type', 'base_model_name_or_path', 'init_lora_weights', 'inference_mode']) {
        expect(ours[field], `${c.name}: ${field}`).toEqual(theirs[field]);
      }
      expect(Array.isArray(ours.target_modules), c.name).toBe(true);
      expect(new Set(ours.target_modules), c.name).toEqual(new Set(theirs.target_modules));
      expect(shapes(join(dir, 'adapter')), c.name).toEqual(shapes(join(root, `ref${i}`)));
    }
    const results = await runHfPython<{ adapted: string[]; fanInFanOut: Record<string, boolean>; outputDiff: number; mergedOutputDiff: number; mergedKeys: boolean; mergedWeightDiff: number }[]>(
      script, ['check', root, String(tsgradCases.length)]);
    results.forEach((r, i) => {
      const c = tsgradCases[i]!;
      const model = baseModel();
      for (const call of c.calls) nn.applyLoRA(model, call);
      const want = model.namedModules().filter(([, m]) => m instanceof nn.LoRALinear) as [string, nn.LoRALinear<nn.LoRABase>][];
      expect(r.adapted, c.name).toEqual(want.map(([p]) => p).sort());
      expect(r.fanInFanOut, c.name).toEqual(Object.fromEntries(want.map(([p, l]) => [p, l.fanInFanOut])));
      expect(r.outputDiff, c.name).toBeLessThan(1e-5);
      expect(r.mergedOutputDiff, c.name).toBeLessThan(1e-5);
      expect(r.mergedKeys, c.name).toBe(true);
      expect(r.mergedWeightDiff, c.name).toBeLessThan(1e-6);
    });
  }, 180_000);
});
