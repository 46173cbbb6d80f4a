import { type Visit, defaultGrad, runBackward } from '../autograd.js';
import type { DType } from '../dtype.js';
import { TsgradError, check, fmt } from '../errors.js';
import { roleOf } from './graph.js';
import { keep } from '../scope.js';
import { Tensor } from '../tensor.js';

/** How an input of a visited node stands in the graph. */
export type InputKind = 'op' | 'leaf' | 'constant';

/**
 * Why an input got no gradient: `constant` cannot have one (an int tensor or a scalar),
 * `frozen` is a float tensor with `requiresGrad: false` (a frozen weight, the data),
 * `not-needed` requires grad but no requested gradient depends on it (a walk pruned as `grad()`
 * prunes; a full backward, which `traceBackward` runs, needs every such input).
 */
export type SkipReason = 'frozen' | 'constant' | 'not-needed';

/** One tensor the backward pass visited, in visiting order. */
export interface TraceStep {
  step: number;
  /** The op that produced the tensor, or `leaf`. */
  op: string;
  shape: number[];
  dtype: DType;
  /** L2 norm of the (summed) gradient this tensor received. */
  gradNorm: number;
  inputs: { shape: number[]; kind: InputKind; skipped: null | SkipReason }[];
  /** Backend kernels run for this step: its backward, unbroadcasting and accumulation. */
  kernels: number;
}

function kindOf(t: Tensor): InputKind {
  return t.gradFn ? 'op' : t.requiresGrad ? 'leaf' : 'constant';
}

function skipReason(t: Tensor, needed: boolean): null | SkipReason {
  if (needed) return null;
  const role = roleOf(t);
  return role === 'frozen' || role === 'constant' ? role : 'not-needed';
}

/**
 * Runs `loss.backward()` (gradients accumulate the same way) and reports every tensor the walk
 * visits: its op, the norm of the gradient it received, which inputs it skipped and why, and
 * how many kernels its step ran. Async because GPU backends read values asynchronously.
 *
 * @example
 * const steps = await traceBackward(x.mul(w).sum());
 * console.log(formatTrace(steps));
 */
export async function traceBackward(loss: Tensor, options: { retainGraph?: boolean } = {}): Promise<TraceStep[]> {
  if (!(loss instanceof Tensor)) throw new TsgradError('traceBackward', `expected a Tensor, got ${typeof loss}`);
  check(loss.requiresGrad, 'traceBackward', () => `tensor of shape ${fmt(loss.shape)} does not require grad and has no graph`);
  const seed = defaultGrad('traceBackward', loss);
  const visits: { visit: Visit; norm: Tensor }[] = [];
  // The norm is a kernel of its own, run after the step's kernels were counted; kept, because
  // the walk frees the gradients it made when it ends.
  const observe = (visit: Visit) => visits.push({ visit, norm: keep(visit.grad.mul(visit.grad).sum().sqrt()) });
  runBackward([loss], [seed], { retainGraph: options.retainGraph, observe });
  seed.dispose();
  const steps: TraceStep[] = [];
  for (const [i, { visit, norm }] of visits.entries()) {
    const t = visit.tensor;
    const inputs = t.gradFn?.inputs ?? [];
    steps.push({
      step: i,
      op: t.gradFn?.op ?? 'leaf',
      shape: [...t.shape],
      dtype: t.dtype,
      gradNorm: await norm.item(),
      inputs: inputs.map((x, j) => ({ shape: [...x.shape], kind: kindOf(x), skipped: skipReason(x, visit.needs[j]!) })),
      kernels: visit.kernels,
    });
    norm.dispose();
  }
  return steps;
}

/**
 * A trace as text, one line per step.
 *
 * @example
 * console.log(formatTrace(await traceBackward(x.mul(w).sum())));
 * // 0 sum [] float32 |g|=1 kernels=0 ← op [3]
 * // 1 mul [3] float32 |g|=1.732 kernels=1 ← leaf [3], constant [3] (skipped: frozen)
 * // 2 leaf [3] float32 |g|=2.291 kernels=0
 */
export function formatTrace(steps: readonly TraceStep[]): string {
  return steps
    .map((s) => {
      const ins = s.inputs.map((x) => `${x.kind} ${fmt(x.shape)}${x.skipped ? ` (skipped: ${x.skipped})` : ''}`);
      return `${s.step} ${s.op} ${fmt(s.shape)} ${s.dtype} |g|=${Number(s.gradNorm.toPrecision(4))} kernels=${s.kernels}${ins.length ? ` ← ${ins.join(', ')}` : ''}`;
    })
    .join('\n');
}
