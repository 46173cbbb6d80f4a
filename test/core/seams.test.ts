// Tensor's underscore members are core's own: nn, optim, data, io, models and the backends reach
// a tensor's insides through src/core/seams.ts only. This reads the source as it is on disk, so a
// reintroduced `p._view(...)` above core fails here.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');
const read = (path: string) => readFileSync(path, 'utf8');

/** Every underscore member Tensor declares (fields, getters, methods, statics), read from its class body. */
function tensorUnderscoreMembers(): string[] {
  const body = read(join(SRC, 'core/tensor.ts')).split(/^export class Tensor \{$/m)[1]!;
  const names = [...body.matchAll(/^ {2}(?:(?:static|get|readonly|private|protected) )*(_[A-Za-z]\w*)\b/gm)].map((m) => m[1]!);
  return [...new Set(names)];
}

/** Each `line: text` of `source` that names one of `members`, however it is reached (`._x`, `['_x']`, `{ _x }`). */
function uses(source: string, members: readonly string[]): string[] {
  const word = new RegExp(`(?<![\\w$])(${members.join('|')})(?![\\w$])`);
  return source.split('\n').flatMap((line, i) => (word.test(line) ? [`${i + 1}: ${line.trim()}`] : []));
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

const MEMBERS = tensorUnderscoreMembers();

describe("Tensor's underscore members stay inside core", () => {
  it('are found in the class body (so the scan below is not vacuous)', () => {
    for (const m of ['_backend', '_wrap', '_view', '_replaceStorage', '_isTensor', '_storageRef', '_markModified']) expect(MEMBERS).toContain(m);
  });

  it('are used by no file of src/ outside src/core/', () => {
    const above = tsFiles(SRC).filter((f) => !relative(SRC, f).startsWith('core/'));
    expect(above.length).toBeGreaterThan(50);
    const found = Object.fromEntries(above.map((f) => [relative(SRC, f), uses(read(f), MEMBERS)]).filter(([, u]) => u.length > 0));
    expect(found, 'use the functions of src/core/seams.ts (backendOf, storageOf, wrapStorage, moveStorage_, fusedAdam_, isTensor)').toEqual({});
  });

  it('are caught however a reintroduced use reaches them', () => {
    for (const line of [
      "fused({ param: p._view('Adam').storage });",
      'p._markModified();',
      'const t = Tensor._wrap(b, s, [2], dtype);',
      "if (t['_backend'] === target) return t;",
      '(x as { _isTensor?: boolean })._isTensor === true',
    ]) expect(uses(line, MEMBERS), line).toHaveLength(1);
    expect(uses('const _viewport = t.view([2]); const my_backend = 1;', MEMBERS)).toEqual([]);
  });
});
