/**
 * Weight initialisation as torch.nn.init: each function overwrites a tensor in place from the
 * seeded generator (`manualSeed`), outside the graph, and returns it.
 *
 * @example
 * nn.init.kaimingUniform_(layer.weight, { nonlinearity: 'relu' }); nn.init.zeros_(layer.bias!);
 * @module
 */
import { noGrad } from '../core/autograd.js';
import { isFloat, toStorageArray } from '../core/dtype.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import { nextNormal, nextUniform } from '../core/random.js';
import { backendOf, wrapStorage } from '../core/seams.js';
import type { Tensor } from '../core/tensor.js';


/** The nonlinearities `calculateGain` knows, by PyTorch's names. */
export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** Which fan Kaiming init preserves the variance of: forward (`fan_in`, default) or backward. */
export type FanMode = 'fan_in' | 'fan_out';

let skipping = 0;

/**
 * Runs `fn` with random initialisation skipped, for models whose weights are loaded next
 * (PyTorch's `torch.nn.utils.skip_init`, transformers' `no_init_weights`): layers built inside
 * start from zeros and the functions of `nn.init` leave tensors as they are. Returns fn's result.
 *
 * @example
 * const model = nn.init.skipInit(() => new models.GPT2LMHeadModel(config));
 * model.loadStateDict(state);
 */
export function skipInit<T>(fn: () => T): T {
  skipping++;
  try {
    return fn();
  } finally {
    skipping--;
  }
}

/** Whether layers being built now should draw their initial weights (false inside `skipInit`). */
export function initEnabled(): boolean {
  return skipping === 0;
}

/** Draws every element on the host (one seeded stream on every backend), then writes them in place. */
function write<T extends Tensor>(op: string, t: T, draw: () => number): T {
  check(isFloat(t.dtype), op, () => `needs a float tensor, got ${t.dtype}`);
  if (!initEnabled()) return t;
  const b = backendOf(t);
  const values = wrapStorage(b, b.upload(toStorageArray(Array.from({ length: t.size }, draw), t.dtype)), t.shape, t.dtype);
  noGrad(() => t.copy_(values));
  values.dispose();
  return t;
}

/**
 * The gain PyTorch recommends for a nonlinearity: 1 for linear/sigmoid, 5/3 tanh, √2 relu,
 * √(2 / (1 + slope²)) leaky_relu (slope 0.01 by default), 3/4 selu.
 *
 * @example
 * nn.init.calculateGain('tanh'); // 1.6667
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      check(Number.isFinite(slope), 'calculateGain', () => `negative slope must be a number, got ${param}`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu': return 3 / 4;
    default:
      throw new TsgradError('calculateGain', `unknown nonlinearity '${String(nonlinearity)}'; use linear, sigmoid, tanh, relu, leaky_relu or selu`);
  }
}

/** fanIn and fanOut of a weight [out, in, ...kernel] (PyTorch's `_calculate_fan_in_and_fan_out`). */
function fans(op: string, t: Tensor): { fanIn: number; fanOut: number } {
  check(t.ndim >= 2, op, () => `fan in and fan out need a tensor of at least 2 dims, got shape ${fmt(t.shape)}`);
  const receptive = t.shape.slice(2).reduce((p, d) => p * d, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/** Fills with U(low, high). @example nn.init.uniform_(w, -0.1, 0.1) */
export function uniform_<T extends Tensor>(t: T, low = 0, high = 1): T {
  check(Number.isFinite(low) && Number.isFinite(high) && low <= high, 'uniform_', () => `needs finite low ≤ high, got ${low} and ${high}`);
  return write('uniform_', t, () => low + (high - low) * nextUniform());
}

/** Fills with N(mean, std²). @example nn.init.normal_(w, 0, 0.02) */
export function normal_<T extends Tensor>(t: T, mean = 0, std = 1): T {
  check(Number.isFinite(mean) && Number.isFinite(std) && std >= 0, 'normal_', () => `needs a finite mean and std ≥ 0, got ${mean} and ${std}`);
  return write('normal_', t, () => mean + std * nextNormal());
}

/** Fills with `value`. @example nn.init.constant_(b, 0.1) */
export function constant_<T extends Tensor>(t: T, value: number): T {
  return write('constant_', t, () => value);
}

/** Fills with zeros. @example nn.init.zeros_(bias) */
export function zeros_<T extends Tensor>(t: T): T {
  return constant_(t, 0);
}

/** Fills with ones. @example nn.init.ones_(gamma) */
export function ones_<T extends Tensor>(t: T): T {
  return constant_(t, 1);
}

/** Glorot uniform: U(−b, b) with b = gain·√(6 / (fanIn + fanOut)). @example nn.init.xavierUniform_(w) */
export function xavierUniform_<T extends Tensor>(t: T, gain = 1): T {
  const { fanIn, fanOut } = fans('xavierUniform_', t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return write('xavierUniform_', t, () => bound * (2 * nextUniform() - 1));
}

/** Glorot normal: N(0, s²) with s = gain·√(2 / (fanIn + fanOut)). @example nn.init.xavierNormal_(w) */
export function xavierNormal_<T extends Tensor>(t: T, gain = 1): T {
  const { fanIn, fanOut } = fans('xavierNormal_', t);
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  return write('xavierNormal_', t, () => std * nextNormal());
}

/** Kaiming init settings, as PyTorch's: slope `a`, fan mode and the nonlinearity that follows. */
export interface KaimingOptions {
  /** Negative slope of the leaky_relu that follows (default 0). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

function kaimingStd(op: string, t: Tensor, opts: KaimingOptions): number {
  const mode = opts.mode ?? 'fan_in';
  check(mode === 'fan_in' || mode === 'fan_out', op, () => `mode must be 'fan_in' or 'fan_out', got '${mode}'`);
  const { fanIn, fanOut } = fans(op, t);
  const fan = mode === 'fan_in' ? fanIn : fanOut;
  check(fan > 0, op, () => `cannot initialise a tensor with zero elements (shape ${fmt(t.shape)})`);
  return calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0) / Math.sqrt(fan);
}

/**
 * He uniform: U(−b, b) with b = √3·gain/√fan (PyTorch's defaults: a 0, `fan_in`, leaky_relu).
 *
 * @example
 * nn.init.kaimingUniform_(w, { nonlinearity: 'relu' });
 */
export function kaimingUniform_<T extends Tensor>(t: T, opts: KaimingOptions = {}): T {
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform_', t, opts);
  return write('kaimingUniform_', t, () => bound * (2 * nextUniform() - 1));
}

/** He normal: N(0, s²) with s = gain/√fan. @example nn.init.kaimingNormal_(w, { mode: 'fan_out' }) */
export function kaimingNormal_<T extends Tensor>(t: T, opts: KaimingOptions = {}): T {
  const std = kaimingStd('kaimingNormal_', t, opts);
  return write('kaimingNormal_', t, () => std * nextNormal());
}
