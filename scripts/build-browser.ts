// The bundles beside tsc's output: `dist/browser/tsgrad.js`, one self-contained ESM file for
// browsers (the GPU backends are lazy chunks beside it), and, for tests, a minified Node bundle.
import { type Metafile, build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { codeMark } from '../src/core/leaks.js';
import { browserTwinsEsbuild } from './browser-twins.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = `${ROOT}src/index.ts`;

/** Builds the browser bundle into `outdir` (tsgrad.js and chunks/); returns esbuild's account of the outputs. */
export async function buildBrowser(outdir = `${ROOT}dist/browser`): Promise<Metafile['outputs']> {
  // Chunk names carry content hashes: clear the last build's, or they would ship too.
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { tsgrad: ENTRY },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    // Error messages name classes (optimizers by `constructor.name`): keep those names.
    keepNames: true,
    sourcemap: true,
    chunkNames: 'chunks/[name]-[hash]',
    // Each file records where its code starts and ends, so leak warnings can skip tsgrad's frames
    // after an app's bundler has merged this code into its own files.
    banner: { js: codeMark('start') },
    footer: { js: codeMark('end') },
    metafile: true,
    logLevel: 'warning',
    plugins: [browserTwinsEsbuild()],
  });
  return result.metafile.outputs;
}

/** Builds one minified Node ESM file (drivers stay external), to prove minification is safe. */
export async function buildNodeMinified(outfile: string): Promise<void> {
  await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify: true,
    packages: 'external',
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outputs = await buildBrowser();
  for (const f of Object.keys(outputs).filter((o) => o.endsWith('.js'))) console.log(`${f}  ${(gzipSync(readFileSync(f)).length / 1024).toFixed(1)} KiB gzipped`);
}
