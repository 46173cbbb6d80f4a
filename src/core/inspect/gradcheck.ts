import { grad } from '../autograd.js';
import { backendByName } from '../backend.js';
import { fromTypedArray } from '../creation.js';
import { TsgradError, check, fmt } from '../errors.js';
import { Tensor } from '../tensor.js';
import { assertTensor, assertTensorList, describeValue, isPlainObject } from '../validate.js';

/** Step and tolerances of `gradcheck`/`gradgradcheck`. */
export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Throw on the first mismatch (default); otherwise report `ok: false`. */
  raise?: boolean;
}

/** Whether the gradients matched, and the worst mismatch. */
export interface GradcheckResult {
  ok: boolean;
  /** Per input, by position: the largest |analytic − numeric| (0 for int32 inputs, which are constants). */
  maxAbsError: number[];
  /** Per input, by position: the largest |analytic − numeric| / max(|numeric|, 1), so below 1 it is the absolute error. */
  maxRelError: number[];
}

/** Fixed pseudo-random weights, so a non-scalar output is checked through every element. */
function weights(n: number): Float64Array {
  const w = new Float64Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    w[i] = 0.5 + s / 2147483648;
  }
  return w;
}

/** Float inputs become float64 CPU leaves; int32 inputs (indices) pass through as constants. */
function toFloat64Leaf(t: Tensor): Tensor {
  if (!t._backend.readSync) throw new TsgradError('gradcheck', `inputs must be on a synchronous backend (cpu), got '${t.backend}'`);
  if (t.dtype === 'int32') return t;
  return fromTypedArray(Float64Array.from(t.dataSync()), t.shape, { backend: 'cpu', dtype: 'float64', requiresGrad: true });
}

function scalarize(out: Tensor): Tensor {
  if (out.size === 1) return out.reshape([]);
  return out.mul(fromTypedArray(weights(out.size), out.shape, { backend: 'cpu', dtype: 'float64' })).sum();
}

/** `fn(...xs)`, which must be a tensor. */
function resultOf(op: string, fn: (...inputs: Tensor[]) => Tensor, xs: Tensor[]): Tensor {
  const out: unknown = fn(...xs);
  assertTensor(op, out, 'the result of the function');
  return out;
}

/** The inputs as a list (one tensor is accepted, as PyTorch accepts one), after checking the call. */
function checkCall(op: string, fn: unknown, inputs: unknown, opts: unknown): readonly Tensor[] {
  check(typeof fn === 'function', op, () => `expects a function of the inputs, e.g. ${op}((x) => x.tanh(), [x]), got ${describeValue(fn)}`);
  const list = Array.isArray(inputs) ? inputs : [inputs];
  assertTensorList(op, list, 'inputs');
  check(isPlainObject(opts), op, () => `options must be an object such as { atol: 1e-5 }, got ${describeValue(opts)}`);
  return list;
}

/**
 * Compares autograd's gradients with central finite differences, in float64 on the CPU. A
 * non-scalar output is reduced with fixed random weights. Throws a TsgradError naming the input,
 * the element and both values on a mismatch.
 *
 * @example
 * gradcheck((x, w) => x.matmul(w).tanh(), [randn([3, 4]), randn([4, 2])]);
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor | readonly Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const list = checkCall('gradcheck', fn, inputs, opts);
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, raise = true } = opts;
  backendByName('cpu');
  const xs = list.map(toFloat64Leaf);
  const loss = () => scalarize(resultOf('gradcheck', fn, xs));
  const checked = xs.filter((x) => x.requiresGrad);
  const grads = grad(loss(), checked, { allowUnused: true });
  const analytic = new Map(checked.map((x, i) => [x, grads[i] ? grads[i]!.dataSync() : new Float64Array(x.size)]));
  const result: GradcheckResult = { ok: true, maxAbsError: [], maxRelError: [] };
  xs.forEach((x, i) => {
    if (!x.requiresGrad) {
      result.maxAbsError.push(0);
      result.maxRelError.push(0);
      return;
    }
    const store = x._view('gradcheck').storage as Float64Array;
    let maxAbs = 0, maxRel = 0;
    for (let j = 0; j < store.length; j++) {
      const orig = store[j]!;
      store[j] = orig + eps;
      const plus = loss().itemSync();
      store[j] = orig - eps;
      const minus = loss().itemSync();
      store[j] = orig;
      const numeric = (plus - minus) / (2 * eps);
      const a = analytic.get(x)![j]!;
      const err = Math.abs(a - numeric);
      maxAbs = Math.max(maxAbs, err);
      maxRel = Math.max(maxRel, err / Math.max(Math.abs(numeric), 1));
      if (!(err <= atol + rtol * Math.abs(numeric))) {
        result.ok = false;
        if (raise) {
          throw new TsgradError('gradcheck', `input ${i} (shape ${fmt(x.shape)}), element ${j}: analytic gradient ${a} but numeric ${numeric} (|diff| ${err})`);
        }
      }
    }
    result.maxAbsError.push(maxAbs);
    result.maxRelError.push(maxRel);
  });
  return result;
}

/**
 * Checks second-order gradients: the gradient of ⟨∇f, v⟩ (built with createGraph) against
 * finite differences of the first-order gradient.
 *
 * @example
 * gradgradcheck((x) => x.pow(3).sum(), [randn([3])]);
 */
export function gradgradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor | readonly Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const list = checkCall('gradgradcheck', fn, inputs, opts);
  const vs = list.map((t) => fromTypedArray(weights(t.size).map((w) => w - 1), t.shape, { backend: 'cpu', dtype: 'float64' }));
  const firstOrder = (...xs: Tensor[]) => {
    const floats = xs.filter((x) => x.requiresGrad);
    const gs = grad(scalarize(resultOf('gradgradcheck', fn, xs)), floats, { createGraph: true, allowUnused: true });
    const v = xs.map((_, i) => vs[i]!).filter((_, i) => xs[i]!.requiresGrad);
    return gs.reduce<Tensor>((acc, g, i) => (g ? acc.add(g.mul(v[i]!).sum()) : acc), fromTypedArray(new Float64Array(1), [], { backend: 'cpu', dtype: 'float64' }));
  };
  return gradcheck(firstOrder, list, opts);
}
