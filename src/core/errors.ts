/**
 * The one error type tsgrad throws for bad input. Its message names the op and the
 * offending shapes, axes or dtypes, and says what to do.
 *
 * @example
 * try { a.matmul(b) } catch (e) { if (e instanceof TsgradError) console.log(e.op, e.message) }
 */
export class TsgradError extends Error {
  constructor(
    /** The op or API that rejected its input, e.g. `'matmul'`. */
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
    this.name = 'TsgradError';
  }
}

/** Throws a TsgradError for `op` unless `cond` holds. */
export function check(cond: unknown, op: string, message: () => string): asserts cond {
  if (!cond) throw new TsgradError(op, message());
}

/** Formats a shape the way error messages show it: `[3,4]`; never throws, whatever it is given. */
export function fmt(shape: unknown): string {
  return Array.isArray(shape) ? `[${shape.map((d) => (typeof d === 'number' ? String(d) : typeof d)).join(',')}]` : `${shape === null ? 'null' : typeof shape} (not a shape)`;
}
