// The names demo in its quick mode: the files it writes, and the story it must tell.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../examples/names/demo.js';

const folder = () => mkdtempSync(join(tmpdir(), 'tsgrad-demo-'));

describe('npm run demo:names -- --steps-scale 0.05', () => {
  it('every LoRA rank beats no adaptation by a wide margin, and rank 4 comes within 0.25 nats of full fine-tuning', async () => {
    const out = folder();
    const lines: string[] = [];
    const results = await runDemo({ seed: 0, backend: 'cpu', stepsScale: 0.05, out, log: (l) => lines.push(l) });
    const run = (name: string) => results.runs.find((r) => r.name === name)!;
    expect(results.runs.map((r) => r.name)).toEqual(['base', 'lora-r1', 'lora-r4', 'lora-r8', 'full', 'scratch']);
    for (const rank of [1, 4, 8]) expect(run(`lora-r${rank}`).heldOutLoss).toBeLessThan(run('base').heldOutLoss - 0.15);
    expect(run('lora-r4').heldOutLoss).toBeLessThan(run('full').heldOutLoss + 0.25);
    // Trainable counts: LoRA's A [r, in] and B [out, r] on the three Linear layers; everything for full.
    const lora = (r: number) => r * (48 + 256 + 256) + r * (256 + 256 + 27);
    expect([1, 4, 8].map((r) => run(`lora-r${r}`).trainable)).toEqual([1, 4, 8].map(lora));
    expect(run('full').trainable).toBe(27 * 16 + 48 * 256 + 256 + 256 * 256 + 256 + 256 * 27 + 27);
    // A gradient and two Adam moments of 4 bytes per trainable number.
    for (const r of results.runs.slice(1)) expect(r.gradOptimizerBytes).toBe(12 * r.trainable);
    for (const r of results.runs) {
      expect(r.samples).toHaveLength(5);
      for (const s of r.samples) expect(s).toMatch(/^[a-z]*$/);
    }
    expect(results.checks.adapterReloadMaxDiff).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(results.checks.mergedHeldOutLoss - results.checks.unmergedHeldOutLoss)).toBeLessThan(1e-4);

    const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(saved.seed).toBe(0);
    expect(saved.backend).toBe('cpu');
    expect(saved.runs.map((r: { heldOutLoss: number }) => r.heldOutLoss)).toEqual(results.runs.map((r) => r.heldOutLoss));
    const svg = readFileSync(join(out, 'loss.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(6);
    expect(svg.match(/<circle/g)).toHaveLength(6);
    expect(existsSync(join(out, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8')).r).toBe(4);
    expect(lines.some((l) => /lora-r4 +\d\.\d{3} +4,396/.test(l))).toBe(true);
  }, 180_000);

  it('is deterministic for a seed', async () => {
    const once = () => runDemo({ seed: 3, backend: 'cpu', stepsScale: 0.005, out: folder(), log: () => {} });
    const [a, b] = [await once(), await once()];
    expect(b.runs.map((r) => [r.heldOutLoss, r.samples])).toEqual(a.runs.map((r) => [r.heldOutLoss, r.samples]));
  }, 120_000);
});
