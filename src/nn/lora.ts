import { isGradEnabled, noGrad, record } from '../core/autograd.js';
import { randn, uniform, zeros } from '../core/creation.js';
import { isHalf } from '../core/dtype.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import { keep, scope } from '../core/scope.js';
import { backendOf } from '../core/seams.js';
import { Tensor } from '../core/tensor.js';
import { describeValue, isPlainObject } from '../core/validate.js';
import { Conv1D } from './conv1d.js';
import type { Conv2d } from './conv2d.js';
import * as F from './functional.js';
import { castForCompute, computeDType } from './inputs.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { QuantizedLinear } from './quantizedLinear.js';

/** LoRA settings: rank, alpha, dropout and scaling. */
export interface LoRAOptions {
  /** Rank r of the update B·A, 1 ≤ r ≤ min(in, out) (default 8, as PEFT). */
  rank?: number;
  /** The update is scaled by alpha/r (default alpha = rank, scaling 1). */
  alpha?: number;
  /** Dropout on the adapter's input only, 0 ≤ p < 1 (default 0). */
  dropout?: number;
  /** rsLoRA: scale by alpha/√r instead, so larger ranks keep learning (Kalajdzievski 2023). */
  useRsLoRA?: boolean;
  /**
   * A's init: 'kaiming' (default, U(±1/√in) as loralib and PEFT) or 'gaussian' (N(0, σ = 1/r),
   * PEFT's init_lora_weights='gaussian'). B always starts at zero.
   */
  init?: 'kaiming' | 'gaussian';
}

/**
 * The layers LoRA wraps: `nn.Linear` (weight [out, in]), `nn.Conv1D` (Hugging Face's transposed
 * linear, weight [in, out]: PEFT's `fan_in_fan_out`) and either quantized by `nn.quantize`.
 */
export type LoRABase = Linear | Conv1D | QuantizedLinear;

/** What `unmerge()` did: the largest |W_after − W_before_merge| float rounding left behind. */
export interface UnmergeReport {
  /** null on asynchronous backends, where reading it would need an await. */
  maxDrift: number | null;
}

/** Every layer LoRA wraps: LoRALinear's bases and `nn.Conv2d` (LoRAConv2d). */
export type LoRATarget = LoRABase | Conv2d;

/**
 * What every LoRA layer shares (PEFT's `LoraLayer`): a frozen base layer, trainable `loraA` and
 * `loraB`, the scaling, and merging the update into the base weight and back. Subclasses say how
 * the update is applied (`forward`) and what it is in the base weight's layout (`delta`).
 *
 * @example
 * const adapters = model.modules().filter((m) => m instanceof nn.LoRALayer); // LoRALinear and LoRAConv2d
 */
export abstract class LoRALayer<B extends LoRATarget = LoRATarget> extends Module {
  readonly base: B;
  loraA: Parameter;
  loraB: Parameter;
  readonly rank: number;
  readonly alpha: number;
  readonly scaling: number;
  readonly dropout: number;
  // Private fields are invisible to parameter discovery: the snapshot is not a parameter.
  #merged: { a: Tensor; b: Tensor; drift: Tensor } | null = null;

  /** Freezes `base` and makes A (kaiming U(±1/√fanIn) or gaussian N(0, 1/r²)) and B (zeros) of the given shapes beside its weight. */
  protected constructor(base: B, opts: LoRAOptions, shapes: { a: number[]; b: number[]; fanIn: number }) {
    super();
    const rank = opts.rank ?? 8;
    this.training = base.training;
    this.base = base.freeze() as B;
    this.rank = rank;
    this.alpha = opts.alpha ?? rank;
    this.scaling = opts.useRsLoRA ? this.alpha / Math.sqrt(rank) : this.alpha / rank;
    this.dropout = opts.dropout ?? 0;
    // A quantized base keeps no float weight: its adapters are float32 beside its scales. A
    // float16/bfloat16 base's are float32 too (what it computes in).
    const on = base instanceof QuantizedLinear ? { dtype: 'float32' as const, backend: base.absmax.backend } : { dtype: computeDType(base.weight.dtype), backend: base.weight.backend };
    const bound = 1 / Math.sqrt(shapes.fanIn);
    const a = (opts.init ?? 'kaiming') === 'gaussian'
      ? noGrad(() => scope(() => randn(shapes.a, on).mul(1 / rank)))
      : uniform(shapes.a, -bound, bound, on);
    this.loraA = Parameter.from(a);
    this.loraB = Parameter.from(zeros(shapes.b, on));
  }

  /** The frozen base weight (PEFT's `layer.weight`): [out, in] for a Linear, [in, out] for a Conv1D, [out, in, kh, kw] for a Conv2d. */
  get weight(): Parameter {
    return this.base.weight;
  }

  /** The frozen base bias (PEFT's `layer.bias`). */
  get bias(): B['bias'] {
    return this.base.bias;
  }

  /** True when the base stores its weight [in, out] (a Conv1D): PEFT's `fan_in_fan_out`. */
  get fanInFanOut(): boolean {
    return false;
  }

  /** True between `merge()` and `unmerge()`: the update lives inside base.weight. */
  get isMerged(): boolean {
    return this.#merged !== null;
  }

  /** ΔW = scaling·B·A in the base weight's layout. */
  protected abstract delta(a: Tensor, b: Tensor): Tensor;

  /** The merged layer's output `y` of `x`: usable for inference, refused by backward (it cannot train merged). */
  protected mergedOutput(x: Tensor, y: Tensor): Tensor {
    const watched = [x, this.base.weight, this.base.bias, this.loraA, this.loraB].filter((t): t is Tensor => !!t && t.requiresGrad);
    if (!isGradEnabled() || watched.length === 0) return y;
    const name = this.constructor.name;
    return record(`${name}(merged)`, watched, y, [], () => {
      throw new TsgradError('backward', `this ${name} is merged (B·A is folded into base.weight), so it cannot train; call unmerge() before training`);
    });
  }

  /**
   * Folds scaling·B·A into base.weight (its transpose into a Conv1D's [in, out] weight, as PEFT
   * does with fan_in_fan_out) so inference costs the base layer alone. Merging a merged layer
   * does nothing (it never adds twice). The A and B used are snapshotted, so `unmerge()`
   * subtracts exactly what was added even if the adapters change meanwhile.
   */
  merge(): this {
    if (this.#merged) return this;
    check(!(this.base instanceof QuantizedLinear), 'merge', () =>
      `the base is quantized (${(this.base as QuantizedLinear).format}); B·A cannot be folded into it without requantizing, so keep the adapter unmerged`);
    const w = this.base.weight;
    this.#merged = noGrad(() =>
      scope(() => {
        const a = keep(this.loraA.clone());
        const b = keep(this.loraB.clone());
        const delta = this.delta(a, b);
        // A 16-bit weight is added to in float32 and each result rounded to its dtype, as stored.
        const stored = (t: Tensor) => (isHalf(w.dtype) ? t.cast(w.dtype).float() : t);
        const w0 = castForCompute(w, delta.dtype);
        const merged = stored(w0.add(delta));
        // The float drift unmerge will leave, computed now while the original W0 is at hand.
        const drift = keep(stored(merged.sub(delta)).sub(w0).abs().max());
        w.copy_(merged);
        return { a, b, drift };
      }),
    );
    return this;
  }

  /** Restores base.weight to W0 (up to float rounding, reported as maxDrift). No-op when not merged. */
  unmerge(): UnmergeReport {
    const m = this.#merged;
    if (!m) return { maxDrift: 0 };
    const w = this.base.weight;
    noGrad(() => scope(() => {
      const delta = this.delta(m.a, m.b);
      w.copy_(castForCompute(w, delta.dtype).sub(delta));
    }));
    const maxDrift = backendOf(m.drift).readSync ? m.drift.itemSync() : null;
    m.a.dispose();
    m.b.dispose();
    m.drift.dispose();
    this.#merged = null;
    return { maxDrift };
  }

  /**
   * Merges for good and returns the base layer with W0 + ΔW in its weight (PEFT's
   * `merge_and_unload` for one layer; `nn.mergeAndUnload` does it for a model). A and B are
   * disposed, so this wrapper cannot be used afterwards; put the returned layer in its place.
   *
   * @example
   * model.fc = (model.fc as nn.LoRALinear).mergeAndUnload(); // an nn.Linear again
   */
  mergeAndUnload(): B {
    this.merge();
    const m = this.#merged!;
    for (const t of [m.a, m.b, m.drift, this.loraA, this.loraB]) t.dispose();
    this.#merged = null;
    return this.base;
  }

  protected override assertUnmerged(op: string, path: string): void {
    check(!this.#merged, op, () =>
      `${this.constructor.name} '${path || '(root)'}' is merged (base.weight holds W0 + scaling·B·A); call unmerge() first so the update is never applied twice`);
  }
}

/**
 * A frozen linear layer plus a trainable low-rank update (LoRA, Hu et al. 2021):
 * `y = base(x) + scaling · (dropout(x) Aᵀ) Bᵀ`. The base is an `nn.Linear` or an `nn.Conv1D`
 * (PEFT's `lora.Linear` wraps both, with `fan_in_fan_out` for Conv1D); `loraA` [rank, in] and
 * `loraB` [out, rank] have the same shapes for either. Only A and B require grad, so backward
 * never computes dW0 and optimizers keep state only for A and B. B starts at zero, so a fresh
 * layer computes exactly its base. Like PEFT's layer it exposes the base's `weight` and `bias`.
 *
 * @example
 * const lora = new nn.LoRALinear(768, 768, { rank: 4, alpha: 8 }); // LoRALinear<nn.Linear>
 * lora.forward(x);              // base(x) + 2 · x Aᵀ Bᵀ
 * lora.merge();                 // one matmul at inference; lora.isMerged === true
 * lora.unmerge();               // W0 back, { maxDrift }
 * const attn = nn.LoRALinear.wrap(new nn.Conv1D(2304, 768), { rank: 4 }); // LoRALinear<nn.Conv1D>
 * attn.weight.shape;            // [768, 2304]: the frozen Conv1D weight
 */
export class LoRALinear<B extends LoRABase = Linear> extends LoRALayer<B> {
  /** A new `nn.Linear(inFeatures, outFeatures)` with an adapter; `LoRALinear.wrap` adapts an existing layer. */
  constructor(inFeatures: number, outFeatures: number, opts: LoRAOptions & { bias?: boolean } = {}) {
    const base = baseOf(inFeatures, outFeatures, opts);
    const rank = opts.rank ?? 8;
    super(base as B, opts, { a: [rank, base.inFeatures], b: [base.outFeatures, rank], fanIn: base.inFeatures });
  }

  /**
   * Wraps an existing Linear or Conv1D: its weight and bias are frozen and shared, not copied.
   * The result is typed by the layer it wraps.
   *
   * @example
   * const cAttn = nn.LoRALinear.wrap(gpt2.transformer.h.at(0).attn.c_attn, { rank: 4 }); // LoRALinear<nn.Conv1D>
   * cAttn.base.nf; // 3 · nEmbd, typed: the base is a Conv1D
   */
  static wrap<L extends LoRABase>(layer: L, opts: LoRAOptions = {}): LoRALinear<L> {
    check(layer instanceof Linear || layer instanceof Conv1D || layer instanceof QuantizedLinear, 'LoRALinear.wrap', () =>
      `expects an nn.Linear, nn.Conv1D or nn.QuantizedLinear, got ${(layer as object)?.constructor?.name}`);
    wrapping = layer;
    try {
      return new LoRALinear(layer.inFeatures, layer.outFeatures, opts) as unknown as LoRALinear<L>;
    } finally {
      wrapping = null;
    }
  }

  /**
   * Wraps an existing Linear: its weight and bias are frozen and shared, not copied.
   *
   * @example
   * model.fc = nn.LoRALinear.fromLinear(model.fc, { rank: 4 });
   */
  static fromLinear(linear: Linear, opts: LoRAOptions = {}): LoRALinear<Linear> {
    check(linear instanceof Linear, 'LoRALinear.fromLinear', () => `expects an nn.Linear, got ${(linear as object)?.constructor?.name}`);
    return LoRALinear.wrap(linear, opts);
  }

  get inFeatures(): number {
    return this.base.inFeatures;
  }

  get outFeatures(): number {
    return this.base.outFeatures;
  }

  /** True when the base stores its weight [in, out] (a Conv1D): PEFT's `fan_in_fan_out`. */
  override get fanInFanOut(): boolean {
    return this.base instanceof Conv1D || (this.base instanceof QuantizedLinear && this.base.fanInFanOut);
  }

  /** The base layer's output plus the scaled low-rank update. */
  forward(x: Tensor): Tensor {
    if (this.base instanceof QuantizedLinear) return this.quantizedForward(x, this.base);
    const { weight, bias } = this.base;
    // Non-tensors are left to F.loraLinear, which names what it got.
    check(!(x instanceof Tensor) || (x.ndim >= 1 && x.shape[x.ndim - 1] === this.inFeatures), 'LoRALinear', () =>
      `input ${fmt(x.shape)} must end in the ${this.inFeatures} input features of the ${this.base.constructor.name} it wraps (weight ${fmt(weight.shape)})`);
    // F.linear takes [out, in]; a Conv1D's [in, out] weight enters as a transposed view, no copy.
    const w = this.fanInFanOut ? weight.transpose(0, 1) : weight;
    if (!this.isMerged) {
      return F.loraLinear(x, w, bias, this.loraA, this.loraB, this.scaling, { dropout: this.dropout, training: this.training });
    }
    return this.mergedOutput(x, noGrad(() => F.linear(x, w, bias)));
  }

  /** The quantized base's output (gradient to x only) plus the update, as F.loraLinear adds it. */
  private quantizedForward(x: Tensor, base: QuantizedLinear): Tensor {
    check(x instanceof Tensor && x.ndim >= 1 && x.shape[x.ndim - 1] === this.inFeatures, 'LoRALinear', () =>
      `input ${x instanceof Tensor ? fmt(x.shape) : describeValue(x)} must end in the ${this.inFeatures} input features of the ${base.format} QuantizedLinear it wraps`);
    const h = F.dropout(x, this.dropout, this.training);
    const update = h.matmul(this.loraA.transpose(0, 1)).mul(this.scaling).matmul(this.loraB.transpose(0, 1));
    return base.forward(x).add(update);
  }

  /** ΔW in the base weight's layout: scaling·B·A, transposed for a Conv1D. */
  protected delta(a: Tensor, b: Tensor): Tensor {
    const delta = b.matmul(a).mul(this.scaling);
    return this.fanInFanOut ? delta.transpose(0, 1) : delta;
  }
}

/** Checks the options, then the layer `wrap` hands over or a new Linear. */
function baseOf(inFeatures: number, outFeatures: number, opts: LoRAOptions & { bias?: boolean }): LoRABase {
  validate(inFeatures, outFeatures, opts);
  const base = wrapping ?? new Linear(inFeatures, outFeatures, { bias: opts.bias ?? true });
  wrapping = null;
  return base;
}

/** The layer `wrap` hands to the constructor (the constructor's public signature takes sizes). */
let wrapping: LoRABase | null = null;

/** Errors unless `opts` make a valid LoRALinear of this size (`rank` defaults to 8, as in the constructor). */
export function checkLoRAOptions(inFeatures: number, outFeatures: number, opts: LoRAOptions, op = 'LoRALinear'): void {
  validate(inFeatures, outFeatures, opts, op);
}

function validate(inFeatures: number, outFeatures: number, opts: LoRAOptions, op = 'LoRALinear'): void {
  check(isPlainObject(opts), op, () => `options must be an object such as { rank: 8, alpha: 16 }, got ${describeValue(opts)}`);
  // Numbers print bare, anything else says what it is (a string '0.1' is not the number 0.1).
  const show = (v: unknown) => (typeof v === 'number' ? String(v) : describeValue(v));
  const rank = opts.rank ?? 8;
  check(typeof rank === 'number' && Number.isInteger(rank) && rank >= 1 && rank <= Math.min(inFeatures, outFeatures), op, () =>
    `rank must be an integer in [1, min(in, out) = ${Math.min(inFeatures, outFeatures)}], got ${show(rank)}`);
  const alpha = opts.alpha ?? rank;
  check(typeof alpha === 'number' && Number.isFinite(alpha) && alpha > 0, op, () => `alpha must be a number > 0, got ${show(alpha)}`);
  const p = opts.dropout ?? 0;
  check(typeof p === 'number' && p >= 0 && p < 1, op, () => `dropout must be a number in [0, 1), got ${show(p)}`);
  const rs = opts.useRsLoRA ?? false;
  check(typeof rs === 'boolean', op, () => `useRsLoRA must be true or false, got ${describeValue(rs)}`);
  const init = opts.init ?? 'kaiming';
  check(init === 'kaiming' || init === 'gaussian', op, () => `init must be 'kaiming' or 'gaussian', got '${init}'`);
}
