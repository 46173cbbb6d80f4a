// Reads the fenced blocks of the README and the docs, and runs or checks them by their tag:
//   ```ts                   runs on the CPU (test/docs/snippets.test.ts); it may import the
//                           repository's examples as './examples/…', from the root
//   ```ts webgpu / gpujs    runs on that backend, in that backend's docs test
//   ```ts no-run <file>     an excerpt: must appear verbatim in <file>
//   ```ts browser           page code: compiled under strict TypeScript with the DOM, not run
//                           (test/types/browser-snippets.test.ts, with html blocks' module scripts)
//   ```sh, ```text, ```python, ```html, ``` shown only (commands, output, the Python side of interop)
// Any other tag fails, so a block cannot be skipped by a typo.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Block {
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  tag: string;
  code: string;
}

const SHOWN = new Set(['', 'sh', 'text', 'python', 'html']);
export const BACKEND_TAGS = ['webgpu', 'gpujs'] as const;

export const DOCS = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

export function blocksOf(doc: string): Block[] {
  const text = readFileSync(join(root, doc), 'utf8');
  return [...text.matchAll(/^```(.*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    doc,
    line: text.slice(0, m.index).split('\n').length,
    tag: m[1]!.trim(),
    code: m[2]!,
  }));
}

/** What a tag asks for, or an error message naming the block. */
export function kindOf(b: Block): { kind: 'run'; backend: string } | { kind: 'excerpt'; file: string } | { kind: 'browser' } | { kind: 'shown' } | { kind: 'unknown'; message: string } {
  if (b.tag === 'ts') return { kind: 'run', backend: 'cpu' };
  if (b.tag === 'ts browser') return { kind: 'browser' };
  const [lang, what, ...rest] = b.tag.split(/\s+/);
  if (lang === 'ts' && (BACKEND_TAGS as readonly string[]).includes(what!) && !rest.length) return { kind: 'run', backend: what! };
  if (lang === 'ts' && what === 'no-run' && rest.length === 1) return { kind: 'excerpt', file: rest[0]! };
  if (SHOWN.has(b.tag)) return { kind: 'shown' };
  return {
    kind: 'unknown',
    message: `${b.doc}:${b.line}: unknown fence tag '${b.tag}'; use ts, ts webgpu, ts gpujs, ts no-run <source file>, ts browser, sh, text, python, html or none`,
  };
}

/** Writes a block next to the tests, pointing 'tsgrad' at the source and './examples/' at the examples, and imports it. */
export async function runBlock(b: Block, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${b.doc.replace(/\W/g, '_')}_${b.line}.ts`);
  const fromFile = (path: string) => relative(dirname(file), join(root, path)).replaceAll('\\', '/');
  writeFileSync(file, b.code.replace(/from 'tsgrad'/g, `from '${fromFile('src/index.js')}'`).replace(/from '\.\/(examples\/[^']+)'/g, (_, path: string) => `from '${fromFile(path)}'`));
  await import(pathToFileURL(file).href);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The TypeScript a page runs: `ts browser` blocks, and the module scripts of `html` blocks. */
export function browserSnippets(doc: string): Block[] {
  return blocksOf(doc).flatMap((b) => {
    if (kindOf(b).kind === 'browser') return [b];
    if (b.tag !== 'html') return [];
    return [...b.code.matchAll(/<script type="module">\n([\s\S]*?)<\/script>/g)].map((m) => ({
      ...b,
      line: b.line + b.code.slice(0, m.index).split('\n').length,
      code: m[1]!,
    }));
  });
}
