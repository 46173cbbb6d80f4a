import { noGrad } from '../core/autograd.js';
import { check, fmt } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { describeValue, isPlainObject } from '../core/validate.js';
import { Conv2d } from './conv2d.js';
import * as F from './functional.js';
import { LoRALayer, type LoRAOptions, checkLoRAOptions } from './lora.js';

/**
 * LoRA on a 2-D convolution, as PEFT's `lora.Conv2d`: `y = base(x) + scaling · B(A(dropout(x)))`
 * where A is a convolution with the base's kernel, stride and padding down to `rank` channels
 * (`loraA` [rank, in, kh, kw], no bias) and B a 1×1 convolution back up (`loraB` [out, rank, 1, 1]).
 * The base is frozen; B starts at zero, so a fresh layer computes exactly its base. `merge()` adds
 * scaling·B·A, reshaped to the base weight's [out, in, kh, kw], PEFT's merge for a 1×1 B.
 *
 * @example
 * const conv = new nn.LoRAConv2d(new nn.Conv2d(64, 64, 3, { padding: 1 }), { rank: 4, alpha: 8 });
 * conv.forward(randn([1, 64, 28, 28])); // [1, 64, 28, 28]
 */
export class LoRAConv2d extends LoRALayer<Conv2d> {
  /** Wraps `conv`: its weight and bias are frozen and shared, not copied. */
  constructor(conv: Conv2d, opts: LoRAOptions = {}) {
    checkLoRAConv2d(conv, opts);
    const rank = opts.rank ?? 8;
    const [kh, kw] = conv.kernelSize;
    super(conv, opts, { a: [rank, conv.inChannels, kh, kw], b: [conv.outChannels, rank, 1, 1], fanIn: conv.inChannels * kh * kw });
  }

  get inChannels(): number {
    return this.base.inChannels;
  }

  get outChannels(): number {
    return this.base.outChannels;
  }

  /** The base convolution plus the scaled low-rank update. */
  forward(x: Tensor): Tensor {
    const { weight, bias, stride, padding } = this.base;
    check(!(x instanceof Tensor) || ((x.ndim === 3 || x.ndim === 4) && x.shape[x.ndim - 3] === this.inChannels), 'LoRAConv2d', () =>
      `input ${fmt(x.shape)} must be [N, ${this.inChannels}, H, W] for the Conv2d it wraps (weight ${fmt(weight.shape)})`);
    if (this.isMerged) return this.mergedOutput(x, noGrad(() => this.base.forward(x)));
    const y = this.base.forward(x);
    const h = F.dropout(x, this.dropout, this.training);
    // Scaling the rank-channel intermediate is the cheapest place for it.
    const down = F.conv2d(h, this.loraA, null, { stride, padding }).mul(this.scaling);
    return y.add(F.conv2d(down, this.loraB));
  }

  /** ΔW = scaling·B·A as [out, in, kh, kw]: B's 1×1 kernel makes the product a plain matmul. */
  protected delta(a: Tensor, b: Tensor): Tensor {
    return b.reshape([this.outChannels, this.rank]).matmul(a.reshape([this.rank, -1])).mul(this.scaling).reshape(this.base.weight.shape);
  }
}

/**
 * Errors unless `opts` make a valid LoRAConv2d around `conv`: PEFT's A has the base's kernel,
 * stride and padding but not its dilation or groups, so those must be 1 for A's output to line
 * up with the base's (and for merge to be exact).
 *
 * @example
 * checkLoRAConv2d(new nn.Conv2d(4, 4, 3, { dilation: 2 }), { rank: 2 }); // throws, naming the dilation
 */
export function checkLoRAConv2d(conv: Conv2d, opts: LoRAOptions): void {
  check(conv instanceof Conv2d, 'LoRAConv2d', () => `expects an nn.Conv2d, got ${describeValue(conv)}`);
  check(isPlainObject(opts), 'LoRAConv2d', () => `options must be an object such as { rank: 8, alpha: 16 }, got ${describeValue(opts)}`);
  check(conv.dilation[0] === 1 && conv.dilation[1] === 1, 'LoRAConv2d', () =>
    `the Conv2d has dilation ${fmt(conv.dilation)}; PEFT's lora_A takes the base's kernel, stride and padding but not its dilation, so only dilation 1 lines up`);
  check(conv.groups === 1, 'LoRAConv2d', () => `the Conv2d has groups ${conv.groups}; LoRA on grouped convolutions cannot merge (PEFT refuses too), so only groups 1 is supported`);
  const [kh, kw] = conv.kernelSize;
  checkLoRAOptions(conv.inChannels * kh * kw, conv.outChannels, opts, 'LoRAConv2d');
}
