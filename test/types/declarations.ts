// tsgrad's declarations as a consumer installs them: `npm run build`'s .d.ts files in
// <dir>/node_modules/tsgrad, with a package.json that maps them.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');

/** Emits the declarations into `<dir>/node_modules/tsgrad`; returns tsc's emit diagnostics. */
export function installDeclarations(dir: string): string[] {
  const pkg = join(dir, 'node_modules', 'tsgrad');
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.build.json'), { outDir: join(pkg, 'dist'), emitDeclarationOnly: true, sourceMap: false }, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(String(d.messageText)); },
  })!;
  const emitted = ts.createProgram(config.fileNames, config.options).emit();
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'tsgrad', type: 'module', types: './dist/index.d.ts', exports: { '.': { types: './dist/index.d.ts' } } }));
  return emitted.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

/** Each diagnostic as `file:line: message`, the file relative to `dir`. */
export function diagnostics(program: ts.Program, dir: string): string[] {
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
}
