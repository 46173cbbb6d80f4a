// The playground's benchmark section in Chromium (SwiftShader's WebGPU and WebGL): every library
// runs the LoRA step, and the GPT step runs on tsgrad's cpu backend. The first losses are checked
// against what the cases' initialisations give analytically, and tsgrad's three backends against
// each other; the table, the chart and the JSON offered for download show what ran.
// Chromium missing: fails under CI, skipped loudly elsewhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchPageResult } from '../../web/bench.js';
import { type Browser, type StaticServer, launchChromium, serve } from './harness.js';
import { playgroundBuild } from './playground.js';

const IMPLS = ['tsgrad/cpu', 'tsgrad/webgpu', 'tsgrad/gpujs', 'tfjs/webgpu', 'jax-js/webgpu'];
const LORA = 'LoRA r4 train step, x [64,768], W 768×768, Adam';

let browser: Browser | null = null;
let server: StaticServer;

/** Opens the page with `query`, waits for the benchmark, and returns its result and the page. */
async function runPage(query: string) {
  const errors: string[] = [];
  const page = await browser!.context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(`${server.url}/web/?bench&benchRounds=1&benchTime=20&${query}`);
  await page.waitForFunction(() => document.body.dataset['bench'] === 'done' || document.body.dataset['bench'] === 'error', null, { timeout: 240_000 });
  expect(await page.locator('#bench-status').textContent()).toMatch(/^Done: /);
  expect(errors).toEqual([]);
  return { page, result: (await page.evaluate(() => window.benchResult)) as BenchPageResult };
}

describe('the playground\'s benchmark section (Chromium)', () => {
  beforeAll(async () => {
    try {
      browser = await launchChromium();
    } catch (e) {
      if (process.env['CI']) throw new Error(`Chromium is required in CI: ${(e as Error).message}`);
      console.warn(`\n*** SKIPPING the benchmark page's browser test: ${(e as Error).message}\n`);
      return;
    }
    server = await serve({ '/web/': await playgroundBuild() });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs the LoRA step on every library, the same work on each, and offers the table, chart and JSON', async (ctx) => {
    if (!browser) return ctx.skip();
    const { page, result } = await runPage('benchCases=lora');
    expect(result.gpu).toMatch(/swiftshader/i);
    expect(result.unavailable.map((u) => u.impl)).toEqual(['tfjs/webgpu']); // it has no GPT, said plainly
    expect(result.rows.map((r) => [r.case, r.impl])).toEqual(IMPLS.map((impl) => [LORA, impl]));
    for (const r of result.rows) expect(r.medianMs! > 0 && Number.isFinite(r.medianMs)).toBe(true);

    // The first MSE is 1 (the N(0,1) target) plus the variance of x·W0ᵀ + b0 (B starts at zero):
    // tsgrad's Linear draws W0 and b0 as PyTorch's, U(±1/√768), so 768·(1/768)/3 = 1/3; the peers
    // draw W0 from N(0, 0.03²) with a zero bias, so 768·0.03². 64×768 samples put both within 0.05.
    const first = (impl: string) => result.firstValues[`${LORA}|${impl}`]!;
    for (const impl of ['tsgrad/cpu', 'tsgrad/webgpu', 'tsgrad/gpujs']) expect(Math.abs(first(impl) - 4 / 3)).toBeLessThan(0.05);
    for (const impl of ['tfjs/webgpu', 'jax-js/webgpu']) expect(Math.abs(first(impl) - (1 + 768 * 0.03 ** 2))).toBeLessThan(0.05);
    // tsgrad's backends draw the same numbers from one seed, so they compute the same loss.
    expect(first('tsgrad/webgpu')).toBeCloseTo(first('tsgrad/cpu'), 4);
    expect(first('tsgrad/gpujs')).toBeCloseTo(first('tsgrad/cpu'), 4);

    expect(await page.locator('#bench-table tr').count()).toBe(2);
    expect(await page.locator('#bench-table th').allTextContents()).toEqual(['case (median ms)', ...IMPLS]);
    expect(await page.locator('#bench-chart rect').count()).toBe(IMPLS.length);
    const offered = await page.evaluate(async () => {
      const link = document.getElementById('bench-json') as HTMLAnchorElement;
      return { name: link.download, json: await (await fetch(link.href)).json() as BenchPageResult };
    });
    expect(offered.name).toBe('tsgrad-benchmark.json');
    expect(offered.json.rows).toEqual(result.rows);
    await page.close();
  }, 300_000);

  it('runs the GPT steps on cpu from their first loss, ln 96 for an untrained model', async (ctx) => {
    if (!browser) return ctx.skip();
    const { page, result } = await runPage('benchOnly=tsgrad/cpu&benchCases=gptFull,gptLora');
    expect(result.rows.map((r) => r.case)).toEqual(['GPT train step, full fine-tuning', 'GPT train step, LoRA r4 on c_attn']);
    expect(result.cpu).toMatch(/^wasm path, \d+ threads?$/);
    // GPT-2's initialisation (N(0, 0.02²)) gives near-uniform logits over the 96 symbols.
    for (const v of Object.values(result.firstValues)) expect(Math.abs(v - Math.log(96))).toBeLessThan(0.1);
    await page.close();
  }, 300_000);
});
