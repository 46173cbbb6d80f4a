// Each Node-only module's browser twin (foo.ts → foo.browser.ts) must export the same names,
// or the browser bundle would miss, or silently add, an export.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { browserTwin } from '../../scripts/browser-twins.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const modules = (readdirSync(SRC, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts') && browserTwin(`${SRC}${f}`) !== null)
  .sort();

describe('browser twins', () => {
  it('exist for the Node-only modules', () => {
    expect(modules).toEqual(expect.arrayContaining(['backends/gpujs/context.ts', 'backends/webgpu/adapters.ts']));
  });

  for (const file of modules) {
    it(`${file} and its twin export the same names`, async () => {
      const node = await import(`${SRC}${file}`);
      const browser = await import(browserTwin(`${SRC}${file}`)!);
      expect(Object.keys(browser).sort()).toEqual(Object.keys(node).sort());
    });
  }
});
