// Which frames of a creation stack are the user's: tsgrad's own are skipped by path (sources,
// tsc's output) or by the code marks of the browser build, in V8's and Firefox's stack formats.
// (test/browser/leaks.test.ts checks the same in Chromium on a minified app.)
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

  it("skips tsgrad's sources and tsc's output by path, in any file outside them", () => {
    const stack = [
      'Error',
      '    at creationSite (file:///app/node_modules/tsgrad/dist/core/leaks.js:40:12)',
      '    at adopt (file:///app/node_modules/tsgrad/dist/core/storage.js:56:60)',
      '    at Linear.forward (file:///app/node_modules/tsgrad/dist/nn/layers.js:58:12)',
      '    at train (file:///app/src/train.js:12:5)',
    ].join('\n');
    expect(userFrames(stack)).toEqual(['at train (file:///app/src/train.js:12:5)']);
  });

  it('keeps every frame when none is outside tsgrad, rather than showing nothing', () => {
    expect(userFrames('Error\n    at f (file:///x/src/core/a.ts:1:1)')).toEqual(['at f (file:///x/src/core/a.ts:1:1)']);
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
