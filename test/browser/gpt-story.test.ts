// The playground's GPT story in Chromium on cpu, a few steps of each part: a GPT-2 pretrained on
// Moby Dick, adapted to State of the Union addresses by LoRA and by full fine-tuning. The loss
// falls, and the parameter and memory counts match GPT-2's architecture counted by hand.
// Chromium missing: fails under CI, skipped loudly elsewhere.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GptStoryResult } from '../../web/gpt.js';
import { type Browser, type StaticServer, launchChromium, serve } from './harness.js';
import { playgroundBuild } from './playground.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const OUT = root('dist/test-gpt-web');

let browser: Browser | null = null;
let server: StaticServer;

const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;

describe('the playground\'s GPT story (Chromium)', () => {
  beforeAll(async () => {
    try {
      browser = await launchChromium();
    } catch (e) {
      if (process.env['CI']) throw new Error(`Chromium is required in CI: ${(e as Error).message}`);
      console.warn(`\n*** SKIPPING the GPT story's browser test: ${(e as Error).message}\n`);
      return;
    }
    server = await serve({ '/web/': await playgroundBuild() });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('pretrains and adapts on cpu: losses fall, LoRA trains and stores far less than full fine-tuning', async (ctx) => {
    if (!browser) return ctx.skip();
    const errors: string[] = [];
    const page = await browser.context.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.setViewportSize({ width: 1000, height: 800 });
    await page.goto(`${server.url}/web/?backend=cpu&gpt&gptPretrain=100&gptAdapt=20`);
    await page.waitForFunction(() => document.body.dataset['gpt'] === 'done' || document.body.dataset['gpt'] === 'error', null, { timeout: 120_000 });
    expect(await page.locator('#gpt-status').textContent()).toMatch(/^Done on cpu /);
    const r = (await page.evaluate(() => window.gptStory)) as GptStoryResult;
    expect([r.backend, r.pretrain.length, r.lora.length, r.full.length]).toEqual(['cpu', 100, 20, 20]);

    // Uniform guessing over 96 symbols is ln 96 ≈ 4.56 nats; a hundred Adam steps get well below it.
    expect(mean(r.pretrain.slice(0, 3))).toBeGreaterThan(4.2);
    expect(mean(r.pretrain.slice(-5))).toBeLessThan(mean(r.pretrain.slice(0, 3)) - 0.8);
    const [base, lora, full] = r.runs;
    expect(r.runs.map((x) => x.name)).toEqual(['base', 'lora-r4', 'full']);
    expect(base!.heldOutLoss).toBeLessThan(Math.log(96));
    // Adapting on the training addresses lowers the loss on the held-out ones. Twenty steps of LoRA
    // after a hundred of pretraining move it little (the page's default run shows the gain).
    expect(full!.heldOutLoss).toBeLessThan(base!.heldOutLoss - 0.02);
    expect(lora!.heldOutLoss).toBeLessThan(base!.heldOutLoss + 0.01);

    // GPT-2 counted by hand: V = 96, P = 64 positions, d = 48, L = 2 blocks (each 12d² + 13d), ln_f 2d, lm_head tied.
    const [V, P, d, L, rank] = [96, 64, 48, 2, 4];
    expect(r.parameters).toBe(V * d + P * d + L * (12 * d * d + 13 * d) + 2 * d);
    expect(full!.trainable).toBe(r.parameters);
    // LoRA on c_attn (d → 3d): A is [rank, d], B is [3d, rank], in each block.
    expect(lora!.trainable).toBe(L * rank * (d + 3 * d));
    expect(lora!.trainable * 40).toBeLessThan(full!.trainable);
    // float32 gradients and Adam's two moments: 12 bytes per trainable parameter.
    expect(lora!.gradOptimizerBytes).toBe(12 * lora!.trainable);
    expect(full!.gradOptimizerBytes).toBe(12 * full!.trainable);
    for (const x of r.runs) expect(x.sample).toMatch(/^[\n\x20-\x7e]{60}$/);

    // The page shows it: both charts end at their step counts, one table row per run, two memory bars.
    expect(await page.locator('#gpt-pretrain-chart text').allTextContents()).toEqual(expect.arrayContaining(['step 100', 'loss (nats per character)']));
    expect(await page.locator('#gpt-adapt-chart text').allTextContents()).toEqual(expect.arrayContaining(['step 20', `LoRA r4 (${lora!.trainable.toLocaleString('en-US')} trainable)`]));
    expect(await page.locator('#gpt-adapt-chart path').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#gpt-table tr').count()).toBe(4);
    expect(await page.locator('#gpt-memory-chart rect').count()).toBeGreaterThanOrEqual(3);
    await page.locator('#gpt-section').screenshot({ path: `${OUT}/gpt-story.png` });
    await page.close();
    expect(errors).toEqual([]);
  }, 180_000);

  it('webgpu without navigator.gpu: the story falls back to cpu with the page\'s notice', async (ctx) => {
    if (!browser) return ctx.skip();
    const errors: string[] = [];
    const page = await browser.context.newPage();
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    await page.goto(`${server.url}/web/?backend=webgpu&gpt&gptPretrain=2&gptAdapt=1`);
    await page.waitForFunction(() => document.body.dataset['gpt'] === 'done' || document.body.dataset['gpt'] === 'error', null, { timeout: 60_000 });
    expect(await page.locator('#status').textContent()).toMatch(/webgpu is unavailable here .*no WebGPU adapter.*; running on cpu instead/);
    expect(await page.locator('#gpt-status').textContent()).toMatch(/^Done on cpu /);
    expect((await page.evaluate(() => window.gptStory))?.backend).toBe('cpu');
    await page.close();
    expect(errors).toEqual([]);
  }, 90_000);
});
