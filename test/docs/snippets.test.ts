// Executes the ```ts snippets of the README and the docs, so the docs cannot drift from the code. A block
// marked `ts no-run` is shown, not run.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = join(root, 'test', '.snippets');
mkdirSync(tmp, { recursive: true });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

for (const doc of docs) {
  const text = readFileSync(join(root, doc), 'utf8');
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  if (blocks.length === 0) continue;
  describe(doc, () => {
    blocks.forEach((code, i) => {
      it(`snippet ${i + 1}`, async () => {
        const file = join(tmp, `${doc.replace(/\W/g, '_')}_${i}.ts`);
        const src = relative(dirname(file), join(root, 'src', 'index.js')).replaceAll('\\', '/');
        writeFileSync(file, code.replace(/from 'tsgrad'/g, `from '${src}'`));
        await import(pathToFileURL(file).href);
      });
    });
  });
}
