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

const specs = new Map<string, readonly ArgSpec[]>();

/**
 * Installs `impl` as Tensor method `name`, behind the check of `args`: a disposed receiver or a
 * bad argument is refused under the method's own name before anything runs.
 *
 * @example
 * defineMethod('neg', [], function () { return neg(this); });
 */
export function defineMethod<K extends MethodName>(name: K, args: readonly ArgSpec[], impl: Impl<K>): void {
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
      return impl.apply(this, args);
    };
  }
  switch (parsed.length) {
    case 0:
      return function (this: Tensor) {
        alive(this, op);
        return impl.call(this);
      };
    case 1:
      return function (this: Tensor, a?: unknown) {
        alive(this, op);
        checkArg(op, p0!, a);
        return impl.call(this, a);
      };
    case 2:
      return function (this: Tensor, a?: unknown, b?: unknown) {
        alive(this, op);
        checkArg(op, p0!, a);
        checkArg(op, p1!, b);
        return impl.call(this, a, b);
      };
    default:
      return function (this: Tensor, a?: unknown, b?: unknown, c?: unknown) {
        alive(this, op);
        checkArg(op, p0!, a);
        checkArg(op, p1!, b);
        checkArg(op, p2!, c);
        return impl.call(this, a, b, c);
      };
  }
}
