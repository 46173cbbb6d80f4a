// Which frames of a creation stack are the user's: tsgrad's own are skipped by folder (sources,
// tsc's output) or by the code marks of the browser build, in V8's and Firefox's stack formats.
// (test/browser/leaks.test.ts checks the same in Chromium on a minified app.)
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { codeMark, creationSite, userFrames } from '../../src/core/leaks.js';

const KEY = Symbol.for('tsgrad.codeMarks');
const marks = globalThis as { [KEY]?: [string, { stack: string }][] };
const saved = marks[KEY];
afterEach(() => {
  marks[KEY] = saved;
});

/** Marks code from `start` to `end` (line:column) in `file`, as the bundle's first and last statements do. */
function mark(file: string, start: string, end: string): void {
  marks[KEY] = [...(marks[KEY] ?? []), ['start', { stack: `Error\n    at ${file}:${start}` }], ['end', { stack: `Error\n    at ${file}:${end}` }]];
}

describe('userFrames', () => {
  it("skips the frames inside the marked code of a bundled file, keeping the app's own", () => {
    const app = 'http://127.0.0.1:4173/assets/index-Bq.js';
    mark(app, '1:2000', '163:33000');
    mark('http://127.0.0.1:4173/assets/webgpu-C1.js', '1:177', '304:13312');
    const stack = [
      'Error',
      `    at Xr (${app}:25:100)`,
      `    at new Ge (${app}:163:200)`,
      '    at Ht.upload (http://127.0.0.1:4173/assets/webgpu-C1.js:3:40)',
      `    at ${app}:163:33347`,
      `    at da (${app}:163:33235)`,
      `    at da (${app}:163:33239)`,
      `    at da (${app}:163:33239)`,
    ].join('\n');
    expect(userFrames(stack)).toEqual([`at ${app}:163:33347`, `at da (${app}:163:33235)`, `at da (${app}:163:33239)`]);
  });

  it("reads Firefox's and Safari's frames too", () => {
    const app = 'https://example.org/app.js';
    mark(app, '1:10', '1:900');
    const stack = [`creationSite@${app}:1:50`, `randn@${app}:1:400`, `leak@${app}:1:950`, `@${app}:1:990`, ''].join('\n');
    expect(userFrames(stack)).toEqual([`leak@${app}:1:950`, `@${app}:1:990`]);
  });

  it("skips the frames in tsgrad's own folder (here its sources), and only those", () => {
    const src = fileURLToPath(new URL('../../src/', import.meta.url));
    const stack = [
      'Error',
      `    at creationSite (${src}core/leaks.ts:40:12)`,
      `    at adopt (${src}core/storage.ts:56:60)`,
      `    at Linear.forward (${src}nn/layers.ts:58:12)`,
      // An app's own folders may share tsgrad's folder names.
      '    at train (/app/src/models/train.js:12:5)',
      '    at main (/app/src/core/main.js:3:1)',
    ].join('\n');
    expect(userFrames(stack)).toEqual(['at train (/app/src/models/train.js:12:5)', 'at main (/app/src/core/main.js:3:1)']);
  });

  it('keeps every frame when none is outside tsgrad, rather than showing nothing', () => {
    const inside = `at f (${fileURLToPath(new URL('../../src/core/tensor.ts', import.meta.url))}:1:1)`;
    expect(userFrames(`Error\n    ${inside}`)).toEqual([inside]);
  });
});

describe('creationSite', () => {
  it("captures more than V8's default 10 frames, and restores the limit", () => {
    const nested = (n: number): string | null => (n === 0 ? creationSite() : nested(n - 1));
    const limit = Error.stackTraceLimit;
    const site = nested(30)!;
    expect(site.split('\n').filter((l) => l.includes('nested')).length).toBe(31);
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it('writes the marks as statements that record where they run', () => {
    const g = globalThis as { [KEY]?: [string, Error][] };
    g[KEY] = [];
    new Function(codeMark('start'))();
    expect(g[KEY].map(([edge, e]) => [edge, e instanceof Error])).toEqual([['start', true]]);
  });
});
