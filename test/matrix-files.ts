// The one-line test files the backend matrix runs from, one per (suite, entry), so vitest gives
// each its own process. `npx tsx test/matrix-files.ts` writes any that are missing or stale;
// test/matrix.test.ts fails while they differ from test/matrix.ts.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MATRIX, SUITES } from './matrix.js';

export const testDir = fileURLToPath(new URL('.', import.meta.url));

/** The expected files: path relative to test/, and content. */
export function matrixFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const suite of SUITES) {
    for (const e of MATRIX) {
      if (!e[suite]) continue;
      files.set(`${suite}/${e.name}.test.ts`, `// The ${suite} suite on the '${e.name}' entry of the backend matrix (test/matrix.ts).\nimport { runSuite } from '../suites.js';\n\nrunSuite('${suite}', '${e.name}');\n`);
    }
  }
  return files;
}

/** The test files under the suites' folders that start a matrix suite, relative to test/. */
export function suiteFilesOnDisk(read: (path: string) => string): string[] {
  return SUITES.flatMap((suite) =>
    readdirSync(join(testDir, suite)).filter((f) => f.endsWith('.test.ts') && read(join(testDir, suite, f)).includes('runSuite(')).map((f) => `${suite}/${f}`));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [path, content] of matrixFiles()) writeFileSync(join(testDir, path), content);
  console.log(`wrote ${matrixFiles().size} files; delete any test/<suite>/<name>.test.ts whose entry no longer joins that suite`);
}
