// The docs cannot drift from the code: every ```ts block of the README and the docs runs, every
// excerpt is found verbatim in the file it names, and an unknown fence tag or a doc with nothing
// runnable fails (see snippets.ts for the tags).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DOCS, blocksOf, kindOf, removeDir, root, runBlock } from './snippets.js';

const dir = join(root, 'test', '.snippets', 'cpu');
afterAll(() => removeDir(dir));

for (const doc of DOCS) {
  const blocks = blocksOf(doc);
  describe(doc, () => {
    it('has a runnable block and only known fence tags', () => {
      const unknown = blocks.map(kindOf).flatMap((k) => (k.kind === 'unknown' ? [k.message] : []));
      expect(unknown).toEqual([]);
      expect(blocks.some((b) => kindOf(b).kind === 'run'), `${doc} has no runnable block (ts, ts webgpu or ts gpujs)`).toBe(true);
    });

    for (const b of blocks) {
      const k = kindOf(b);
      if (k.kind === 'run' && k.backend === 'cpu') it(`line ${b.line} runs`, () => runBlock(b, dir));
      if (k.kind === 'excerpt') {
        it(`line ${b.line} is a verbatim excerpt of ${k.file}`, () => {
          const path = join(root, k.file);
          expect(existsSync(path), `${doc}:${b.line} names ${k.file}, which does not exist`).toBe(true);
          expect(readFileSync(path, 'utf8').includes(b.code), `${doc}:${b.line} no longer matches ${k.file}; copy the current code`).toBe(true);
        });
      }
    }
  });
}

describe('fence tags', () => {
  const block = (tag: string) => ({ doc: 'x.md', line: 3, tag, code: '' });
  it('knows the documented tags and rejects the rest', () => {
    expect(kindOf(block('ts'))).toEqual({ kind: 'run', backend: 'cpu' });
    expect(kindOf(block('ts webgpu'))).toEqual({ kind: 'run', backend: 'webgpu' });
    expect(kindOf(block('ts no-run src/core/autograd.ts'))).toEqual({ kind: 'excerpt', file: 'src/core/autograd.ts' });
    expect(kindOf(block('ts browser'))).toEqual({ kind: 'browser' });
    expect(kindOf(block('sh'))).toEqual({ kind: 'shown' });
    expect(kindOf(block('html'))).toEqual({ kind: 'shown' });
    for (const tag of ['ts no-run', 'typescript', 'ts norun src/a.ts', 'ts cuda', 'js']) {
      expect(kindOf(block(tag))).toMatchObject({ kind: 'unknown', message: expect.stringContaining(`x.md:3: unknown fence tag '${tag}'`) });
    }
  });
});
