import { TsgradError } from '../../core/errors.js';
import { describeValue, isPlainObject } from '../../core/validate.js';

/** An option that is no choice among a few values: returns what is wrong with `value`, or null. */
export type OptionCheck = (value: unknown) => string | null;

const show = (c: unknown) => (typeof c === 'string' ? `'${c}'` : String(c));

/**
 * Checks `setBackend(backend, options)`'s options, the same way for every backend: each name must
 * be one of `choices` (or of `special`), and its value one of the listed ones, so a misspelt
 * option is refused with what is accepted instead of being silently ignored. Undefined values
 * count as absent. `example` shows a valid options object in the message for a non-object.
 *
 * @example
 * checkOptionChoices('cpu', options, { wasm: [true, false] }, '{ wasm: false }');
 */
export function checkOptionChoices(
  backend: string, options: unknown, choices: Record<string, readonly unknown[]>, example: string,
  special: Record<string, OptionCheck> = {},
): void {
  if (!isPlainObject(options)) throw new TsgradError('setBackend', `${backend} options must be an object such as ${example}, got ${describeValue(options)}`);
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    const checkValue = special[k];
    if (checkValue) {
      const problem = checkValue(v);
      if (problem) throw new TsgradError('setBackend', `${backend} option '${k}' ${problem}, got ${describeValue(v)}`);
      continue;
    }
    const allowed = choices[k];
    if (!allowed) throw new TsgradError('setBackend', `unknown ${backend} option '${k}'; known: ${[...Object.keys(special), ...Object.keys(choices)].join(', ')}`);
    if (!allowed.includes(v)) throw new TsgradError('setBackend', `${backend} option '${k}' must be ${allowed.map(show).join(' or ')}, got ${describeValue(v)}`);
  }
}
