// The backend matrix is the one place the shared suites start from: each (suite, entry) pair it
// lists has its one-line file, no other file starts a matrix suite, and each entry is well formed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MATRIX, SUITES } from './matrix.js';
import { matrixFiles, suiteFilesOnDisk, testDir } from './matrix-files.js';

const read = (path: string) => readFileSync(path, 'utf8');

describe('the backend matrix', () => {
  it('has one file per suite it lists, and no other file starts a matrix suite', () => {
    const expected = matrixFiles();
    const onDisk = suiteFilesOnDisk(read);
    const stale = [...expected].filter(([path, content]) => !onDisk.includes(path) || read(join(testDir, path)) !== content);
    expect(stale.map(([path]) => path), 'missing or stale: run `npx tsx test/matrix-files.ts`').toEqual([]);
    const stray = onDisk.filter((path) => !expected.has(path));
    expect(stray, 'these start a suite their entry does not join: delete them or add the suite to the entry').toEqual([]);
  });

  it('names each entry once, in a dtype it can run, with a tolerance and at least one suite', () => {
    expect(new Set(MATRIX.map((e) => e.name)).size).toBe(MATRIX.length);
    for (const e of MATRIX) {
      expect(e.name, 'an entry name is a file name').toMatch(/^[a-z0-9-]+$/);
      expect(e.tol.atol > 0 && e.tol.rtol > 0, `${e.name}: tolerance`).toBe(true);
      expect(SUITES.some((s) => e[s]), `${e.name} joins no suite`).toBe(true);
      // Fuzz and soak build float32 tensors; a float64 entry is for the comparing suites.
      if (e.dtype === 'float64') expect([e.fuzz, e.soak], `${e.name} is float64`).toEqual([undefined, undefined]);
    }
  });

  it('every backend with a driver requirement says what to install', () => {
    for (const e of MATRIX.filter((m) => m.backend === 'webgpu' || m.backend === 'gpujs')) {
      expect(e.requirement, e.name).toMatch(e.backend === 'webgpu' ? /EGL_PLATFORM=surfaceless/ : /DISPLAY/);
    }
  });
});
