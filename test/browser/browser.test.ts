// tsgrad in a real browser: the bundle dist/browser/tsgrad.js runs conformance cases on cpu,
// webgpu (SwiftShader, --enable-unsafe-webgpu) and gpujs (the page's WebGL2), and the
// playground trains, draws and samples. Chromium missing: fails under CI, skipped loudly elsewhere.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import type { Download, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../scripts/build-browser.js';
import { io } from '../../src/index.js';
import type { PlaygroundResult } from '../../web/main.js';
import type { PageConformance } from './conformance.page.js';
import { type Browser, type StaticServer, launchChromium, serve } from './harness.js';
import { PLAYGROUND, playgroundBuild } from './playground.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const DIST = { browser: root('dist/browser'), page: root('dist/test-browser'), web: PLAYGROUND };
/** One case per kind of kernel: elementwise, broadcasting binary, reduction, matmul, views, indexing, fused softmax, a loss. */
const SLICE = ['exp', 'mul', 'matmul', 'transpose + contiguous', 'cat', 'gather', 'softmax', 'crossEntropy'];

let browser: Browser | null = null;
let server: StaticServer;

/** Builds what the pages load: the library bundle, the conformance page and (shared with other files) the playground. */
async function buildAll(): Promise<void> {
  await buildBrowser(DIST.browser);
  await esbuild({
    entryPoints: [root('test/browser/conformance.page.ts')],
    outfile: `${DIST.page}/conformance.js`,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    logLevel: 'warning',
    plugins: [{
      name: 'tsgrad-from-bundle',
      setup: (b) => b.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: '/tsgrad.js', external: true })),
    }],
  });
  mkdirSync(DIST.page, { recursive: true });
  writeFileSync(`${DIST.page}/index.html`, '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./conformance.js"></script>');
  await playgroundBuild();
}

/** A page that records console errors and uncaught exceptions. */
async function openPage(url: string, errors: string[], init?: () => void): Promise<Page> {
  const page = await browser!.context.newPage();
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  if (init) await page.addInitScript(init);
  await page.goto(url);
  return page;
}

/** The files of a zip archive, as Python's zipfile reads them (every CRC checked). */
function unzip(path: string): Record<string, Buffer> {
  const script = 'import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({n: z.read(n).hex() for n in z.namelist()}))';
  const hex = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' })) as Record<string, string>;
  return Object.fromEntries(Object.entries(hex).map(([name, h]) => [name, Buffer.from(h, 'hex')]));
}

/** The download button hands over one zip of PEFT's two files for the adapted layers. */
async function checkAdapterDownload(page: Page): Promise<void> {
  const downloads: Download[] = [];
  page.on('download', (d) => downloads.push(d));
  await page.click('#download');
  await expect.poll(() => downloads.length).toBe(1);
  await new Promise((r) => setTimeout(r, 500));
  expect(downloads).toHaveLength(1);
  expect(downloads[0]!.suggestedFilename()).toBe('tsgrad-names-lora-adapter.zip');
  const files = unzip((await downloads[0]!.path())!);
  expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  const config = JSON.parse(files['adapter_config.json']!.toString('utf8'));
  expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, base_model_name_or_path: 'tsgrad-names-mlp' });
  // target_modules: the names given to applyLoRA, which PEFT matches as a whole path or a dotted suffix.
  expect(config.target_modules).toEqual(['net.0', 'net.2', 'net.4']);
  const targeted = (path: string) => (config.target_modules as string[]).some((t) => path === t || path.endsWith(`.${t}`));
  expect(['net.0', 'net.2', 'net.4', 'emb', 'net.1', 'net.3', 'net'].filter(targeted)).toEqual(['net.0', 'net.2', 'net.4']);
  const { tensors } = io.decodeSafetensors(new Uint8Array(files['adapter_model.safetensors']!));
  const shapes = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape]));
  // The names demo's model: 48 → 256 → 256 → 27, each Linear adapted at rank 4.
  expect(shapes).toEqual({
    'base_model.model.net.0.lora_A.weight': [4, 48],
    'base_model.model.net.0.lora_B.weight': [256, 4],
    'base_model.model.net.2.lora_A.weight': [4, 256],
    'base_model.model.net.2.lora_B.weight': [256, 4],
    'base_model.model.net.4.lora_A.weight': [4, 256],
    'base_model.model.net.4.lora_B.weight': [27, 4],
  });
  // B starts at zero; trained, it is not.
  expect(Math.max(...Array.from(tensors['base_model.model.net.4.lora_B.weight']!.dataSync(), Math.abs))).toBeGreaterThan(0);
}

/** Opens the playground on `backend` and waits for it to finish training. */
async function trainInPlayground(backend: string, pretrain: number, finetune: number, samples: number): Promise<{ page: Page; r: PlaygroundResult; errors: string[] }> {
  const errors: string[] = [];
  const page = await openPage(`${server.url}/web/?backend=${backend}&pretrain=${pretrain}&finetune=${finetune}&samples=${samples}&auto`, errors);
  await page.setViewportSize({ width: 1000, height: 800 });
  await page.waitForFunction(() => document.body.dataset['state'] === 'done' || document.body.dataset['state'] === 'error', null, { timeout: 60_000 });
  expect(await page.locator('#status').textContent()).toMatch(new RegExp(`^Done on ${backend}`));
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  const r = (await page.evaluate(() => window.playground)) as PlaygroundResult;
  expect([r.pretrain.length, r.lora.length, r.full.length, r.samples.length]).toEqual([pretrain, finetune, finetune, samples]);
  return { page, r, errors };
}

/** Charts, samples, the graph of one LoRA step and the backward step-through are on the page. */
async function checkPageParts(page: Page, r: PlaygroundResult): Promise<void> {
  expect(r.samples.every((s) => /^[a-z]*$/.test(s))).toBe(true);
  expect(await page.locator('#pretrain-chart path').count()).toBeGreaterThanOrEqual(1);
  expect(await page.locator('#finetune-chart path').count()).toBeGreaterThanOrEqual(2);
  // The x-axes end at the step count the text gives; the y-axes say what the loss is measured in.
  expect(await page.locator('#pretrain-chart text').allTextContents()).toEqual(expect.arrayContaining([`step ${r.pretrain.length}`, 'loss (nats per character)']));
  expect(await page.locator('#pretrain-info').textContent()).toMatch(new RegExp(`^step ${r.pretrain.length}/${r.pretrain.length} `));
  expect(await page.locator('#finetune-chart text').allTextContents()).toEqual(expect.arrayContaining([`step ${r.lora.length}`, 'loss (nats per character)']));
  expect(await page.locator('#finetune-info').textContent()).toMatch(new RegExp(`^step ${r.lora.length}/${r.lora.length} `));
  expect(await page.locator('#memory-chart rect').count()).toBeGreaterThan(5);
  expect(await page.locator('#download').isEnabled()).toBe(true);
  // The graph of one LoRA step: tensor boxes, op ellipses, frozen weights dashed.
  expect(await page.locator('#graph svg rect').count()).toBeGreaterThan(10);
  expect(await page.locator('#graph svg ellipse').count()).toBeGreaterThan(10);
  expect(await page.locator('#graph svg rect[stroke-dasharray]').count()).toBeGreaterThan(0);
  // It fits its box; "actual size" shows it unscaled, scrolling inside the box.
  const fit = await page.evaluate(() => ({ svg: document.querySelector('#graph svg')!.getBoundingClientRect().width, box: document.getElementById('graph')!.clientWidth }));
  expect(fit.svg).toBeGreaterThan(0);
  expect(fit.svg).toBeLessThanOrEqual(fit.box);
  await page.click('#graph-actual');
  expect(await page.evaluate(() => document.querySelector('#graph svg')!.getBoundingClientRect().width)).toBe(Number(await page.locator('#graph svg').getAttribute('width')));
  await page.click('#graph-whole');
  const whole = await page.evaluate(() => {
    const svg = document.querySelector('#graph svg')!.getBoundingClientRect(), box = document.getElementById('graph')!;
    return { svg: [svg.width, svg.height], box: [box.clientWidth, box.clientHeight] };
  });
  expect(whole.svg[0]).toBeLessThanOrEqual(whole.box[0]!);
  expect(whole.svg[1]).toBeLessThanOrEqual(whole.box[1]!);
  await page.click('#graph-fit');
  // Parameters are named by their module path; "frozen" boxes are the base layers' weights only.
  const labels = await page.locator('#graph svg g').evaluateAll((gs) => gs.map((g) => ({ fill: g.querySelector('rect')?.getAttribute('fill') ?? null, text: g.querySelector('text')?.textContent ?? '' })));
  for (const path of ['net.0.loraA', 'net.0.loraB', 'net.2.loraA', 'net.2.loraB', 'net.4.loraA', 'net.4.loraB']) {
    expect(labels.filter((l) => l.text.startsWith(`${path} `)), path).toHaveLength(1);
  }
  const frozen = labels.filter((l) => l.fill === '#f2f2f2').map((l) => l.text);
  expect(frozen.length).toBeGreaterThan(0);
  for (const text of frozen) expect(text).toMatch(/^net\.[024]\.base\.(weight\.T|bias) \[/);
  expect(labels.filter((l) => /^(leaf|frozen) /.test(l.text))).toEqual([]);
  // The backward trace: frozen base weights skipped; the step-through moves one row at a time.
  expect(r.trace.length).toBeGreaterThan(10);
  expect(r.trace[0]!.gradNorm).toBeCloseTo(1, 5);
  expect(r.trace.flatMap((t) => t.inputs).some((i) => i.skipped === 'frozen')).toBe(true);
  expect(await page.locator('#trace tbody tr').count()).toBe(r.trace.length);
  expect(await page.locator('#trace-pos').textContent()).toMatch(new RegExp(`^step 1 of ${r.trace.length}: `));
  expect(await page.locator('#trace tbody tr.current td').first().textContent()).toBe('1');
  await page.click('#trace-next');
  await page.click('#trace-next');
  expect(await page.locator('#trace-pos').textContent()).toMatch(new RegExp(`^step 3 of ${r.trace.length}: ${r.trace[2]!.op} `));
  expect(await page.locator('#trace tbody tr.current td').first().textContent()).toBe('3');
}

describe('browser (Chromium)', () => {
  beforeAll(async () => {
    try {
      browser = await launchChromium();
    } catch (e) {
      if (process.env['CI']) throw new Error(`Chromium is required in CI: ${(e as Error).message}`);
      console.warn(`\n*** SKIPPING the browser tests: ${(e as Error).message}\n`);
      return;
    }
    await buildAll();
    server = await serve({ '/test/': DIST.page, '/web/': DIST.web, '/': DIST.browser });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  for (const backend of ['cpu', 'webgpu', 'gpujs']) {
    it(`runs the conformance slice on ${backend}`, async (ctx) => {
      if (!browser) return ctx.skip();
      const errors: string[] = [];
      const page = await openPage(`${server.url}/test/`, errors);
      await page.waitForFunction(() => 'runConformance' in globalThis);
      const r = await page.evaluate(
        ([b, names]) => (globalThis as unknown as { runConformance(b: string, n: string[], runs: number): Promise<PageConformance> }).runConformance(b, names, 3),
        [backend, SLICE] as const,
      );
      await page.close();
      expect(r.ran).toEqual(SLICE);
      expect(r.failures).toEqual([]);
      if (backend === 'webgpu') expect(r.info['backendType']).toBe('browser');
      if (backend === 'gpujs') expect(r.info['kernelType']).toBe('WebGL2Kernel');
      expect(errors).toEqual([]);
    });
  }

  it('webgpu without navigator.gpu: a clear error, and the playground falls back to cpu and says so', async (ctx) => {
    if (!browser) return ctx.skip();
    const errors: string[] = [];
    const hideWebGpu = () => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
    const page = await openPage(`${server.url}/test/`, errors, hideWebGpu);
    await page.waitForFunction(() => 'runConformance' in globalThis);
    const message = await page.evaluate(() =>
      (globalThis as unknown as { runConformance(b: string, n: string[], runs: number): Promise<unknown> }).runConformance('webgpu', [], 1).then(
        () => 'no error',
        (e: Error) => `${e.name}: ${e.message}`,
      ),
    );
    expect(message).toMatch(/^TsgradError: setBackend: this browser exposes no WebGPU adapter; .*setBackend\('cpu'\)/);
    await page.close();

    const play = await openPage(`${server.url}/web/?backend=webgpu&pretrain=3&finetune=2&samples=1&auto`, errors, hideWebGpu);
    await play.waitForFunction(() => document.body.dataset['state'] !== 'running' && document.body.dataset['state'] !== undefined, null, { timeout: 30_000 });
    const status = await play.locator('#status').textContent();
    const result = await play.evaluate(() => window.playground);
    await play.close();
    expect(result?.backend).toBe('cpu');
    expect(status).toMatch(/webgpu is unavailable here .*no WebGPU adapter.*; running on cpu instead/);
    expect(errors).toEqual([]);
  });

  it('Node-only file I/O says so in a page and points to the byte-level twins', async (ctx) => {
    if (!browser) return ctx.skip();
    const errors: string[] = [];
    const page = await openPage(`${server.url}/test/`, errors);
    await page.waitForFunction(() => 'tsgrad' in globalThis);
    const messages = await page.evaluate(async () => {
      const t = (globalThis as unknown as { tsgrad: typeof import('../../src/index.js') }).tsgrad;
      const caught = async (f: () => unknown) => {
        try {
          await f();
          return 'no error';
        } catch (e) {
          return `${(e as Error).name}: ${(e as Error).message}`;
        }
      };
      return [await caught(() => t.io.saveStateDict('model.safetensors', new t.nn.Linear(2, 2))), await caught(() => t.io.loadAdapterDir(new t.nn.Linear(2, 2), 'adapter'))];
    });
    await page.close();
    expect(messages[0]).toMatch(/^TsgradError: saveStateDict: saveStateDict is Node-only .*in browsers use io\.encodeStateDict and a Blob/);
    expect(messages[1]).toMatch(/^TsgradError: loadAdapterDir: loadAdapterDir is Node-only .*io\.loadAdapter/);
    expect(errors).toEqual([]);
  });

  it('the playground on gpujs names the real kernel class although Vite minified gpu.js', async (ctx) => {
    if (!browser) return ctx.skip();
    const asset = readdirSync(`${DIST.web}/assets`).find((f) => /^gpujs-.*\.js$/.test(f))!;
    expect(readFileSync(`${DIST.web}/assets/${asset}`, 'utf8')).not.toMatch(/class WebGL2Kernel\b/);
    const errors: string[] = [];
    const page = await openPage(`${server.url}/web/?backend=gpujs&pretrain=1&finetune=1&samples=1&auto`, errors);
    // The status names the backend as soon as it is up; training itself is covered on cpu and webgpu.
    await page.waitForFunction(() => /^(Training|Done) on gpujs|failed/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 60_000 });
    const status = await page.locator('#status').textContent();
    await page.close();
    expect(status).toMatch(/^(Training|Done) on gpujs \(WebGL2Kernel[,)]/);
    expect(errors).toEqual([]);
  });

  /** The cpu run's results, which the webgpu run must reproduce (same seed, same batches). */
  let onCpu: PlaygroundResult | null = null;

  it('the playground trains on cpu: the loss falls, the graph renders, backward steps through, no console errors', async (ctx) => {
    if (!browser) return ctx.skip();
    const { page, r, errors } = await trainInPlayground('cpu', 60, 30, 12);
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    // Uniform guessing over 27 symbols is ln 27 ≈ 3.30; a few dozen Adam steps get well below it.
    expect(mean(r.pretrain.slice(0, 5))).toBeGreaterThan(3);
    expect(mean(r.pretrain.slice(-10))).toBeLessThan(mean(r.pretrain.slice(0, 5)) - 0.3);
    expect(mean(r.lora.slice(-5))).toBeLessThan(mean(r.pretrain.slice(0, 5)) - 0.3);
    expect(mean(r.full.slice(-5))).toBeLessThan(mean(r.pretrain.slice(0, 5)) - 0.3);
    await checkPageParts(page, r);
    await page.screenshot({ path: root('dist/test-browser/playground.png'), fullPage: true });
    await checkAdapterDownload(page);
    await page.close();
    expect(errors).toEqual([]);
    onCpu = r;
  });

  it('the playground trains on webgpu as on cpu (same losses to float32 rounding), draws the graph and steps through', async (ctx) => {
    if (!browser) return ctx.skip();
    const { page, r, errors } = await trainInPlayground('webgpu', 8, 4, 2);
    expect(onCpu, 'the cpu playground run failed, so there is nothing to compare with').not.toBeNull();
    const drift = r.pretrain.map((v, i) => Math.abs(v - onCpu!.pretrain[i]!));
    expect(Math.max(...drift)).toBeLessThan(2e-3);
    await checkPageParts(page, r);
    await page.close();
    expect(errors).toEqual([]);
  });
});
