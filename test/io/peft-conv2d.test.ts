// LoRA adapters on Conv2d (and a Linear head), proven both ways against real PEFT
// (peft_conv2d.py, run from .venv-hf): adapters PEFT made load into tsgrad with PEFT's outputs,
// and tsgrad's files equal what PEFT's own save_pretrained writes for the same settings, open in
// PEFT with tsgrad's outputs, and merge to tsgrad's merged weights.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, io, manualSeed, nn, noGrad, randn } from '../../src/index.js';
import { hfUnavailable, hfVersions, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('test/io/peft-conv2d.test.ts');
const script = join(import.meta.dirname, 'peft_conv2d.py');
const F = nn.functional;

class Block extends nn.Module {
  conv1 = new nn.Conv2d(3, 8, 3, { padding: 'same' });
  norm = new nn.GroupNorm(2, 8);
  conv2 = new nn.Conv2d(8, 8, [3, 2], { stride: 2, padding: 1 });
  proj = new nn.Conv2d(8, 8, 1);
  forward(x: Tensor) {
    const h = this.conv2.forward(F.silu(this.norm.forward(this.conv1.forward(x))));
    return h.add(this.proj.forward(h));
  }
}
/** peft_conv2d.Net. */
class Net extends nn.Module {
  block = new Block();
  head = new nn.Linear(8, 5);
  forward(x: Tensor) { return this.head.forward(this.block.forward(x).mean([2, 3])); }
}

const peftCases: { name: string; config: Record<string, unknown> }[] = [
  { name: 'every Conv2d and the head, rank 4', config: { r: 4, lora_alpha: 8, target_modules: ['conv1', 'conv2', 'proj', 'head'] } },
  { name: 'rsLoRA on conv2 (a 3×2 kernel at stride 2) with a rank pattern for proj', config: { r: 2, lora_alpha: 4, use_rslora: true, target_modules: ['conv2', 'proj'], rank_pattern: { proj: 3 } } },
];
const tsgradCases: { name: string; call: { targets: string[]; rank: number; alpha: number }; reference: Record<string, unknown> }[] = [
  { name: 'conv1 (padding same), conv2 and head', call: { targets: ['conv1', 'conv2', 'head'], rank: 2, alpha: 4 }, reference: { r: 2, lora_alpha: 4, target_modules: ['conv1', 'conv2', 'head'] } },
  { name: 'the 1×1 proj alone', call: { targets: ['proj'], rank: 4, alpha: 2 }, reference: { r: 4, lora_alpha: 2, target_modules: ['proj'] } },
];

const root = mkdtempSync(join(tmpdir(), 'tsgrad-peft-conv2d-'));
let made: { peft: { adapted: string[] }[] };

function baseModel(): Net {
  const m = new Net();
  m.loadStateDict(io.loadSafetensors(join(root, 'base.safetensors')).tensors);
  return m;
}
const inputX = () => io.loadSafetensors(join(root, 'x.safetensors')).tensors.x!;
const maxDiff = (a: Tensor, b: Tensor) => Array.from(a.dataSync()).reduce((m, v, i) => Math.max(m, Math.abs(v - b.dataSync()[i]!)), 0);
const readConfig = (dir: string) => JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
const shapes = (dir: string) => Object.fromEntries(Object.entries(io.loadSafetensors(join(dir, 'adapter_model.safetensors')).tensors).map(([k, t]) => [k, t.shape]));

describe.skipIf(skip)(`LoRA on Conv2d against real PEFT (${hfVersions})`, () => {
  beforeAll(async () => {
    made = await runHfPython(script, ['make', root, JSON.stringify({ peft: peftCases.map((c) => c.config), reference: tsgradCases.map((c) => c.reference) })]);
  }, 180_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('PEFT → tsgrad: adapters PEFT made (A and B non-zero) load with PEFT\'s outputs, Conv2d layers wrapped in LoRAConv2d', async () => {
    for (const [i, c] of peftCases.entries()) {
      const dir = join(root, `peft${i}`);
      const model = baseModel();
      io.loadAdapterDir(model, dir);
      const lora = model.namedModules().filter(([, m]) => m instanceof nn.LoRALayer);
      expect(lora.map(([p]) => p).sort(), c.name).toEqual(made.peft[i]!.adapted);
      for (const [p, l] of lora) expect(l, `${c.name}: ${p}`).toBeInstanceOf(p === 'head' ? nn.LoRALinear : nn.LoRAConv2d);
      const y = io.loadSafetensors(join(dir, 'y.safetensors')).tensors.y!;
      expect(maxDiff(noGrad(() => model.forward(inputX())), y), c.name).toBeLessThan(1e-5);
      const again = JSON.parse((await io.saveAdapter(model))['adapter_config.json']);
      expect(new Set(again.target_modules), c.name).toEqual(new Set(readConfig(dir).target_modules));
    }
  });

  it('tsgrad → PEFT: the files are what PEFT writes; PeftModel.from_pretrained gives tsgrad\'s outputs, merge_and_unload its merged weights', async () => {
    for (const [i, c] of tsgradCases.entries()) {
      const dir = join(root, `ts${i}`);
      mkdirSync(dir);
      manualSeed(20 + i);
      const model = baseModel();
      nn.applyLoRA(model, c.call);
      noGrad(() => {
        for (const m of model.modules()) if (m instanceof nn.LoRALayer) m.loraB.copy_(randn(m.loraB.shape).mul(0.2));
      });
      await io.saveAdapterDir(model, join(dir, 'adapter'));
      const x = inputX();
      await io.saveSafetensors(join(dir, 'io.safetensors'), { y: noGrad(() => model.forward(x)) });
      nn.mergeAndUnload(model);
      await io.saveSafetensors(join(dir, 'merged.safetensors'), model.stateDict());

      const ours = readConfig(join(dir, 'adapter'));
      const theirs = readConfig(join(root, `ref${i}`));
      for (const field of ['peft_type', 'r', 'lora_alpha', 'lora_dropout', 'use_rslora', 'fan_in_fan_out', 'bias', 'init_lora_weights', 'inference_mode']) {
        expect(ours[field], `${c.name}: ${field}`).toEqual(theirs[field]);
      }
      expect(new Set(ours.target_modules), c.name).toEqual(new Set(theirs.target_modules));
      expect(shapes(join(dir, 'adapter')), c.name).toEqual(shapes(join(root, `ref${i}`)));
    }
    const results = await runHfPython<{ adapted: string[]; outputDiff: number; mergedOutputDiff: number; mergedKeys: boolean; mergedWeightDiff: number }[]>(
      script, ['check', root, String(tsgradCases.length)]);
    results.forEach((r, i) => {
      const c = tsgradCases[i]!;
      expect(r.adapted, c.name).toEqual([...c.call.targets].map((t) => (t === 'head' ? 'head' : `block.${t}`)).sort());
      expect(r.outputDiff, c.name).toBeLessThan(1e-5);
      expect(r.mergedOutputDiff, c.name).toBeLessThan(1e-5);
      expect(r.mergedKeys, c.name).toBe(true);
      expect(r.mergedWeightDiff, c.name).toBeLessThan(1e-6);
    });
  }, 180_000);
});
