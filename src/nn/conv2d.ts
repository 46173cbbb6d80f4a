import { uniform, zeros } from '../core/creation.js';
import type { DType } from '../core/dtype.js';
import { check, fmt } from '../core/errors.js';
import { type Size2d, pair } from '../core/ops/conv.js';
import type { Tensor } from '../core/tensor.js';
import { assertKnownKeys, assertNewShape, describeValue, isPlainObject } from '../core/validate.js';
import * as F from './functional.js';
import { initEnabled } from './init.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';

/** Options of `nn.Conv2d`, with PyTorch's defaults. */
export interface Conv2dLayerOptions {
  stride?: Size2d;
  /** Zeros on both sides (default 0), or 'same' / 'valid'. */
  padding?: Size2d | 'same' | 'valid';
  dilation?: Size2d;
  groups?: number;
  /** Add a learned bias (default true). */
  bias?: boolean;
  dtype?: DType;
}

/** Options of `nn.ConvTranspose2d`, with PyTorch's defaults. */
export interface ConvTranspose2dLayerOptions {
  stride?: Size2d;
  padding?: Size2d;
  outputPadding?: Size2d;
  groups?: number;
  /** Add a learned bias (default true). */
  bias?: boolean;
  dilation?: Size2d;
  dtype?: DType;
}

/** Checks the options common to both layers; returns groups and dtype. */
function common(op: string, inChannels: number, outChannels: number, opts: unknown, keys: string[]): { groups: number; dtype: DType; bias: boolean } {
  for (const [name, v] of [['inChannels', inChannels], ['outChannels', outChannels]] as const) {
    check(Number.isInteger(v) && v > 0, op, () => `${name} must be a positive integer, got ${describeValue(v)}`);
  }
  check(isPlainObject(opts), op, () => `options must be an object such as { stride: 1, padding: 1 }, got ${describeValue(opts)}`);
  assertKnownKeys(op, opts, keys);
  const groups = opts.groups ?? 1;
  check(Number.isInteger(groups) && (groups as number) > 0 && inChannels % (groups as number) === 0 && outChannels % (groups as number) === 0, op, () =>
    `groups must be a positive integer dividing inChannels ${inChannels} and outChannels ${outChannels}, got ${describeValue(groups)}`);
  const dtype = opts.dtype ?? 'float32';
  check(dtype === 'float32' || dtype === 'float64', op, () => `dtype must be 'float32' or 'float64', got ${describeValue(dtype)}`);
  const bias = opts.bias ?? true;
  check(typeof bias === 'boolean', op, () => `bias must be a boolean, got ${describeValue(bias)}`);
  return { groups: groups as number, dtype: dtype as DType, bias };
}

/** PyTorch's reset_parameters: kaiming_uniform(a = √5) for the weight, which is U(±1/√fanIn), and the same bound for the bias. */
function draw(shape: number[], fanIn: number, dtype: DType): Parameter {
  const bound = 1 / Math.sqrt(fanIn);
  return Parameter.from(initEnabled() ? uniform(shape, -bound, bound, { dtype }) : zeros(shape, { dtype }));
}

/**
 * A 2-D convolution layer as PyTorch's `nn.Conv2d`: weight [out, in/groups, kh, kw] and bias
 * [out], initialised as PyTorch does (U(±1/√fanIn), fanIn = in/groups·kh·kw), so state dicts
 * line up.
 *
 * @example
 * const conv = new nn.Conv2d(3, 16, 3, { padding: 1 });
 * conv.forward(randn([8, 3, 32, 32])); // [8, 16, 32, 32]
 */
export class Conv2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | 'same' | 'valid';
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Size2d,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const op = 'Conv2d';
    const { groups, dtype, bias } = common(op, inChannels, outChannels, opts, ['stride', 'padding', 'dilation', 'groups', 'bias', 'dtype']);
    this.kernelSize = pair(op, 'kernelSize', kernelSize, 1);
    this.stride = pair(op, 'stride', opts.stride ?? 1, 1);
    this.dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
    const padding = opts.padding ?? 0;
    this.padding = padding === 'same' || padding === 'valid' ? padding : pair(op, 'padding', padding, 0);
    check(padding !== 'same' || (this.stride[0] === 1 && this.stride[1] === 1), op, () => `padding 'same' needs stride 1 (as in PyTorch), got stride ${fmt(this.stride)}`);
    this.groups = groups;
    const shape = [outChannels, inChannels / groups, ...this.kernelSize];
    assertNewShape(op, shape);
    const fanIn = (inChannels / groups) * this.kernelSize[0] * this.kernelSize[1];
    this.weight = draw(shape, fanIn, dtype);
    this.bias = bias ? draw([outChannels], fanIn, dtype) : null;
  }

  /** The convolution of `x` [N, in, H, W] (or [in, H, W]). */
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

/**
 * The transposed convolution layer, as PyTorch's `nn.ConvTranspose2d`: weight
 * [in, out/groups, kh, kw] and bias [out], initialised as PyTorch does (U(±1/√fanIn) with
 * fanIn = out/groups·kh·kw, PyTorch's fan of that layout).
 *
 * @example
 * const up = new nn.ConvTranspose2d(16, 8, 4, { stride: 2, padding: 1 });
 * up.forward(randn([1, 16, 7, 7])); // [1, 8, 14, 14]
 */
export class ConvTranspose2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Size2d,
    opts: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    const op = 'ConvTranspose2d';
    const { groups, dtype, bias } = common(op, inChannels, outChannels, opts, ['stride', 'padding', 'outputPadding', 'groups', 'bias', 'dilation', 'dtype']);
    this.kernelSize = pair(op, 'kernelSize', kernelSize, 1);
    this.stride = pair(op, 'stride', opts.stride ?? 1, 1);
    this.padding = pair(op, 'padding', opts.padding ?? 0, 0);
    this.outputPadding = pair(op, 'outputPadding', opts.outputPadding ?? 0, 0);
    this.dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
    check(this.outputPadding.every((p, i) => p < this.stride[i]! || p < this.dilation[i]!), op, () =>
      `outputPadding ${fmt(this.outputPadding)} must be smaller than stride ${fmt(this.stride)} or dilation ${fmt(this.dilation)} in each dim`);
    this.groups = groups;
    const shape = [inChannels, outChannels / groups, ...this.kernelSize];
    assertNewShape(op, shape);
    const fanIn = (outChannels / groups) * this.kernelSize[0] * this.kernelSize[1];
    this.weight = draw(shape, fanIn, dtype);
    this.bias = bias ? draw([outChannels], fanIn, dtype) : null;
  }

  /** The transposed convolution of `x` [N, in, H, W] (or [in, H, W]). */
  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation,
    });
  }
}
