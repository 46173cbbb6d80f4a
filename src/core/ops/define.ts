import { TsgradError, fmt } from '../errors.js';
import { Tensor } from '../tensor.js';
import { type ArgSpec, type ParsedArg, checkArg, checkParsedArgs, parseArgSpecs } from '../validate.js';

// Each op file declares its Tensor methods itself: the types by declaration merging
// (`declare module '../tensor.js' { interface Tensor { … } }`, with the doc comment editors show),
// the method and its argument specification with `defineMethod`. So the op set is the set of op
// files, and no list elsewhere has to learn about a new op.

/** The names of Tensor's methods. */
type MethodName = { [K in keyof Tensor]: Tensor[K] extends (...args: never[]) => unknown ? K : never }[keyof Tensor];

/** The implementation of method `K`, with the receiver as `this`. */
type Impl<K extends MethodName> = Tensor[K] extends (...args: infer A) => infer R ? (this: Tensor, ...args: A) => R : never;

/** How many parameters method `K` declares, optional ones included (`number` for a rest parameter). */
type Arity<K extends MethodName> = Tensor[K] extends (...args: infer A) => unknown ? Required<A>['length'] : never;

const specs = new Map<string, readonly ArgSpec[]>();

/**
 * Installs `impl` as Tensor method `name`, behind the check of `args` (one spec per parameter,
 * which the types enforce): a disposed receiver or a bad argument is refused under the method's
 * own name before anything runs.
 *
 * @example
 * defineMethod('neg', [], function () { return neg(this); });
 */
export function defineMethod<K extends MethodName, const A extends readonly ArgSpec[]>(
  name: K, args: A & { readonly length: Arity<K> }, impl: Impl<K>,
): void {
  if (specs.has(name) || name in Tensor.prototype) throw new TsgradError('defineMethod', `Tensor.${name} is defined twice`);
  specs.set(name, args);
  Object.defineProperty(Tensor.prototype, name, {
    value: guarded(name, parseArgSpecs(args), impl as (this: Tensor, ...args: unknown[]) => unknown),
    writable: true,
    configurable: true,
  });
}

/** Every method `defineMethod` installed, with its argument specification (the fuzz suite calls each). */
export function tensorMethodSpecs(): ReadonlyMap<string, readonly ArgSpec[]> {
  return specs;
}

function alive(t: Tensor, op: string): void {
  if (t.isDisposed) throw new TsgradError(op, `tensor of shape ${fmt(t.shape)} was disposed and cannot be used`);
}

type Method = (this: Tensor, ...args: unknown[]) => unknown;

/** Method calls under way; only the outermost one renames errors. */
let depth = 0;

/**
 * Runs the method `op`. An op composed of others (clamp of where, var of mean) would otherwise
 * report a bad input under the inner op's name; the outermost method's name is the one the
 * caller wrote, so its errors carry that name.
 */
function invoke(op: string, impl: Method, self: Tensor, args: readonly unknown[] | null, a?: unknown, b?: unknown, c?: unknown): unknown {
  if (depth > 0) return args ? impl.apply(self, args as unknown[]) : impl.call(self, a, b, c);
  depth++;
  try {
    return args ? impl.apply(self, args as unknown[]) : impl.call(self, a, b, c);
  } catch (e) {
    throw e instanceof TsgradError && e.op !== op ? new TsgradError(op, e.message.slice(e.op.length + 2)) : e;
  } finally {
    depth--;
  }
}

/**
 * The checked method. Wrappers of fixed arity for the common cases keep a call as cheap as a
 * direct one (no rest array); 'dims' takes the rest of the arguments, so it gets the general one.
 */
function guarded(op: string, parsed: readonly ParsedArg[], impl: Method): Method {
  const [p0, p1, p2] = parsed;
  if (parsed.some((p) => p.kind === 'dims') || parsed.length > 3) {
    return function (this: Tensor, ...args: unknown[]) {
      alive(this, op);
      checkParsedArgs(op, args, parsed);
      return invoke(op, impl, this, args);
    };
  }
  switch (parsed.length) {
    case 0:
      return function (this: Tensor) {
        alive(this, op);
        return invoke(op, impl, this, null);
      };
    case 1:
      return function (this: Tensor, a?: unknown) {
        alive(this, op);
        checkArg(op, p0!, a);
        return invoke(op, impl, this, null, a);
      };
    case 2:
      return function (this: Tensor, a?: unknown, b?: unknown) {
        alive(this, op);
        checkArg(op, p0!, a);
        checkArg(op, p1!, b);
        return invoke(op, impl, this, null, a, b);
      };
    default:
      return function (this: Tensor, a?: unknown, b?: unknown, c?: unknown) {
        alive(this, op);
        checkArg(op, p0!, a);
        checkArg(op, p1!, b);
        checkArg(op, p2!, c);
        return invoke(op, impl, this, null, a, b, c);
      };
  }
}
