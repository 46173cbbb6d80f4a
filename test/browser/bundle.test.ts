// The browser bundle is self-contained: its files import only each other (no bare package
// names, no node: modules), and the entry is what package.json maps under `browser`.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../scripts/build-browser.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'dist/test-bundle');
let outputs: Metafile['outputs'] = {};
const jsFiles = () => Object.keys(outputs).filter((f) => f.endsWith('.js'));

describe('browser bundle', () => {
  beforeAll(async () => {
    outputs = await buildBrowser(OUT);
  }, 60_000);

  it('has one entry, tsgrad.js, and the GPU backends as lazy chunks', () => {
    const entries = jsFiles().filter((f) => outputs[f]!.entryPoint === 'src/index.ts');
    expect(entries.map((f) => relative(OUT, join(ROOT, f)))).toEqual(['tsgrad.js']);
    const lazy = outputs[entries[0]!]!.imports.filter((i) => i.kind === 'dynamic-import').map((i) => relative(OUT, join(ROOT, i.path)));
    expect(lazy.sort()).toEqual([expect.stringMatching(/^chunks\/gpujs-.*\.js$/), expect.stringMatching(/^chunks\/webgpu-.*\.js$/)]);
  });

  it('imports nothing but its own files', () => {
    expect(jsFiles().length).toBeGreaterThan(2);
    for (const f of jsFiles()) {
      for (const i of outputs[f]!.imports) {
        expect(i.external ?? false, `${f} imports '${i.path}' from outside the bundle`).toBe(false);
        expect(outputs[i.path], `${f} imports '${i.path}', which the build did not write`).toBeDefined();
      }
    }
    // Neither Dawn nor headless-gl nor the file system reaches the page.
    const inputs = jsFiles().flatMap((f) => Object.keys(outputs[f]!.inputs));
    expect(inputs.filter((i) => /node_modules\/(webgpu|gl)\/|src\/io\/disk\.ts|adapters\.ts$|context\.ts$/.test(i))).toEqual([]);
    expect(inputs).toEqual(expect.arrayContaining(['src/backends/webgpu/adapters.browser.ts', 'src/backends/gpujs/context.browser.ts']));
  });

  it('is what package.json maps for browsers', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['.'].browser).toBe('./dist/browser/tsgrad.js');
    expect(pkg.scripts.build).toMatch(/scripts\/build-browser\.ts/);
  });
});
