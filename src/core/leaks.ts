// The development warning for GPU memory left to the garbage collector: a tensor on an
// asynchronous (GPU) backend that is collected without dispose() or scope() held device memory
// for as long as the collector pleased, the leak tfjs users hit most. The warning names the
// user's line that made the tensor, once per place.
//
// Which stack frames are tsgrad's own: in the sources and tsc's output, those in the folder
// that holds this file's core/ folder; in bundles, those between the code marks that every file
// of the browser build opens and closes with (`codeMark`), which survive a consumer's bundler
// and minifier, so tsgrad's code is found even inside an app's single minified file.

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
let enabled = env?.['NODE_ENV'] !== 'production';
const reported = new Set<string>();

/** Frames captured per creation: deep enough for an app's framework and tsgrad's own calls. */
const DEPTH = 100;
/** User frames shown: the line that made the tensor, then who called it. */
const SHOWN = 3;
const MARKS = Symbol.for('tsgrad.codeMarks');

/**
 * Turns the warning for GPU tensors garbage-collected without `dispose()` or `scope()` on or
 * off (on by default unless NODE_ENV is 'production').
 *
 * @example
 * setLeakWarnings(false);
 */
export function setLeakWarnings(on: boolean): void {
  enabled = on;
}

/**
 * @internal The statement the browser build puts first (`start`) and last (`end`) in each of
 * its files: it records where that file's code begins and ends, wherever a bundler puts it.
 */
export function codeMark(edge: 'start' | 'end'): string {
  return `(globalThis[Symbol.for("tsgrad.codeMarks")]??=[]).push(["${edge}",new Error]);`;
}

/**
 * Where a tensor is being created, when the warning is on: the stack, as text (an Error kept
 * unformatted would hold the frames' receivers, the tensor among them, alive). V8's default of
 * 10 frames often ends inside tsgrad, so the limit is raised while capturing, and restored.
 */
export function creationSite(): string | null {
  if (!enabled) return null;
  const E = Error as { stackTraceLimit?: number };
  const limit = E.stackTraceLimit;
  if (typeof limit !== 'number') return new Error().stack ?? '';
  E.stackTraceLimit = Math.max(limit, DEPTH);
  try {
    return new Error().stack ?? '';
  } finally {
    E.stackTraceLimit = limit;
  }
}

interface Location {
  file: string;
  line: number;
  column: number;
}

/** A frame's file, line and column: V8's `at f (url:1:2)` or `at url:1:2`, or Firefox's and Safari's `f@url:1:2`. */
function locate(frame: string): Location | null {
  const m = /(?:^|[\s(@])([^\s(@]+):(\d+):(\d+)\)?$/.exec(frame);
  return m ? { file: m[1]!, line: Number(m[2]), column: Number(m[3]) } : null;
}

/** The folder of tsgrad's files (src/ or dist/) when this module is a file of its own, else null (bundled). */
const ownFolder = (() => {
  const here = (new Error().stack ?? '').split('\n').map((l) => locate(l.trim())).find((l) => l !== null);
  return (here && /^(.*[\\/])core[\\/]leaks\.[jt]s(\?.*)?$/.exec(here.file)?.[1]) ?? null;
})();

const before = (a: Location, b: Location) => a.line < b.line || (a.line === b.line && a.column <= b.column);

/** The stretches of bundled code between a start mark and the end mark after it, per file. */
function markedCode(): Map<string, [Location, Location][]> {
  const marks = (globalThis as { [MARKS]?: [string, Error][] })[MARKS] ?? [];
  const at = marks.flatMap(([edge, e]) => {
    const first = (e.stack ?? '').split('\n').map((l) => l.trim()).find((l) => locate(l) && !l.startsWith('Error'));
    const where = first ? locate(first) : null;
    return where ? [{ edge, where }] : [];
  });
  at.sort((a, b) => (a.where.file < b.where.file ? -1 : a.where.file > b.where.file ? 1 : before(a.where, b.where) ? -1 : 1));
  const code = new Map<string, [Location, Location][]>();
  at.forEach(({ edge, where }, i) => {
    const next = at[i + 1];
    if (edge === 'start' && next?.edge === 'end' && next.where.file === where.file) {
      code.set(where.file, [...(code.get(where.file) ?? []), [where, next.where]]);
    }
  });
  return code;
}

/** The frames of `stack` outside tsgrad, the first being the user's line that made the tensor. */
export function userFrames(stack: string): string[] {
  const code = markedCode();
  const own = (frame: string) => {
    const where = locate(frame);
    if (!where) return false;
    if (ownFolder !== null && where.file.startsWith(ownFolder)) return true;
    return (code.get(where.file) ?? []).some(([start, end]) => before(start, where) && before(where, end));
  };
  const frames = stack.split('\n').map((l) => l.trim()).filter((l) => locate(l) && !l.startsWith('Error'));
  const outside = frames.filter((f) => !own(f));
  return (outside.length ? outside : frames).slice(0, SHOWN);
}

/** Warns, once per place, that a tensor made at `site` (`creationSite()`) was collected undisposed. */
export function reportLeak(backend: string, bytes: number, site: string): void {
  if (!enabled) return;
  const frames = userFrames(site);
  const place = frames.join('\n');
  if (reported.has(place)) return;
  reported.add(place);
  console.warn(
    `tsgrad: a ${backend} tensor (${bytes} bytes) was garbage-collected without dispose() or scope(); GPU memory then waits for the collector. ` +
      `It was created\n    ${frames.join('\n    ')}\n(tensors leaked from the same place again are not reported)`,
  );
}
