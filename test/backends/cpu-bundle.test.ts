// The threaded CPU matmul survives minification: the package bundled by esbuild with --minify and
// --keep-names (for the browser platform, so a static Node import would not even resolve) and run
// in Node.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { browserTwinsEsbuild } from '../../scripts/browser-twins.js';

describe('cpu backend in a minified bundle', () => {
  it('splits matmuls between threads on both paths, with exact results and no static node: import', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'tsgrad-bundle-'));
    const result = await build({
      entryPoints: { bundle: join(import.meta.dirname, 'support/bundleEntry.ts') },
      bundle: true, minify: true, format: 'esm', platform: 'browser', splitting: true, outdir, outExtension: { '.js': '.mjs' },
      // As the browser build: keeping names wraps named functions in a bundle helper, which the
      // kernel and worker code serialised into the workers must not contain.
      keepNames: true,
      metafile: true,
      // The GPU backends load lazily, in chunks of their own; they are not what this bundle tests.
      external: ['webgpu', 'gpu.js', 'gl', 'node:*'],
      // Node-only modules are swapped for their browser twins, as the browser build does.
      plugins: [browserTwinsEsbuild()],
      logLevel: 'silent',
    });
    // Everything the entry loads statically, chunk by chunk: no Node module among it.
    const outputs = result.metafile.outputs;
    const file = Object.keys(outputs).find((f) => outputs[f]!.entryPoint !== undefined)!;
    const staticNode: string[] = [];
    const seen = new Set<string>();
    for (const queue = [file]; queue.length > 0; ) {
      const f = queue.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      for (const i of outputs[f]!.imports) {
        if (i.kind !== 'import-statement') continue;
        if (i.external) staticNode.push(i.path);
        else queue.push(i.path);
      }
    }
    expect(staticNode).toEqual([]);
    const run = await promisify(execFile)(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, TSGRAD_CPU_THREADS: '2' }, timeout: 60_000 });
    const report = JSON.parse(run.stdout) as Record<string, object>;
    // Still two threads after the matmul: a failing worker would have dropped the count to one.
    expect(report['wasm']).toMatchObject({ path: 'wasm', threads: 2, exact: true });
    expect(report['js']).toMatchObject({ path: 'js', threads: 2, exact: true });
    // The workers ran parts: their program, serialised from the minified functions, works.
    expect(report['pool']).toEqual({ calling: true, worker: true });
  });
});
