import { TsgradError } from './errors.js';
import type { Tensor } from './tensor.js';
import { describeValue, isTensor } from './validate.js';

/** Tensors created inside each open scope, innermost last. */
const stack: Set<Tensor>[] = [];

/** Called by every new tensor: the innermost open scope owns it. */
export function track(t: Tensor): void {
  stack[stack.length - 1]?.add(t);
}

/**
 * Takes `t` out of every open scope, so the scope's end does not dispose it (gradients,
 * optimizer state and parameters are kept this way). Returns `t`.
 */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isTensor(value)) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, seen);
}

/** Tensors a returned result's graph needs for its backward: inputs and saved tensors. */
function graphOf(returned: Set<Tensor>): Set<Tensor> {
  const needed = new Set<Tensor>();
  const todo = [...returned];
  while (todo.length) {
    const node = todo.pop()!.gradFn;
    if (!node?.backward) continue; // a leaf, or a graph backward already released
    for (const t of [...node.inputs, ...(node.saved ?? [])]) {
      if (!needed.has(t)) {
        needed.add(t);
        todo.push(t);
      }
    }
  }
  return needed;
}

function close<T>(owned: Set<Tensor>, result: T): T {
  stack.splice(stack.lastIndexOf(owned), 1);
  const returned = new Set<Tensor>();
  collect(result, returned);
  const needed = graphOf(returned);
  const parent = stack[stack.length - 1];
  for (const t of owned) {
    if (returned.has(t)) parent?.add(t);
    else if (needed.has(t)) {
      // Backward through a returned result still needs it: the enclosing scope takes it, or,
      // at the top level, the graph frees it when backward releases it.
      if (parent) parent.add(t);
      else t._freeWithGraph = true;
    } else t.dispose();
  }
  return result;
}

/**
 * Runs `fn` and disposes every tensor it created except those it returns (in a value, array or
 * plain object) and those passed to `keep`. Tensors a returned result's graph still needs stay
 * alive until its backward releases the graph, so `scope(() => loss).backward()` works.
 * Works with async functions: the scope stays open until the promise settles, so `await`
 * inside is fine (run such scopes one at a time).
 *
 * @example
 * const loss = await scope(async () => { const l = step(); await l.item(); return l; });
 */
export function scope<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TsgradError('scope', `expects a function whose temporaries it frees, e.g. scope(() => model.forward(x)), got ${describeValue(fn)}`);
  const owned = new Set<Tensor>();
  stack.push(owned);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(owned, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => close(owned, v),
      (e) => {
        close(owned, undefined);
        throw e;
      },
    ) as T;
  }
  return close(owned, result);
}
