// The browser bundle is self-contained: its files import only each other (no bare package
// names, no node: modules), the entry is what package.json maps under `browser`, and the
// README's sizes are the build's.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
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

  it("the README's sizes are the build's, to within 10%", () => {
    const entry = jsFiles().find((f) => outputs[f]!.entryPoint === 'src/index.ts')!;
    const gz = (f: string) => gzipSync(readFileSync(join(ROOT, f))).length / 1024;
    const shared = outputs[entry]!.imports.filter((i) => i.kind === 'import-statement').map((i) => i.path);
    const chunk = (name: string) => jsFiles().find((f) => new RegExp(`/chunks/${name}-[^/]*\\.js$`).test(f))!;
    const built = {
      library: gz(entry),
      shared: shared.reduce((s, f) => s + gz(f), 0),
      webgpu: gz(chunk('webgpu')),
      gpujs: gz(chunk('gpujs')),
      gpujsMinifiedKB: outputs[chunk('gpujs')]!.bytes / 1000,
    };
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    const m = /the library with the CPU backend about (\d+) KiB, plus about (\d+) KiB of chunks it shares with the GPU backends; the WebGPU backend about (\d+) KiB; the gpu\.js backend about (\d+) KiB, nearly all of it gpu\.js itself\. That chunk is about (\d+) kB minified/.exec(readme);
    expect(m, "the README's sentence on bundle sizes").not.toBeNull();
    const stated = { library: +m![1]!, shared: +m![2]!, webgpu: +m![3]!, gpujs: +m![4]!, gpujsMinifiedKB: +m![5]! };
    for (const [part, size] of Object.entries(built)) {
      const said = stated[part as keyof typeof stated];
      expect(Math.abs(said - size), `README says ${said} for ${part}, the build has ${size.toFixed(1)}: update the README's bundle sizes`).toBeLessThanOrEqual(Math.max(1, 0.1 * size));
    }
  });
});
