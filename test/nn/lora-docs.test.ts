// Runs the ten-line example of docs/lora.md and checks what it prints: the summary line its
// comment promises, and a falling loss.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, expect, it, vi } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const tmp = join(here, '.lora-docs');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('the docs/lora.md example runs, prints the promised summary and a falling loss', async () => {
  const doc = readFileSync(join(here, '..', '..', 'docs', 'lora.md'), 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(doc)![1]!;
  expect(code.trim().split('\n').length).toBeLessThanOrEqual(12);
  mkdirSync(tmp, { recursive: true });
  const file = join(tmp, 'snippet.ts');
  writeFileSync(file, code.replace(/from 'tsgrad'/g, "from '../../../src/index.js'"));
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    await import(pathToFileURL(file).href);
  } finally {
    spy.mockRestore();
  }
  const promised = /console\.log\(nn\.trainableSummary\(model\)\); \/\/ (.*)/.exec(code)![1];
  expect(lines[0]).toBe(promised);
  const loss = (step: number) => Number(lines.find((l) => l.startsWith(`step ${step}:`))!.split('loss ')[1]);
  expect(loss(100)).toBeLessThan(loss(0) * 0.8);
});
