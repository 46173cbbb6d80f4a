// Runs the ```ts webgpu / ```ts gpujs blocks of the docs on that backend. A missing driver
// fails under CI and is skipped loudly elsewhere, as in the backends' own tests.
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { DOCS, blocksOf, kindOf, removeDir, root, runBlock } from './snippets.js';
import { backendBeforeAll } from '../backendAvailable.js';

/** Runs the docs' blocks tagged `ts <backend>` on that backend (its driver requirement is test/matrix.ts's). */
export function defineBackendSnippets(backend: string): void {
  const dir = join(root, 'test', '.snippets', backend);
  afterAll(() => removeDir(dir));
  const blocks = DOCS.flatMap(blocksOf).filter((b) => {
    const k = kindOf(b);
    return k.kind === 'run' && k.backend === backend;
  });
  describe(`docs on ${backend}`, () => {
    const available = backendBeforeAll(backend, 'doc snippets');
    for (const b of blocks) {
      it(`${b.doc}:${b.line} runs`, async (ctx) => {
        if (!available()) return ctx.skip();
        await runBlock(b, dir);
      });
    }
  });
}
