// The published types compile for a strict, CPU-only consumer: no DOM lib, no skipLibCheck, no
// @webgpu/types and no GPU driver packages installed beside tsgrad.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'tsgrad-consumer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function diagnostics(program: ts.Program): string[] {
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

it('a strict consumer with skipLibCheck false gets no errors from the shipped .d.ts files', () => {
  // Build the declarations as `npm run build` does, into a package folder of the consumer.
  const pkg = join(dir, 'node_modules', 'tsgrad');
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.build.json'), { outDir: join(pkg, 'dist'), emitDeclarationOnly: true, sourceMap: false }, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(String(d.messageText)); },
  })!;
  const build = ts.createProgram(config.fileNames, config.options);
  const emitted = build.emit();
  expect(emitted.diagnostics.map((d) => d.messageText)).toEqual([]);
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'tsgrad', type: 'module', types: './dist/index.d.ts', exports: { '.': { types: './dist/index.d.ts' } } }));

  const main = join(dir, 'index.ts');
  writeFileSync(main, [
    "import { type Tensor, nn, optim, tensor } from 'tsgrad';",
    'const x: Tensor = tensor([1, 2, 3], { requiresGrad: true });',
    'x.mul(x).sum().backward();',
    'const fc = new nn.Linear(3, 1);',
    'new optim.SGD(fc.parameters(), { lr: 0.1 }).step();',
    'export const y = fc.forward(x.reshape([1, 3]));',
  ].join('\n'));
  const consumer = ts.createProgram([main], {
    strict: true, skipLibCheck: false, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts'], types: [],
  });
  expect(diagnostics(consumer)).toEqual([]);
}, 120_000);
