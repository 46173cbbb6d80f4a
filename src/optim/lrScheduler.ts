import { check } from '../core/errors.js';
import type { Optimizer } from './optimizer.js';

/** What a schedule needs of an optimizer's param groups: a learning rate. */
export type WithLr = { lr: number };

// Each param group's learning rate before the first schedule touched it (PyTorch's
// `initial_lr`), so schedules created one after another all start from the same rate.
const initialLrs = new WeakMap<object, number>();

/** A scheduler's state: the epoch count and each group's initial learning rate. */
export interface SchedulerStateDict {
  lastEpoch: number;
  baseLrs: number[];
}

/**
 * Base of the learning-rate schedules, with PyTorch's protocol: creating one sets each group's
 * lr for epoch 0; call `step()` after `optimizer.step()`, once per epoch (or per batch, as the
 * schedule is meant); `getLastLr()` reads what was set. Each schedule is its closed form in the
 * epoch count, so `loadStateDict` resumes exactly.
 */
export abstract class LRScheduler {
  /** Each group's learning rate when the scheduler was created. */
  readonly baseLrs: number[];
  lastEpoch = -1;
  private lastLrs: number[] = [];

  constructor(readonly optimizer: Optimizer<WithLr>) {
    check(optimizer && Array.isArray(optimizer.paramGroups), this.constructor.name, () => 'needs an optimizer (optim.SGD, optim.Adam...)');
    this.baseLrs = optimizer.paramGroups.map((g) => {
      if (!initialLrs.has(g)) initialLrs.set(g, g.lr);
      return initialLrs.get(g)!;
    });
  }

  /** The learning rate of group `i` at `epoch`, from its initial rate. */
  protected abstract lrAt(epoch: number, baseLr: number, group: number): number;

  /** Advances one epoch and sets every group's lr. */
  step(): void {
    this.moveTo(this.lastEpoch + 1);
  }

  /** The learning rates this schedule gives at `epoch`, one per group, without setting them. */
  lrsAt(epoch: number): number[] {
    return this.baseLrs.map((base, i) => this.lrAt(epoch, base, i));
  }

  /** The learning rates the last `step()` (or the constructor) set, one per group. */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  /** The epoch count and base rates, for `loadStateDict`. */
  stateDict(): SchedulerStateDict {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }

  /** Resumes a schedule (after `optimizer.loadStateDict`): the lrs become those of `lastEpoch`. */
  loadStateDict(state: SchedulerStateDict): void {
    check(Number.isInteger(state.lastEpoch) && state.lastEpoch >= 0, 'loadStateDict', () => `lastEpoch must be a non-negative integer, got ${state.lastEpoch}`);
    check(state.baseLrs.length === this.baseLrs.length, 'loadStateDict', () =>
      `the state has ${state.baseLrs.length} base learning rates but the optimizer has ${this.baseLrs.length} param groups`);
    this.moveTo(state.lastEpoch, state.baseLrs);
  }

  /** Computes every group's lr at `epoch` (which may throw), then sets them all. */
  private moveTo(epoch: number, baseLrs: readonly number[] = this.baseLrs): void {
    const lrs = baseLrs === this.baseLrs ? this.lrsAt(epoch) : baseLrs.map((base, i) => this.lrAt(epoch, base, i));
    this.baseLrs.splice(0, this.baseLrs.length, ...baseLrs);
    this.lastEpoch = epoch;
    this.lastLrs = lrs;
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]!));
  }

  /** Sets epoch 0's learning rates; subclasses call it once their fields are set. */
  protected start(): void {
    this.step();
  }
}

function positiveInt(op: string, name: string, v: number): void {
  check(Number.isInteger(v) && v > 0, op, () => `${name} must be a positive integer, got ${v}`);
}

/**
 * Multiplies the lr by `gamma` every `stepSize` epochs: lr = base·gamma^⌊epoch / stepSize⌋.
 *
 * @example
 * const sched = new optim.StepLR(opt, { stepSize: 30, gamma: 0.1 });
 */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer<WithLr>, opts: { stepSize: number; gamma?: number }) {
    super(optimizer);
    positiveInt('StepLR', 'stepSize', opts?.stepSize);
    this.stepSize = opts.stepSize;
    this.gamma = opts.gamma ?? 0.1;
    check(Number.isFinite(this.gamma) && this.gamma > 0, 'StepLR', () => `gamma must be a finite number > 0, got ${opts.gamma}`);
    this.start();
  }

  protected lrAt(epoch: number, base: number): number {
    return base * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/**
 * Cosine annealing from the initial lr down to `etaMin` over `tMax` epochs (and back up after,
 * as PyTorch's closed form): lr = etaMin + (base − etaMin)·(1 + cos(π·epoch / tMax)) / 2.
 *
 * @example
 * const sched = new optim.CosineAnnealingLR(opt, { tMax: steps, etaMin: 1e-5 });
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: Optimizer<WithLr>, opts: { tMax: number; etaMin?: number }) {
    super(optimizer);
    positiveInt('CosineAnnealingLR', 'tMax', opts?.tMax);
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    check(Number.isFinite(this.etaMin) && this.etaMin >= 0, 'CosineAnnealingLR', () => `etaMin must be ≥ 0, got ${opts.etaMin}`);
    this.start();
  }

  protected lrAt(epoch: number, base: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

/**
 * Scales the lr linearly from `startFactor` to `endFactor` over `totalIters` epochs, then holds
 * it (a warm-up with the defaults 1/3 → 1 over 5).
 *
 * @example
 * const warmup = new optim.LinearLR(opt, { startFactor: 0.1, totalIters: 100 });
 */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(optimizer: Optimizer<WithLr>, opts: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    super(optimizer);
    this.startFactor = opts.startFactor ?? 1 / 3;
    this.endFactor = opts.endFactor ?? 1;
    this.totalIters = opts.totalIters ?? 5;
    check(this.startFactor > 0 && this.startFactor <= 1, 'LinearLR', () => `startFactor must be in (0, 1], got ${this.startFactor}`);
    check(this.endFactor >= 0 && this.endFactor <= 1, 'LinearLR', () => `endFactor must be in [0, 1], got ${this.endFactor}`);
    positiveInt('LinearLR', 'totalIters', this.totalIters);
    this.start();
  }

  protected lrAt(epoch: number, base: number): number {
    const t = Math.min(epoch, this.totalIters) / this.totalIters;
    return base * (this.startFactor + (this.endFactor - this.startFactor) * t);
  }
}

/**
 * lr = base·lrLambda(epoch), one function for all groups or one per group.
 *
 * @example
 * const sched = new optim.LambdaLR(opt, (epoch) => 0.95 ** epoch);
 */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: ((epoch: number) => number)[];

  constructor(optimizer: Optimizer<WithLr>, lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[]) {
    super(optimizer);
    const n = optimizer.paramGroups.length;
    this.lambdas = Array.isArray(lrLambda) ? [...lrLambda] : Array.from({ length: n }, () => lrLambda);
    check(this.lambdas.length === n && this.lambdas.every((f) => typeof f === 'function'), 'LambdaLR', () =>
      `needs one function, or one per param group (${n}), got ${Array.isArray(lrLambda) ? `${lrLambda.length}` : typeof lrLambda}`);
    this.start();
  }

  protected lrAt(epoch: number, base: number, group: number): number {
    const f = this.lambdas[group]!(epoch);
    check(Number.isFinite(f), 'LambdaLR', () => `lrLambda(${epoch}) returned ${f}, not a finite number`);
    return base * f;
  }
}

/**
 * Runs `schedulers` one after another, switching at the `milestones` (epochs); each starts from
 * its own epoch 0, as PyTorch's SequentialLR. Step only this one.
 *
 * @example
 * const warmup = new optim.LinearLR(opt, { startFactor: 0.1, totalIters: 100 });
 * const decay = new optim.CosineAnnealingLR(opt, { tMax: steps - 100 });
 * const sched = new optim.SequentialLR(opt, [warmup, decay], [100]);
 */
export class SequentialLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<WithLr>,
    readonly schedulers: readonly LRScheduler[],
    readonly milestones: readonly number[],
  ) {
    super(optimizer);
    check(Array.isArray(schedulers) && schedulers.length > 0 && schedulers.every((s) => s instanceof LRScheduler && s.optimizer === optimizer), 'SequentialLR', () =>
      'needs a non-empty list of schedulers, all created on this optimizer');
    check(Array.isArray(milestones) && milestones.length === schedulers.length - 1, 'SequentialLR', () =>
      `needs ${schedulers.length - 1} milestones for ${schedulers.length} schedulers, got ${JSON.stringify(milestones)}`);
    check(milestones.every((m, i) => Number.isInteger(m) && m > (i === 0 ? 0 : milestones[i - 1]!)), 'SequentialLR', () =>
      `milestones must be increasing positive integers, got ${JSON.stringify(milestones)}`);
    this.start();
  }

  protected lrAt(epoch: number, _base: number, group: number): number {
    const active = this.milestones.filter((m) => epoch >= m).length;
    const from = active === 0 ? 0 : this.milestones[active - 1]!;
    return this.schedulers[active]!.lrsAt(epoch - from)[group]!;
  }
}
