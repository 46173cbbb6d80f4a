// Sampling from distributions, seeded by the global stream or a Generator.
//
// One rule for every backend: these functions return tensors synchronously and sample on the
// input's backend. Random numbers are drawn on the CPU (so a seed gives the same draws on every
// backend) and uploaded; multinomial turns them into Gumbel noise and takes an argmax on the
// device, so nothing is read back. Input values are validated only where the backend reads
// synchronously (cpu): on GPU backends, invalid probabilities give unspecified samples.
import { noGrad } from './autograd.js';
import { arange, fromTypedArray } from './creation.js';
import { type DType, isFloat } from './dtype.js';
import { check, fmt } from './errors.js';
import { where } from './ops/elementwise.js';
import { stack } from './ops/join.js';
import { type Generator, defaultGenerator } from './random.js';
import { scope } from './scope.js';
import { checkShape, sizeOf } from './shape.js';
import type { Tensor } from './tensor.js';

export interface SamplingOptions {
  /** The stream to draw from; the global one (seeded by `manualSeed`) by default. */
  generator?: Generator;
}

/** Uniform draws in (0, 1) as a float tensor on `like`'s backend. */
function uniformLike(op: string, like: Tensor, shape: readonly number[], g: Generator, dtype: DType): Tensor {
  checkShape(op, shape);
  const u = new Float64Array(sizeOf(shape));
  for (let i = 0; i < u.length; i++) {
    let v = 0;
    while (v === 0) v = g.nextUniform();
    u[i] = v;
  }
  const data = dtype === 'float64' ? u : Float32Array.from(u);
  return fromTypedArray(data, shape, { dtype, backend: like.backend });
}

/** Checks multinomial's weights where they can be read without waiting. */
function checkWeights(input: Tensor, rows: number, k: number, numSamples: number, replacement: boolean): void {
  if (!input._backend.readSync) return;
  const w = input.dataSync();
  for (let r = 0; r < rows; r++) {
    let sum = 0, nonzero = 0;
    for (let j = 0; j < k; j++) {
      const v = w[r * k + j]!;
      check(Number.isFinite(v) && v >= 0, 'multinomial', () => `probabilities must be finite and ≥ 0, got ${v} in row ${r}`);
      sum += v;
      if (v > 0) nonzero++;
    }
    check(sum > 0, 'multinomial', () => `row ${r} of the probabilities sums to 0; every row needs a positive weight`);
    check(replacement || nonzero >= numSamples, 'multinomial', () =>
      `row ${r} has ${nonzero} categories with non-zero probability, too few for ${numSamples} samples without replacement; pass { replacement: true } or ask for fewer`);
  }
}

/**
 * Draws `numSamples` category indices per row of `input` (non-negative weights, not
 * necessarily normalized; 1-D or 2-D), as int32 of shape [numSamples] or [rows, numSamples].
 * Without replacement (the default, as in PyTorch) each index appears at most once per row.
 *
 * @example
 * manualSeed(0);
 * multinomial(tensor([0.1, 0.6, 0.3]), 4, { replacement: true }); // e.g. [1, 1, 2, 1]
 * multinomial(logits.softmax(-1), 1);                               // one token per row
 */
export function multinomial(input: Tensor, numSamples: number, opts: SamplingOptions & { replacement?: boolean } = {}): Tensor {
  const replacement = opts.replacement ?? false;
  const g = opts.generator ?? defaultGenerator;
  check(input.ndim === 1 || input.ndim === 2, 'multinomial', () => `input must be 1-D or 2-D (rows of weights), got shape ${fmt(input.shape)}`);
  check(isFloat(input.dtype), 'multinomial', () => `input must be a float tensor of weights, got ${input.dtype}`);
  const k = input.shape[input.ndim - 1]!;
  const rows = input.ndim === 2 ? input.shape[0]! : 1;
  check(k > 0, 'multinomial', () => `input of shape ${fmt(input.shape)} has no categories`);
  check(Number.isInteger(numSamples) && numSamples >= 1, 'multinomial', () => `numSamples must be a positive integer, got ${numSamples}`);
  check(replacement || numSamples <= k, 'multinomial', () =>
    `cannot draw ${numSamples} samples from ${k} categories without replacement; pass { replacement: true } or ask for at most ${k}`);
  checkWeights(input, rows, k, numSamples, replacement);
  // Gumbel-max: argmax(log w + G) with G = −log(−log U) is a draw from w / Σw; the top
  // numSamples of the same scores are a draw without replacement.
  const out = noGrad(() => scope(() => {
    const logw = input.reshape([rows, 1, k]).log();
    const draws = replacement ? numSamples : 1;
    const gumbel = uniformLike('multinomial', input, [rows, draws, k], g, input.dtype).log().neg().log().neg();
    const scores = logw.add(gumbel);
    if (replacement) return scores.argmax(2);
    let s = scores.reshape([rows, k]);
    const columns = arange(k, undefined, 1, { dtype: 'int32', backend: input.backend }).reshape([1, k]);
    const picked: Tensor[] = [];
    for (let i = 0; i < numSamples; i++) {
      const idx = s.argmax(1, true);
      picked.push(idx.reshape([rows]));
      if (i + 1 < numSamples) s = where(columns.eq(idx), -Infinity, s);
    }
    return stack(picked, 1);
  }));
  return input.ndim === 1 ? out.reshape([numSamples]) : out;
}

/**
 * Draws 0 or 1 for each element of `p` with probability p (values in [0, 1]); the result has
 * p's shape and dtype. Not differentiable, as in PyTorch.
 *
 * @example
 * bernoulli(full([2, 3], 0.5), { generator: new Generator().manualSeed(1) });
 */
export function bernoulli(p: Tensor, opts: SamplingOptions = {}): Tensor {
  check(isFloat(p.dtype), 'bernoulli', () => `p must be a float tensor of probabilities, got ${p.dtype}`);
  if (p._backend.readSync) {
    for (const v of p.dataSync()) check(v >= 0 && v <= 1, 'bernoulli', () => `probabilities must be in [0, 1], got ${v}`);
  }
  return noGrad(() => scope(() => uniformLike('bernoulli', p, p.shape, opts.generator ?? defaultGenerator, p.dtype).lt(p).cast(p.dtype)));
}

export interface RandintOptions extends SamplingOptions {
  /** 'int32' (default) or a float dtype. */
  dtype?: DType;
  backend?: string;
}

/**
 * Uniform integers in [low, high) (one bound: [0, high)), as int32 by default.
 *
 * @example
 * randint(10, [3]);         // three integers in [0, 10)
 * randint(5, 10, [2, 2]);   // in [5, 10)
 */
export function randint(high: number, shape: readonly number[], opts?: RandintOptions): Tensor;
export function randint(low: number, high: number, shape: readonly number[], opts?: RandintOptions): Tensor;
export function randint(a: number, b: number | readonly number[], c?: readonly number[] | RandintOptions, d?: RandintOptions): Tensor {
  const [low, high, shape, opts] = Array.isArray(b)
    ? [0, a, b as readonly number[], (c ?? {}) as RandintOptions]
    : [a, b as number, c as readonly number[], d ?? {}];
  check(Number.isInteger(low) && Number.isInteger(high) && low < high, 'randint', () => `needs integers low < high, got [${low}, ${high})`);
  check(Array.isArray(shape), 'randint', () => 'needs a shape, e.g. randint(10, [3])');
  checkShape('randint', shape);
  const g = opts.generator ?? defaultGenerator;
  const values = new Float64Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = low + Math.floor(g.nextUniform() * (high - low));
  const dtype = opts.dtype ?? 'int32';
  const data = dtype === 'int32' ? Int32Array.from(values) : dtype === 'float32' ? Float32Array.from(values) : values;
  return fromTypedArray(data, shape, { dtype, backend: opts.backend });
}

/**
 * A random permutation of 0..n−1 (int32), PyTorch's randperm.
 *
 * @example
 * randperm(5); // e.g. [3, 0, 4, 1, 2]
 */
export function randperm(n: number, opts: SamplingOptions & { backend?: string } = {}): Tensor {
  check(Number.isInteger(n) && n >= 0, 'randperm', () => `n must be a non-negative integer, got ${n}`);
  return fromTypedArray(permutation(n, opts.generator ?? defaultGenerator), [n], { dtype: 'int32', backend: opts.backend });
}

/** Fisher–Yates: 0..n−1 shuffled by `g`. */
function permutation(n: number, g: Generator): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(g.nextUniform() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}
