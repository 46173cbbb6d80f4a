// The development warning for GPU memory left to the garbage collector: a tensor on an
// asynchronous (GPU) backend that is collected without dispose() or scope() held device memory
// for as long as the collector pleased, the leak tfjs users hit most. Each creation site is
// reported once, with where the tensor was made.

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
let enabled = env?.['NODE_ENV'] !== 'production';
const reported = new Set<string>();

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

/** Where a tensor is being created, when the warning is on (the first frames outside tsgrad). */
export function creationSite(): string | null {
  if (!enabled) return null;
  const own = /[\\/](src|dist)[\\/](core|nn|optim|io|backends)[\\/]/;
  const frames = (new Error().stack ?? '').split('\n').slice(1).map((l) => l.trim()).filter((l) => l.startsWith('at '));
  const outside = frames.filter((l) => !own.test(l));
  return (outside.length ? outside : frames).slice(0, 3).join('\n    ');
}

/** Warns, once per creation site, that a tensor made at `site` was collected undisposed. */
export function reportLeak(backend: string, bytes: number, site: string): void {
  // The line that made the tensor is the site; the frames below it only say who called it.
  const line = site.split('\n')[0]!;
  if (!enabled || reported.has(line)) return;
  reported.add(line);
  console.warn(`tsgrad: a ${backend} tensor (${bytes} bytes) was garbage-collected without dispose() or scope(); GPU memory then waits for the collector. It was created\n    ${site}`);
}
