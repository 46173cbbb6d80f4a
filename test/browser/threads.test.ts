// The CPU worker pool in a real browser: its Web Workers run the claim protocol, main loop and
// kernel serialised from a bundle minified with names kept (as dist/browser/tsgrad.js is built),
// so a part runs in a worker. Chromium missing: fails under CI, skipped loudly elsewhere.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type StaticServer, launchChromium, serve } from './harness.js';

const OUT = fileURLToPath(new URL('../../dist/test-threads', import.meta.url));
let browser: Browser | null = null;
let server: StaticServer;

describe('cpu worker pool in Chromium', () => {
  beforeAll(async () => {
    try {
      browser = await launchChromium();
    } catch (e) {
      if (process.env['CI']) throw new Error(`Chromium is required in CI: ${(e as Error).message}`);
      console.warn(`\n*** SKIPPING the browser worker-pool test: ${(e as Error).message}\n`);
      return;
    }
    await build({
      entryPoints: [fileURLToPath(new URL('./threads.page.ts', import.meta.url))],
      outfile: `${OUT}/threads.js`,
      bundle: true, minify: true, keepNames: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'warning',
    });
    writeFileSync(`${OUT}/index.html`, '<!doctype html><meta charset="utf-8"><script type="module" src="threads.js"></script>');
    server = await serve({ '/': OUT });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs parts in its Web Workers and on the page', async (ctx) => {
    if (!browser) return ctx.skip();
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => 'runPool' in globalThis);
    const r = await page.evaluate(() => (globalThis as unknown as { runPool(): Promise<unknown> }).runPool());
    await page.close();
    expect(r).toEqual({ page: true, worker: true, error: null });
    expect(errors).toEqual([]);
  }, 60_000);
});
