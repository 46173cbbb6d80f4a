// Adapters proven in PyTorch: tsgrad's adapters applied by PEFT's LoRA math (emulated exactly in
// peft_like.py) give tsgrad's outputs, and adapters written from PyTorch in PEFT's layout load
// into tsgrad with the same outputs. Runs with the parity tests' PyTorch (test/huggingface.ts).
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Tensor, io, manualSeed, nn, noGrad, randn } from '../../src/index.js';
import { hfUnavailable, hfVersions, runHfPython } from '../huggingface.js';

const here = import.meta.dirname;
const python = (script: string, args: string[]): Promise<unknown> => runHfPython(join(here, script), args, 120_000);
const skip = hfUnavailable('test/interop');

/** The model of peft_like.nested(): modules 0, 0.0 (Linear 6→8), 0.2 (Linear 8→8), 2 (Linear 8→5). */
const nested = () => new nn.Sequential(
  new nn.Sequential(new nn.Linear(6, 8), new nn.Tanh(), new nn.Linear(8, 8)),
  new nn.Tanh(),
  new nn.Linear(8, 5),
);

interface Group {
  paths: string[];
  rank: number;
  alpha: number;
}

interface Case {
  name: string;
  groups: Group[];
  rs?: boolean;
  bias?: 'none' | 'loraOnly' | 'all';
}

const fromTsgrad: Case[] = [
  { name: 'every Linear', groups: [{ paths: ['0.0', '0.2', '2'], rank: 2, alpha: 4 }] },
  { name: 'rsLoRA', groups: [{ paths: ['0.0', '2'], rank: 4, alpha: 8 }], rs: true },
  { name: 'rank and alpha patterns', groups: [{ paths: ['0.0', '0.2'], rank: 2, alpha: 2 }, { paths: ['2'], rank: 4, alpha: 16 }] },
  { name: 'a subset of targets, nested', groups: [{ paths: ['0.2'], rank: 3, alpha: 6 }] },
  { name: "trained biases, 'lora_only'", groups: [{ paths: ['0.0', '2'], rank: 2, alpha: 4 }], bias: 'loraOnly' },
  { name: "trained biases, 'all'", groups: [{ paths: ['0.2'], rank: 2, alpha: 2 }], bias: 'all' },
];

const fromPyTorch: { name: string; config: Record<string, unknown>; adapted: string[] }[] = [
  { name: 'a list of names (PEFT suffix-matches 2 to 0.2 too)', config: { r: 2, lora_alpha: 4, target_modules: ['0.0', '2'] }, adapted: ['0.0', '0.2', '2'] },
  { name: 'rsLoRA, a regex target', config: { r: 4, lora_alpha: 8, use_rslora: true, target_modules: '^(?:0\\.0|2)$' }, adapted: ['0.0', '2'] },
  { name: 'rank and alpha patterns', config: { r: 2, lora_alpha: 2, target_modules: ['0.0', '0.2', '2'], rank_pattern: { '^2': 4 }, alpha_pattern: { '0\\.0': 6 } }, adapted: ['0.0', '0.2', '2'] },
  { name: 'a subset of targets, nested', config: { r: 3, lora_alpha: 3, target_modules: '0\\.2' }, adapted: ['0.2'] },
  { name: "trained biases, 'lora_only'", config: { r: 2, lora_alpha: 4, target_modules: ['0.0'], bias: 'lora_only' }, adapted: ['0.0'] },
  { name: "trained biases, 'all'", config: { r: 2, lora_alpha: 4, target_modules: '^(?:0\\.0|2)$', bias: 'all' }, adapted: ['0.0', '2'] },
];

describe.skipIf(skip)(`adapters proven in PyTorch (${hfVersions})`, () => {
  it('tsgrad → PyTorch: outputs agree to 1e-5, and target_modules adapts exactly the saved layers', async () => {
    const folders: string[] = [];
    for (const [i, c] of fromTsgrad.entries()) {
      const dir = mkdtempSync(join(tmpdir(), `tsgrad-interop-${i}-`));
      manualSeed(10 + i);
      const base = nested();
      await io.saveSafetensors(join(dir, 'base.safetensors'), base.stateDict());
      for (const g of c.groups) nn.applyLoRA(base, { targets: (p) => g.paths.includes(p), rank: g.rank, alpha: g.alpha, useRsLoRA: c.rs, bias: c.bias });
      noGrad(() => {
        for (const m of base.modules()) if (m instanceof nn.LoRALinear) m.loraB.copy_(randn(m.loraB.shape).mul(0.5));
        for (const [n, p] of base.namedParameters()) if (p.requiresGrad && n.endsWith('bias')) p.copy_(randn(p.shape));
      });
      await io.saveAdapterDir(base, join(dir, 'adapter'));
      const x = randn([7, 6]);
      await io.saveSafetensors(join(dir, 'io.safetensors'), { x, y: noGrad(() => base.forward(x)) });
      folders.push(dir);
    }
    const results = (await python('check_adapter.py', folders)) as { maxDiff: number; adapted: string[] }[];
    results.forEach((r, i) => {
      const c = fromTsgrad[i]!;
      expect(r.adapted, c.name).toEqual(c.groups.flatMap((g) => g.paths).sort());
      expect(r.maxDiff, c.name).toBeLessThan(1e-5);
    });
  }, 120_000);

  it('PyTorch → tsgrad: adapters in PEFT layout, with LoraConfig defaults, load and reproduce the outputs to 1e-5', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tsgrad-interop-py-'));
    const cases = fromPyTorch.map((c, i) => ({ folder: join(root, String(i)), seed: i, config: c.config }));
    for (const c of cases) mkdirSync(c.folder);
    const made = (await python('make_adapter.py', [JSON.stringify(cases)])) as { adapted: string[] }[];
    made.forEach((m, i) => {
      const c = fromPyTorch[i]!;
      expect(m.adapted, c.name).toEqual(c.adapted);
      const model = nested();
      model.loadStateDict(io.loadSafetensors(join(cases[i]!.folder, 'base.safetensors')).tensors);
      io.loadAdapterDir(model, join(cases[i]!.folder, 'adapter'));
      const lora = model.namedModules().filter(([, l]) => l instanceof nn.LoRALinear).map(([p]) => p);
      expect(lora, c.name).toEqual(c.adapted);
      const { x, y } = io.loadSafetensors(join(cases[i]!.folder, 'io.safetensors')).tensors as Record<string, Tensor>;
      const out = noGrad(() => model.forward(x!)).dataSync();
      const want = y!.dataSync();
      const maxDiff = Array.from(out).reduce((mx, v, j) => Math.max(mx, Math.abs(v - want[j]!)), 0);
      expect(maxDiff, c.name).toBeLessThan(1e-5);
    });
  }, 120_000);
});
