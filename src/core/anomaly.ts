import type { BackwardFn } from './autograd.js';
import { TsgradError, fmt } from './errors.js';
import { keep } from './scope.js';
import type { Tensor } from './tensor.js';

// Anomaly mode (PyTorch's detect_anomaly): each op recorded inside it checks the gradients its
// backward produces, so a NaN or Inf is blamed on the forward op whose backward made it rather
// than found later in a weight. Synchronous backends check at once; asynchronous ones keep the
// gradients and check them, in backward order, when `detectAnomaly` finishes.

interface Deferred {
  blame: (bad: number, input: number) => TsgradError;
  grads: (Tensor | null)[];
}

let depth = 0;
let deferred: Deferred[] = [];

/** True inside `detectAnomaly`. */
export function anomalyEnabled(): boolean {
  return depth > 0;
}

/** The first line of the stack outside tsgrad's own files: where the user called the op. */
function callSite(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1).map((l) => l.trim());
  const own = /[\\/](src|dist)[\\/](core|nn|optim|io|backends)[\\/]/;
  return lines.find((l) => l.startsWith('at ') && !own.test(l)) ?? lines[0] ?? 'an unknown place';
}

const badValue = (data: ArrayLike<number>): number | undefined => Array.prototype.find.call(data, (v: number) => !Number.isFinite(v)) as number | undefined;

/** Wraps the backward of op `op` (recorded inside anomaly mode) with the check. */
export function checkedBackward(op: string, inputs: readonly Tensor[], out: Tensor, backward: BackwardFn): BackwardFn {
  const shapes = `inputs ${inputs.map((t) => `${fmt(t.shape)} ${t.dtype}`).join(', ')} → output ${fmt(out.shape)}`;
  const site = callSite();
  const blame = (bad: number, input: number) =>
    new TsgradError('detectAnomaly', `the backward of '${op}' (${shapes}) produced ${bad} in the gradient of input ${input}; the forward '${op}' was called ${site}`);
  return (g, needs) => {
    const grads = backward(g, needs);
    if (g._backend.readSync) {
      grads.forEach((ig, i) => {
        if (!ig) return;
        const bad = badValue(ig.dataSync());
        if (bad !== undefined) throw blame(bad, i);
      });
    } else {
      deferred.push({ blame, grads: grads.map((ig) => (ig ? keep(ig.clone()) : null)) });
    }
    return grads;
  };
}

/**
 * Runs `fn` (forward and backward) in anomaly mode: the first backward step that produces NaN
 * or ±Infinity throws a TsgradError naming its forward op, the op's shapes and where it was
 * called. Slow (it reads every gradient back); for debugging only.
 *
 * @example
 * await detectAnomaly(() => model.forward(x).log().sum().backward());
 * // detectAnomaly: the backward of 'log' (inputs [4] float32 → output [4]) produced Infinity ...
 */
export async function detectAnomaly<T>(fn: () => T | Promise<T>): Promise<T> {
  const outer = depth === 0;
  if (outer) deferred = [];
  depth++;
  try {
    const result = await fn();
    if (outer) {
      for (const d of deferred) {
        for (const [i, ig] of d.grads.entries()) {
          const bad = ig ? badValue(await ig.data()) : undefined;
          if (bad !== undefined) throw d.blame(bad, i);
        }
      }
    }
    return result;
  } finally {
    depth--;
    if (outer) {
      for (const d of deferred) for (const ig of d.grads) ig?.dispose();
      deferred = [];
    }
  }
}
