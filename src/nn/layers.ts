import { ones, randn, uniform, zeros } from '../core/creation.js';
import type { DType } from '../core/dtype.js';
import { check } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { assertNewShape, assertTensor, describeValue, isPlainObject } from '../core/validate.js';
import * as F from './functional.js';
import { initEnabled } from './init.js';
import { type TensorLike, asTensor } from './inputs.js';
import { Module } from './module.js';
import { Parameter, layerParameter } from './parameter.js';

/** Options of `nn.Linear`. */
export interface LinearOptions {
  /** Add a learned bias (default true). */
  bias?: boolean;
  dtype?: DType;
}

/**
 * Checks a layer's options object and its dtype: float32 or float64, or with `half` also
 * float16/bfloat16, whose parameters are frozen (see `layerParameter`).
 */
export function floatDType(op: string, opts: unknown, half = false): void {
  check(isPlainObject(opts), op, () => `options must be an object such as { dtype: 'float32' }, got ${describeValue(opts)}`);
  const dtype = opts.dtype;
  const allowed = half ? ['float32', 'float64', 'float16', 'bfloat16'] : ['float32', 'float64'];
  check(dtype === undefined || allowed.includes(dtype as string), op, () =>
    `dtype must be ${allowed.slice(0, -1).map((d) => `'${d}'`).join(', ')} or '${allowed.at(-1)}', got ${describeValue(dtype)}${half ? ' (16-bit parameters are frozen)' : ''}`);
}

function positiveInt(op: string, name: string, v: number): void {
  check(Number.isInteger(v) && v > 0, op, () => `${name} must be a positive integer, got ${describeValue(v)}`);
}

/**
 * y = x·Wᵀ + b with weight [out, in] and PyTorch's default init: W and b uniform in ±1/√in
 * (kaiming_uniform with a = √5).
 *
 * @example
 * const fc = new nn.Linear(768, 768); fc.forward(randn([64, 768])); // [64, 768]
 */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    positiveInt('Linear', 'inFeatures', inFeatures);
    positiveInt('Linear', 'outFeatures', outFeatures);
    floatDType('Linear', opts, true);
    assertNewShape('Linear', [outFeatures, inFeatures]);
    const bound = 1 / Math.sqrt(inFeatures);
    const draw = (shape: number[]) => layerParameter(opts.dtype ?? 'float32', (dtype) => (initEnabled() ? uniform(shape, -bound, bound, { dtype }) : zeros(shape, { dtype })));
    this.weight = draw([outFeatures, inFeatures]);
    this.bias = opts.bias ?? true ? draw([outFeatures]) : null;
  }

  /** x·Wᵀ + b. */
  forward(x: TensorLike): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/**
 * Runs modules one after another; children are named `0`, `1`... as in PyTorch.
 *
 * @example
 * const mlp = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
 */
export class Sequential extends Module {
  readonly length: number;

  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => check(m instanceof Module, 'Sequential', () => `argument ${i + 1} must be a Module, got ${describeValue(m)}`));
    modules.forEach((m, i) => this.registerModule(String(i), m));
    this.length = modules.length;
  }

  /** The i-th module (its current occupant, after `applyLoRA` swaps). */
  at(i: number): Module {
    const m = (this as unknown as Record<string, Module | undefined>)[String(i)];
    check(m, 'Sequential', () => `index ${i} is out of range for ${this.length} modules`);
    return m;
  }

  /** Each module's output fed to the next; plain arrays go to the first module as they are (a Linear or Embedding takes them). */
  forward(input: TensorLike): Tensor {
    let x = input as Tensor;
    for (let i = 0; i < this.length; i++) x = this.at(i).forward(x);
    return asTensor('Sequential', x, 'float32');
  }
}

/** A lookup table [num, dim] initialised N(0, 1). @example new nn.Embedding(1000, 64).forward(ids) */
export class Embedding extends Module {
  weight: Parameter;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: { dtype?: DType } = {},
  ) {
    super();
    positiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    positiveInt('Embedding', 'embeddingDim', embeddingDim);
    floatDType('Embedding', opts, true);
    assertNewShape('Embedding', [numEmbeddings, embeddingDim]);
    const shape = [numEmbeddings, embeddingDim];
    this.weight = layerParameter(opts.dtype ?? 'float32', (dtype) => (initEnabled() ? randn(shape, { dtype }) : zeros(shape, { dtype })));
  }

  forward(indices: TensorLike): Tensor {
    return F.embedding(indices, this.weight);
  }
}

/** Normalizes over the last dim of size `dim`; weight ones, bias zeros. @example new nn.LayerNorm(64) */
export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(
    readonly dim: number,
    readonly opts: { eps?: number; elementwiseAffine?: boolean; dtype?: DType } = {},
  ) {
    super();
    positiveInt('LayerNorm', 'dim', dim);
    floatDType('LayerNorm', opts, true);
    assertNewShape('LayerNorm', [dim]);
    check(opts.eps === undefined || (typeof opts.eps === 'number' && opts.eps >= 0), 'LayerNorm', () => `eps must be a number ≥ 0, got ${describeValue(opts.eps)}`);
    check(opts.elementwiseAffine === undefined || typeof opts.elementwiseAffine === 'boolean', 'LayerNorm', () => `elementwiseAffine must be a boolean, got ${describeValue(opts.elementwiseAffine)}`);
    const affine = opts.elementwiseAffine ?? true;
    const dtype = opts.dtype ?? 'float32';
    this.weight = affine ? layerParameter(dtype, (d) => ones([dim], { dtype: d })) : null;
    this.bias = affine ? layerParameter(dtype, (d) => zeros([dim], { dtype: d })) : null;
  }

  /** The normalized, scaled and shifted input. */
  forward(x: TensorLike): Tensor {
    return F.layerNorm(x, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }
}

/** Zeroes inputs with probability p while training; identity in eval mode. @example new nn.Dropout(0.1) */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    check(typeof p === 'number' && p >= 0 && p < 1, 'Dropout', () => `p must be in [0, 1), got ${describeValue(p)}`);
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

/** max(x, 0). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    assertTensor('ReLU', x, 'input');
    return x.relu();
  }
}

/** GELU, exact (erf) by default or `{ approximate: 'tanh' }`. */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    check(approximate === 'none' || approximate === 'tanh', 'GELU', () => `approximate must be 'none' or 'tanh', got ${describeValue(approximate)}`);
  }

  forward(x: Tensor): Tensor {
    assertTensor('GELU', x, 'input');
    return x.gelu({ approximate: this.approximate });
  }
}

/** SiLU (swish), x·σ(x), as PyTorch's `nn.SiLU`. @example new nn.SiLU().forward(x) */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return F.silu(x);
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    assertTensor('Tanh', x, 'input');
    return x.tanh();
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    assertTensor('Sigmoid', x, 'input');
    return x.sigmoid();
  }
}

/** Mean squared error as a module. @example new nn.MSELoss().forward(pred, target) */
export class MSELoss extends Module {
  forward(input: TensorLike, target: TensorLike): Tensor {
    return F.mseLoss(input, target);
  }
}

/**
 * Cross-entropy of logits [N, C, ...] against int32 classes [N, ...], with `F.crossEntropy`'s
 * options. @example new nn.CrossEntropyLoss({ labelSmoothing: 0.1 }).forward(logits, targets)
 */
export class CrossEntropyLoss extends Module {
  constructor(readonly opts: F.CrossEntropyOptions = {}) {
    super();
  }

  forward(logits: TensorLike, targets: TensorLike): Tensor {
    return F.crossEntropy(logits, targets, this.opts);
  }
}
