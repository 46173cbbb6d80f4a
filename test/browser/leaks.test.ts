// Leak warnings in a real app: a page bundled with tsgrad into one minified file by Vite, from the
// published browser build as an app would, and from the sources as the playground does, leaks two
// webgpu tensors (SwiftShader) from two lines deep in its stack; each leak warns once, and the
// warning's first frame is the page's own call. Chromium missing: fails under CI, skipped loudly elsewhere.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build as viteBuild } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { browserTwinsVite } from '../../scripts/browser-twins.js';
import { buildBrowser } from '../../scripts/build-browser.js';
import { codeMarksVite } from '../../scripts/code-marks.js';
import { type Browser, type StaticServer, launchChromium, serve } from './harness.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const LIB = root('dist/test-leaks/tsgrad');
/** Where `import 'tsgrad'` leads, and the plugins that build needs. */
const BUILDS = {
  'the browser bundle': { tsgrad: `${LIB}/tsgrad.js`, plugins: [] },
  'the sources': { tsgrad: root('src/index.ts'), plugins: [browserTwinsVite(), codeMarksVite()] },
};
type Build = keyof typeof BUILDS;
const pageDir = (build: Build) => root(`dist/test-leaks/page-${build.replaceAll(' ', '-')}`);

let browser: Browser | null = null;
let server: StaticServer;

beforeAll(async () => {
  try {
    browser = await launchChromium();
  } catch (e) {
    if (process.env['CI']) throw new Error(`Chromium is required in CI: ${(e as Error).message}`);
    console.warn(`\n*** SKIPPING the browser leak warning test: ${(e as Error).message}\n`);
    return;
  }
  await buildBrowser(LIB);
  for (const [build, { tsgrad, plugins }] of Object.entries(BUILDS)) {
    await viteBuild({
      configFile: false,
      root: root('test/browser/leaks'),
      base: './',
      logLevel: 'warn',
      resolve: { alias: { tsgrad } },
      plugins,
      build: { outDir: pageDir(build as Build), emptyOutDir: true, target: 'es2022', minify: 'esbuild', chunkSizeWarningLimit: 1024 },
    });
  }
  server = await serve(Object.fromEntries(Object.keys(BUILDS).map((b) => [`/${b.replaceAll(' ', '-')}/`, pageDir(b as Build)])));
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** The minified file the page's code went into, and where in it the page calls randn(shape). */
function pageCall(build: Build, shape: number): { file: string; line: number; column: number } {
  const file = readdirSync(`${pageDir(build)}/assets`).find((f) => /^index-.*\.js$/.test(f))!;
  const text = readFileSync(`${pageDir(build)}/assets/${file}`, 'utf8');
  const at = text.indexOf(`([${shape}],{backend:"webgpu"})`);
  expect(at, `the page's randn([${shape}]) call is not in ${file}`).toBeGreaterThan(0);
  // V8 places a call at its callee's name.
  const callee = /[\w$]+$/.exec(text.slice(0, at))!;
  const lines = text.slice(0, callee.index).split('\n');
  return { file, line: lines.length, column: lines.at(-1)!.length + 1 };
}

it.for<Build>(['the browser bundle', 'the sources'])('a leaked webgpu tensor in an app minified with tsgrad from %s names the page line that made it, once per leak', { timeout: 120_000 }, async (build, ctx) => {
  if (!browser) return ctx.skip();
  // tsgrad's own code is in the same file as the page's.
  expect(readdirSync(`${pageDir(build)}/assets`).filter((f) => /^index-.*\.js$/.test(f))).toHaveLength(1);
  const page = await browser.context.newPage();
  const warnings: string[] = [];
  const errors: string[] = [];
  page.on('console', (m) => (m.type() === 'warning' ? warnings : m.type() === 'error' ? errors : []).push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/${build.replaceAll(' ', '-')}/`);
  await page.waitForFunction(() => 'leakTwo' in globalThis);
  const ran = await page.evaluate(() => (globalThis as unknown as { leakTwo(): Promise<{ backend: string; stackTraceLimit: number }> }).leakTwo());
  // The frame limit is raised only while a creation site is captured.
  expect(ran).toEqual({ backend: 'webgpu', stackTraceLimit: 10 });
  const cdp = await page.context().newCDPSession(page);
  await expect.poll(async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    return warnings.length;
  }, { timeout: 20_000, interval: 250 }).toBe(2);
  // More collections report nothing more: each leak warned once.
  for (let i = 0; i < 3; i++) await cdp.send('HeapProfiler.collectGarbage');
  await new Promise((r) => setTimeout(r, 300));
  await page.close();
  expect(warnings).toHaveLength(2);
  expect(errors).toEqual([]);

  for (const w of warnings) expect(w).toMatch(/^tsgrad: a webgpu tensor \(\d+ bytes\) was garbage-collected without dispose\(\) or scope\(\)/);
  // Each warning's first frame is one of the page's two randn calls, a different one each.
  const firsts = warnings.map((w) => /([^/\s(]+):(\d+):(\d+)\)?$/.exec(w.split('\n')[1]!.trim())!.slice(1).join(':'));
  const calls = [61, 62].map((shape) => pageCall(build, shape)).map((c) => `${c.file}:${c.line}:${c.column}`);
  expect(firsts.sort()).toEqual(calls.sort());
});
