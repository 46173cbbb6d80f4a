// The diffusion demo in its quick mode: every row of the report, well-formed PNG grids (read by
// zlib), and a PEFT-layout adapter that loads onto the saved base weights, in tsgrad and in real
// PEFT on a PyTorch twin of the UNet (diffusion_demo_peft.py, run from .venv-hf).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32 as zlibCrc32, inflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DemoResults, LORA_TARGETS, QUICK, runDemo } from '../../examples/diffusion/demo.js';
import { NoiseSchedule } from '../../examples/diffusion/ddpm.js';
import { EMAModel } from '../../examples/diffusion/ema.js';
import { PNG_SIGNATURE } from '../../examples/diffusion/png.js';
import { crc32 } from '../../examples/shared/crc32.js';
import { makeUNet } from '../../examples/diffusion/unet.js';
import { Generator, fromTypedArray, io, nn, noGrad, scope } from '../../src/index.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const skipHf = hfUnavailable('the diffusion demo\'s adapter in PEFT');
const script = resolve(import.meta.dirname, 'diffusion_demo_peft.py');

interface Png {
  width: number;
  height: number;
  pixels: Buffer;
}

/** Reads an 8-bit grayscale PNG with node's zlib, checking every chunk's CRC. */
function readPng(bytes: Buffer): Png {
  expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < bytes.length;) {
    const length = bytes.readUInt32BE(at), type = bytes.toString('latin1', at + 4, at + 8);
    expect(bytes.readUInt32BE(at + 8 + length)).toBe(zlibCrc32(bytes.subarray(at + 4, at + 8 + length)));
    chunks.push({ type, data: bytes.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
  }
  expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
  const ihdr = chunks[0]!.data;
  const width = ihdr.readUInt32BE(0), height = ihdr.readUInt32BE(4);
  expect([...ihdr.subarray(8)]).toEqual([8, 0, 0, 0, 0]);
  const rows = inflateSync(chunks[1]!.data);
  expect(rows.length).toBe(height * (width + 1));
  const pixels = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) {
    expect(rows[y * (width + 1)]).toBe(0);
    rows.copy(pixels, y * width, y * (width + 1) + 1, (y + 1) * (width + 1));
  }
  return { width, height, pixels };
}

describe('npm run demo:diffusion -- --quick', () => {
  it('crc32 agrees with zlib\'s', () => {
    for (const text of ['', 'IEND', 'a longer run of bytes for the table']) expect(crc32(Buffer.from(text))).toBe(zlibCrc32(text));
  });

  it('the schedule\'s ᾱ falls from 1 − β₁ to near 0, and noising at t keeps unit variance', () => {
    const s = new NoiseSchedule(1000);
    expect(s.alphasCumprod[0]).toBeCloseTo(1 - 1e-4, 10);
    expect(s.alphasCumprod[999]).toBeLessThan(1e-4);
    const g = new Generator().manualSeed(1), n = 784 * 50;
    const normal = () => Float32Array.from({ length: n }, () => g.nextNormal());
    const x = s.addNoise(normal(), normal(), new Array<number>(50).fill(500));
    const variance = x.reduce((a, v) => a + v * v, 0) / n;
    expect(variance).toBeGreaterThan(0.95);
    expect(variance).toBeLessThan(1.05);
  });

  it('the moving average follows diffusers\' EMAModel: s ← s − (1 − d)(s − p), d = min(decay, (1 + n)/(10 + n))', async () => {
    const p = fromTypedArray(Float32Array.from([1, -2, 0.5]), [3]);
    const ema = new EMAModel([p], 0.9);
    const expected = [1, -2, 0.5];
    for (let n = 0; n < 30; n++) {
      const values = [Math.sin(n), Math.cos(3 * n), n / 10];
      noGrad(() => p.copy_(fromTypedArray(Float32Array.from(values), [3])));
      ema.step();
      const d = Math.min(0.9, (1 + n) / (10 + n));
      values.forEach((v, i) => (expected[i] = expected[i]! - (1 - d) * (expected[i]! - v)));
    }
    expect(ema.bytes()).toBe(12);
    ema.copyTo();
    const got = await p.data();
    expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    expect(() => new EMAModel([p], 1)).toThrow(/decay must be in \[0, 1\)/);
  });

  const out = mkdtempSync(join(tmpdir(), 'tsgrad-diffusion-demo-'));
  let results: DemoResults;
  const lines: string[] = [];
  beforeAll(async () => {
    results = await runDemo({ seed: 0, backend: 'cpu', quick: true, out, log: (l) => lines.push(l) });
  }, 120_000);

  /** A base model from the saved weights with the saved adapter, and its predicted noise for a fixed batch. */
  async function reloaded() {
    const model = makeUNet();
    model.loadStateDict(io.loadSafetensors(join(out, 'base', 'model.safetensors')).tensors);
    const probe = new NoiseSchedule(1000).trainingBatch(new Float32Array(2 * 784).fill(-1), new Generator().manualSeed(3));
    const predict = () => scope(async () => noGrad(() => model.forward(probe.sample, probe.timesteps)).data());
    const before = await predict();
    nn.applyLoRA(model, { targets: LORA_TARGETS, rank: 4, alpha: 4 });
    io.loadAdapterDir(model, adapterDir);
    return { model, probe, predict, before, adapted: await predict() };
  }
  const adapterDir = join(out, 'adapter');

  it('reports every run, writes grids and a table, and saves a rank-4 adapter that loads onto the saved base', async () => {
    expect(results.runs.map((r) => r.name)).toEqual(['base', 'lora-r4', 'full', 'scratch']);
    const run = (name: string) => results.runs.find((r) => r.name === name)!;
    const total = makeUNet().numParameters();
    expect(run('full').trainable).toBe(total);
    expect(run('scratch').trainable).toBe(total);
    expect(run('base').trainable).toBe(0);
    // PEFT's LoRA on a Conv2d: A [r, in, kh, kw] and B [out, r, 1, 1]; on a Linear: A [r, in] and B [out, r].
    let lora = 0;
    for (const [path, m] of makeUNet().namedModules()) {
      if (!LORA_TARGETS.some((t) => path.endsWith(`.${t}`))) continue;
      if (m instanceof nn.Conv2d) lora += 4 * m.inChannels * 9 + m.outChannels * 4;
      else if (m instanceof nn.Linear) lora += 4 * m.inFeatures + m.outFeatures * 4;
    }
    expect(lora).toBeGreaterThan(0);
    expect(run('lora-r4').trainable).toBe(lora);
    for (const r of results.runs.slice(1)) {
      expect(r.steps).toBe(QUICK.adaptSteps);
      expect(r.gradOptimizerBytes).toBe(12 * r.trainable); // a gradient and two Adam moments, 4 bytes each
      expect(r.emaBytes).toBe(4 * r.trainable); // the moving average: one more copy of the trainable weights
      expect(r.msPerStep).toBeGreaterThan(0);
      expect(Number.isFinite(r.finalLoss)).toBe(true);
    }
    for (const r of results.runs) {
      expect(r.samples).toBe(QUICK.samples);
      expect(r.histogram.reduce((a, b) => a + b, 0)).toBe(QUICK.samples);
      expect(r.eights).toBe(r.histogram[8]);
      expect(r.nines).toBe(r.histogram[9]);
      expect(r.confident8or9).toBe(r.confidentHistogram[8]! + r.confidentHistogram[9]!);
      expect(r.confidentDigits).toBe(r.confidentHistogram.reduce((a, b) => a + b, 0));
      r.confidentHistogram.forEach((n, d) => expect(n).toBeLessThanOrEqual(r.histogram[d]!));
      expect(r.confident8or9).toBeLessThanOrEqual(r.confidentDigits);
      expect(r.confidentDigits).toBeLessThanOrEqual(r.samples);
    }
    expect(run('base').emaBytes).toBe(0);
    expect(lines.some((l) => l.startsWith('classifier: '))).toBe(true);
    expect(results.classifierHeldOutAccuracy).toBeGreaterThanOrEqual(0);
    expect(results.classifierHeldOutAccuracy).toBeLessThanOrEqual(1);

    // One 8-column row of 56-pixel images with 2-pixel gaps; the gaps are gray, the images not all one value.
    for (const name of ['base', 'lora-r4', 'full', 'scratch']) {
      const png = readPng(readFileSync(join(out, `samples-${name}.png`)));
      expect([png.width, png.height]).toEqual([2 + 8 * 58, 2 + 58]);
      expect(png.pixels[0]).toBe(96);
      expect(new Set(png.pixels).size).toBeGreaterThan(2);
    }

    const table = readFileSync(join(out, 'table.md'), 'utf8').trim().split('\n');
    expect(table).toHaveLength(2 + 4 + 2); // head, rule, four runs, a blank line and the footnote
    expect(table[0]).toMatch(/8 or 9 \(p ≥ 0\.9\)/);
    expect(table[7]).toMatch(/moving average.*not counted in gradient \+ Adam bytes/);
    expect(table[1]).toMatch(/^\|[-:|]+\|$/);
    for (const [i, label] of ['base (no adaptation)', 'LoRA rank 4', 'full fine-tuning', 'from scratch'].entries()) {
      expect(table[2 + i]!.startsWith(`| ${label} `)).toBe(true);
      expect(table[2 + i]!.split('|')).toHaveLength(table[0]!.split('|').length);
    }
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).runs).toHaveLength(4);

    // The adapter folder holds PEFT's two files; on the saved base weights it changes the model, and merging it is exact.
    expect(existsSync(join(adapterDir, 'adapter_model.safetensors'))).toBe(true);
    const config = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 4 });
    expect([...config.target_modules].sort()).toEqual([...LORA_TARGETS].sort());
    const { model, predict, before, adapted } = await reloaded();
    expect(adapted.some((v, i) => Math.abs(v - before[i]!) > 1e-6)).toBe(true);
    for (const m of model.modules()) if (m instanceof nn.LoRALayer) m.merge();
    const merged = await predict();
    for (let i = 0; i < merged.length; i++) expect(Math.abs(merged[i]! - adapted[i]!)).toBeLessThan(1e-4);
  });

  it('--base: a run that reads the saved base instead of pretraining goes on as the run that saved it', async () => {
    const base = join(out, 'base', 'model.safetensors');
    const again = await runDemo({ seed: 0, backend: 'cpu', quick: true, out: join(out, 'again'), base, log: () => {} });
    expect(results.baseLoadedFrom).toBeNull();
    expect(again.baseLoadedFrom).toBe(base);
    const outcome = (r: DemoResults) => r.runs.map(({ name, histogram, confidentHistogram, finalLoss }) => ({ name, histogram, confidentHistogram, finalLoss }));
    expect(outcome(again)).toEqual(outcome(results));
    for (const name of ['base', 'lora-r4', 'full', 'scratch']) {
      expect(readFileSync(join(out, 'again', `samples-${name}.png`)).equals(readFileSync(join(out, `samples-${name}.png`)))).toBe(true);
    }
  }, 60_000);

  it.skipIf(skipHf)('PEFT opens the adapter on a PyTorch twin of the base and predicts tsgrad\'s noise, merged or not', async () => {
    const { probe, adapted } = await reloaded();
    const inputs = join(out, 'peft-inputs.json');
    writeFileSync(inputs, JSON.stringify({ sample: [...await probe.sample.data()], timesteps: probe.timesteps }));
    const peft = await runHfPython<{ adapted: number[]; merged: number[] }>(script, [out, inputs]);
    expect(peft.adapted).toHaveLength(adapted.length);
    for (let i = 0; i < adapted.length; i++) {
      expect(Math.abs(peft.adapted[i]! - adapted[i]!)).toBeLessThan(1e-4);
      expect(Math.abs(peft.merged[i]! - adapted[i]!)).toBeLessThan(1e-4);
    }
  });
});
