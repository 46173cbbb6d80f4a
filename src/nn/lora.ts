import { isGradEnabled, noGrad, record } from '../core/autograd.js';
import { randn, uniform, zeros } from '../core/creation.js';
import { TsgradError, check } from '../core/errors.js';
import { keep, scope } from '../core/scope.js';
import type { Tensor } from '../core/tensor.js';
import * as F from './functional.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';

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

/** What `unmerge()` did: the largest |W_after − W_before_merge| float rounding left behind. */
export interface UnmergeReport {
  /** null on asynchronous backends, where reading it would need an await. */
  maxDrift: number | null;
}

/**
 * A frozen Linear plus a trainable low-rank update (LoRA, Hu et al. 2021):
 * `y = base(x) + scaling · (dropout(x) Aᵀ) Bᵀ`. Only `loraA` [rank, in] and `loraB` [out, rank]
 * require grad, so backward never computes dW0 and optimizers keep state only for A and B.
 * B starts at zero, so a fresh layer computes exactly its base Linear.
 *
 * @example
 * const lora = new nn.LoRALinear(768, 768, { rank: 4, alpha: 8 });
 * lora.forward(x);              // base(x) + 2 · x Aᵀ Bᵀ
 * lora.merge();                 // one matmul at inference; lora.isMerged === true
 * lora.unmerge();               // W0 back, { maxDrift }
 */
export class LoRALinear extends Module {
  readonly base: Linear;
  loraA: Parameter;
  loraB: Parameter;
  readonly rank: number;
  readonly alpha: number;
  readonly scaling: number;
  readonly dropout: number;
  // Private fields are invisible to parameter discovery: the snapshot is not a parameter.
  #merged: { a: Tensor; b: Tensor; drift: Tensor } | null = null;

  constructor(inFeatures: number, outFeatures: number, opts: LoRAOptions & { bias?: boolean } = {}) {
    super();
    const rank = opts.rank ?? 8;
    validate(inFeatures, outFeatures, rank, opts);
    const base = wrapping ?? new Linear(inFeatures, outFeatures, { bias: opts.bias ?? true });
    wrapping = null;
    this.training = base.training;
    this.base = base.freeze();
    this.rank = rank;
    this.alpha = opts.alpha ?? rank;
    this.scaling = opts.useRsLoRA ? this.alpha / Math.sqrt(rank) : this.alpha / rank;
    this.dropout = opts.dropout ?? 0;
    [this.loraA, this.loraB] = adapters(base, rank, opts.init ?? 'kaiming');
  }

  /**
   * Wraps an existing Linear: its weight and bias are frozen and shared, not copied.
   *
   * @example
   * model.fc = nn.LoRALinear.fromLinear(model.fc, { rank: 4 });
   */
  static fromLinear(linear: Linear, opts: LoRAOptions = {}): LoRALinear {
    check(linear instanceof Linear, 'LoRALinear.fromLinear', () => `expects an nn.Linear, got ${(linear as object)?.constructor?.name}`);
    wrapping = linear;
    try {
      return new LoRALinear(linear.inFeatures, linear.outFeatures, opts);
    } finally {
      wrapping = null;
    }
  }

  get inFeatures(): number {
    return this.base.inFeatures;
  }

  get outFeatures(): number {
    return this.base.outFeatures;
  }

  /** True between `merge()` and `unmerge()`: the update lives inside base.weight. */
  get isMerged(): boolean {
    return this.#merged !== null;
  }

  /** The base layer's output plus the scaled low-rank update. */
  forward(x: Tensor): Tensor {
    const { weight, bias } = this.base;
    if (!this.#merged) {
      return F.loraLinear(x, weight, bias, this.loraA, this.loraB, this.scaling, { dropout: this.dropout, training: this.training });
    }
    const y = noGrad(() => F.linear(x, weight, bias));
    const watched = [x, weight, bias, this.loraA, this.loraB].filter((t): t is Tensor => !!t && t.requiresGrad);
    if (!isGradEnabled() || watched.length === 0) return y;
    return record('LoRALinear(merged)', watched, y, [], () => {
      throw new TsgradError('backward', 'this LoRALinear is merged (B·A is folded into base.weight), so it cannot train; call unmerge() before training');
    });
  }

  /**
   * Folds scaling·B·A into base.weight so inference costs one matmul. Merging a merged layer
   * does nothing (it never adds twice). The A and B used are snapshotted, so `unmerge()`
   * subtracts exactly what was added even if the adapters change meanwhile.
   */
  merge(): this {
    if (this.#merged) return this;
    const w = this.base.weight;
    this.#merged = noGrad(() =>
      scope(() => {
        const a = keep(this.loraA.clone());
        const b = keep(this.loraB.clone());
        const delta = b.matmul(a).mul(this.scaling);
        const merged = w.add(delta);
        // The float drift unmerge will leave, computed now while the original W0 is at hand.
        const drift = keep(merged.sub(delta).sub(w).abs().max());
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
    noGrad(() => scope(() => w.copy_(w.sub(m.b.matmul(m.a).mul(this.scaling)))));
    const maxDrift = m.drift._backend.readSync ? m.drift.itemSync() : null;
    m.a.dispose();
    m.b.dispose();
    m.drift.dispose();
    this.#merged = null;
    return { maxDrift };
  }

  protected override assertUnmerged(op: string, path: string): void {
    check(!this.#merged, op, () =>
      `LoRALinear '${path || '(root)'}' is merged (base.weight holds W0 + scaling·B·A); call unmerge() first so the update is never applied twice`);
  }
}

/** The Linear `fromLinear` hands to the constructor (the constructor's public signature takes sizes). */
let wrapping: Linear | null = null;

/** Errors unless `opts` make a valid LoRALinear of this size (`rank` defaults to 8, as in the constructor). */
export function checkLoRAOptions(inFeatures: number, outFeatures: number, opts: LoRAOptions): void {
  validate(inFeatures, outFeatures, opts.rank ?? 8, opts);
}

function validate(inFeatures: number, outFeatures: number, rank: number, opts: LoRAOptions): void {
  check(Number.isInteger(rank) && rank >= 1 && rank <= Math.min(inFeatures, outFeatures), 'LoRALinear', () =>
    `rank must be an integer in [1, min(in, out) = ${Math.min(inFeatures, outFeatures)}], got ${rank}`);
  const alpha = opts.alpha ?? rank;
  check(Number.isFinite(alpha) && alpha > 0, 'LoRALinear', () => `alpha must be > 0, got ${alpha}`);
  const p = opts.dropout ?? 0;
  check(p >= 0 && p < 1, 'LoRALinear', () => `dropout must be in [0, 1), got ${p}`);
  const init = opts.init ?? 'kaiming';
  check(init === 'kaiming' || init === 'gaussian', 'LoRALinear', () => `init must be 'kaiming' or 'gaussian', got '${init}'`);
}

/** A [rank, in] and B [out, rank] beside the base weight (same dtype and backend). */
function adapters(base: Linear, rank: number, init: 'kaiming' | 'gaussian'): [Parameter, Parameter] {
  const w = base.weight;
  const opts = { dtype: w.dtype, backend: w.backend };
  const bound = 1 / Math.sqrt(base.inFeatures);
  const a = init === 'gaussian'
    ? noGrad(() => scope(() => randn([rank, base.inFeatures], opts).mul(1 / rank)))
    : uniform([rank, base.inFeatures], -bound, bound, opts);
  return [Parameter.from(a), Parameter.from(zeros([base.outFeatures, rank], opts))];
}
