// The published types compile for strict consumers, against the .d.ts files `npm run build`
// writes, with no skipLibCheck: a CPU-only Node consumer (no DOM lib, no @webgpu/types, no GPU
// driver packages), a page (the README's browser snippets, with the DOM lib as Vite's template
// sets it up: a Uint8Array that may be backed by a SharedArrayBuffer is no BlobPart there), and a
// backend of one's own that declares its info.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { browserSnippets } from '../docs/snippets.js';
import { diagnostics, installDeclarations } from './declarations.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgrad-consumer-'));
beforeAll(() => {
  expect(installDeclarations(dir)).toEqual([]);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module' }));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STRICT: ts.CompilerOptions = { strict: true, skipLibCheck: false, noEmit: true, target: ts.ScriptTarget.ES2022, types: [] };
const NODE: ts.CompilerOptions = { ...STRICT, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, lib: ['lib.es2022.d.ts'] };
const PAGE: ts.CompilerOptions = {
  ...STRICT, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'], noUnusedLocals: true,
};

/** Writes each source as a file of the consumer and compiles them together. */
function compile(sources: Record<string, string>, options: ts.CompilerOptions): string[] {
  const files = Object.entries(sources).map(([name, code]) => {
    writeFileSync(join(dir, name), code);
    return join(dir, name);
  });
  return diagnostics(ts.createProgram(files, options), dir);
}

it('a strict CPU-only consumer gets no errors from the shipped .d.ts files', () => {
  expect(compile({
    'index.ts': [
      "import { type Tensor, nn, optim, tensor } from 'tsgrad';",
      'const x: Tensor = tensor([1, 2, 3], { requiresGrad: true });',
      'x.mul(x).sum().backward();',
      'const fc = new nn.Linear(3, 1);',
      'new optim.SGD(fc.parameters(), { lr: 0.1 }).step();',
      'export const y = fc.forward(x.reshape([1, 3]));',
    ].join('\n'),
  }, NODE)).toEqual([]);
}, 60_000);

it("the README's browser snippets compile in a strict page", () => {
  const snippets = browserSnippets('README.md');
  // The module script that loads the bundle, and the saveAdapter + Blob download.
  expect(snippets.length).toBeGreaterThanOrEqual(2);
  expect(snippets.some((b) => b.code.includes("new Blob([files['adapter_model.safetensors']])"))).toBe(true);
  // The module script imports the bundle by its path; a bundled page imports 'tsgrad'.
  const sources = Object.fromEntries(snippets.map((b) => [`README_${b.line}.ts`, `${b.code.replaceAll("'./dist/browser/tsgrad.js'", "'tsgrad'")}\nexport {};\n`]));
  expect(compile(sources, PAGE)).toEqual([]);
}, 60_000);

it('a backend of its own declares its info and options, and getBackendInfo and setBackend type them by name', () => {
  expect(compile({
    'mine.ts': [
      "import { getBackend, getBackendInfo, registerBackend, setBackend } from 'tsgrad';",
      "declare module 'tsgrad' { interface BackendInfos { mine: { lanes: number } } interface BackendOptions { mine: { lanes?: number } } }",
      "registerBackend({ name: 'mine', checkOptions: () => {}, create: (o) => (o?.lanes === 1 ? getBackend() : getBackend()) });",
      "export const ready: Promise<void> = setBackend('mine', { lanes: 4 });",
      "export const cpuReady: Promise<void> = setBackend('cpu', { wasm: false });",
      "export const lanes: number = getBackendInfo('mine').lanes;",
      "export const simd: 'wasm' | 'js' = getBackendInfo('cpu').path;",
      "export const kernel: string = getBackendInfo('gpujs').kernelType;",
      "export const limits: Record<string, number> = getBackendInfo('webgpu').limits;",
      "export const other: unknown = getBackendInfo('other')['anything'];",
      'const info = getBackendInfo();',
      "export const what: number | string = info.name === 'mine' ? info.lanes : info.name;",
    ].join('\n'),
  }, PAGE)).toEqual([]);
}, 60_000);
