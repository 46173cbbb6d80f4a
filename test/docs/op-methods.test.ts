// Each op file declares its Tensor methods once: the type (declaration merging), the doc an
// editor and the reference show, and the method with its argument specification (defineMethod).
// This holds the three together: every defined method is declared, and every declaration has a
// one-line summary and an example.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';
import { tensorMethodSpecs } from '../../src/core/ops/define.js';
import '../../src/index.js';
import { root } from './snippets.js';

interface Declared {
  file: string;
  name: string;
  summary: string;
  example: boolean;
}

/** The members of `interface Tensor` inside `declare module '../tensor.js'` blocks of the op files. */
function declaredMethods(): Declared[] {
  const dir = join(root, 'src', 'core', 'ops');
  return readdirSync(dir).filter((f) => f.endsWith('.ts')).flatMap((file) => {
    const source = ts.createSourceFile(file, readFileSync(join(dir, file), 'utf8'), ts.ScriptTarget.ES2022, true);
    return source.statements.filter(ts.isModuleDeclaration).filter((m) => m.name.getText() === "'../tensor.js'").flatMap((m) =>
      (m.body as ts.ModuleBlock).statements.filter(ts.isInterfaceDeclaration).flatMap((i) => i.members.map((member) => {
        const doc = ts.getJSDocCommentsAndTags(member).find(ts.isJSDoc);
        const summary = typeof doc?.comment === 'string' ? doc.comment : (doc?.comment ?? []).map((c) => c.text).join('');
        return { file, name: member.name!.getText(), summary: summary.trim(), example: !!doc?.tags?.some((t) => t.tagName.text === 'example') };
      })));
  });
}

it('every op method is declared once, beside its op, with a summary and an example', () => {
  const declared = declaredMethods();
  expect(declared.map((d) => d.name).sort()).toEqual([...tensorMethodSpecs().keys()].sort());
  expect(declared.filter((d) => d.summary.length < 5 || !d.example).map((d) => `${d.file}: ${d.name}`)).toEqual([]);
});
