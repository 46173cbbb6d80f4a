import { noGrad } from '../core/autograd.js';
import { backendByName } from '../core/backend.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import { keep, scope } from '../core/scope.js';
import { backendOf, isTensor, moveStorage_ } from '../core/seams.js';
import type { Tensor } from '../core/tensor.js';
import { assertTensor, describeValue, isPlainObject } from '../core/validate.js';

/** Per-parameter state: a step counter and named tensors (moments, momentum buffer). */
export interface ParamState {
  step: number;
  tensors: Record<string, Tensor>;
}

/** A group of parameters sharing hyperparameters (PyTorch's param_groups). */
export type ParamGroup<H> = H & { params: Tensor[] };

/** What has parameters to optimize: an nn.Module. */
export interface ParameterSource {
  /** The tensors to optimize. */
  parameters(): Iterable<Tensor>;
}

/** A module (its `parameters()` are taken, as `new optim.Adam(model)`), parameters, or groups of them with hyperparameters overriding the defaults. */
export type ParamsInput<H> = ParameterSource | Iterable<Tensor> | Iterable<{ params: Iterable<Tensor> } & Partial<H>>;

/** A serializable snapshot: state by parameter index (in group order) and the groups' hyperparameters. */
export interface OptimizerStateDict<H> {
  state: Record<number, { step: number } & Record<string, Tensor | number>>;
  paramGroups: (H & { params: number[] })[];
}

/**
 * Base of the optimizers. State is keyed by the parameter itself and created on its first
 * update, so only parameters that require grad and received a gradient ever get state.
 *
 * Frozen parameters: a parameter with requiresGrad false may be passed (so
 * `new Adam(model.parameters())` works after freezing), but `step()` never reads or writes
 * it, even if it still holds a `.grad`; it gets no state. Unfreezing it later makes it train.
 */
export abstract class Optimizer<H extends object> {
  readonly paramGroups: ParamGroup<H>[];
  protected readonly state = new Map<Tensor, ParamState>();

  /** `defaults` are the optimizer's own values, `opts` the caller's overrides (checked by name). */
  constructor(input: ParamsInput<H>, defaults: H, opts: Partial<H> = {}) {
    const op = this.constructor.name;
    const params = paramsOf(op, input);
    check(isPlainObject(opts), op, () => `options must be an object such as { lr: 0.01 }, got ${describeValue(opts)}`);
    const known = Object.keys(defaults);
    const checkKeys = (o: object, where: string) => {
      for (const k of Object.keys(o)) {
        check(k === 'params' || known.includes(k), op, () => `unknown hyperparameter '${k}'${where}; known: ${known.join(', ')}`);
      }
    };
    checkKeys(opts, '');
    const items = [...params] as (Tensor | ({ params: Iterable<Tensor> } & Partial<H>))[];
    const groups = items.length > 0 && isTensor(items[0]) ? [{ params: items as Tensor[] }] : (items as ({ params: Iterable<Tensor> } & Partial<H>)[]);
    const seen = new Set<Tensor>();
    const base = { ...defaults, ...opts };
    this.paramGroups = groups.map((g, gi) => {
      check(typeof g === 'object' && g !== null && !isTensor(g) && isIterable(g.params), op, () =>
        `param group ${gi} must be { params, ...hyperparameters }, got ${describeValue(g)}`);
      checkKeys(g, ` in param group ${gi}`);
      const ps = [...g.params];
      for (const p of ps) {
        check(isTensor(p), op, () => `param group ${gi} holds ${describeValue(p)}, which is not a tensor`);
        assertTensor(op, p, `a parameter in group ${gi}`);
        check(p.isLeaf, op, () => `can only optimize leaf tensors; a tensor of shape ${fmt(p.shape)} is the result of '${p.gradFn?.op}'`);
        check(!seen.has(p), op, () => `a parameter of shape ${fmt(p.shape)} appears twice; each parameter belongs to one group`);
        seen.add(p);
      }
      const group = { ...base, ...g, params: ps } as ParamGroup<H>;
      this.validate(group);
      return group;
    });
    check(seen.size > 0, op, () => 'got an empty parameter list');
  }

  /** Checks a group's hyperparameters, throwing a TsgradError naming the bad one. */
  protected abstract validate(group: H): void;

  /**
   * The state tensors a parameter has once it has stepped:
   * `required` ones a loaded state must hold (a missing moment would restart at zero while the
   * step count goes on), and `optional` ones it may hold. Anything else is refused on load.
   */
  protected abstract stateKeys(): { required: readonly string[]; optional: readonly string[] };

  /** Updates one parameter in place from its gradient; runs inside noGrad and a scope. */
  protected abstract update(p: Tensor, grad: Tensor, group: H, state: ParamState): void;

  /**
   * Applies one update to every parameter that requires grad and has a gradient. Every gradient
   * is checked first, so a bad one fails the step before any parameter, moment or step count
   * changes.
   */
  step(): void {
    this.assertStateBeside();
    const op = `${this.constructor.name}.step`;
    const work: [Tensor, Tensor, ParamGroup<H>][] = [];
    this.paramGroups.forEach((group, gi) => group.params.forEach((p, pi) => {
      const where = `parameter ${pi} of group ${gi}`;
      check(!p.isDisposed, op, () => `${where} (shape ${fmt(p.shape)}) was disposed; build the optimizer over the live parameters`);
      if (!p.requiresGrad || !p.grad) return;
      const g: unknown = p.grad;
      assertTensor(op, g, `the gradient of ${where}`);
      check(g.shape.length === p.shape.length && g.shape.every((d, i) => d === p.shape[i]), op, () =>
        `the gradient of ${where} has shape ${fmt(g.shape)} but the parameter has shape ${fmt(p.shape)}`);
      check(g.dtype === p.dtype && g.backend === p.backend, op, () =>
        `the gradient of ${where} is ${g.dtype} on '${g.backend}' but the parameter is ${p.dtype} on '${p.backend}'`);
      work.push([p, g, group]);
    }));
    noGrad(() => {
      for (const [p, grad, group] of work) {
        let s = this.state.get(p);
        if (!s) this.state.set(p, (s = { step: 0, tensors: {} }));
        s.step++;
        scope(() => this.update(p, grad, group, s));
      }
    });
  }

  /**
   * Moves the state tensors (moments, momentum buffers) to `backend`, after `await
   * model.to(backend)` moved the parameters; an optimizer created after the move needs nothing.
   *
   * @example
   * await model.to('webgpu'); await opt.to('webgpu');
   */
  async to(backend: string): Promise<this> {
    const target = backendByName(backend);
    const moving = this.stateTensors().filter((t) => backendOf(t) !== target);
    const values = await Promise.all(moving.map((t) => t.data()));
    moving.forEach((t, i) => moveStorage_(t, target, values[i]!));
    return this;
  }

  /** Refuses a step whose parameters moved backend without their state (see `to`). */
  private assertStateBeside(): void {
    for (const [p, s] of this.state) {
      const away = Object.values(s.tensors).find((t) => backendOf(t) !== backendOf(p));
      check(!away, this.constructor.name, () =>
        `a parameter of shape ${fmt(p.shape)} is on '${p.backend}' but its optimizer state is on '${away!.backend}'; after await model.to('${p.backend}'), call await optimizer.to('${p.backend}')`);
    }
  }

  /** Creates a state tensor (zeros like p) that survives scopes. */
  protected stateTensor(s: ParamState, key: string, init: () => Tensor): Tensor {
    return (s.tensors[key] ??= keep(init()));
  }

  /** Disposes every parameter's gradient and sets it to null (PyTorch's set_to_none). */
  zeroGrad(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** Every state tensor, for memory accounting. */
  stateTensors(): Tensor[] {
    return [...this.state.values()].flatMap((s) => Object.values(s.tensors));
  }

  /** The state of parameter `p`, or undefined if it has none. */
  stateOf(p: Tensor): Readonly<ParamState> | undefined {
    return this.state.get(p);
  }

  private allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** A snapshot: state tensors are copies, parameters are referred to by index. */
  stateDict(): OptimizerStateDict<H> {
    const index = new Map(this.allParams().map((p, i) => [p, i]));
    const state: OptimizerStateDict<H>['state'] = {};
    noGrad(() => {
      for (const [p, s] of this.state) {
        const entry: { step: number } & Record<string, Tensor | number> = { step: s.step };
        for (const [k, t] of Object.entries(s.tensors)) entry[k] = t.clone();
        state[index.get(p)!] = entry;
      }
    });
    let next = 0;
    // structuredClone: a snapshot must not share arrays (betas) with the live optimizer.
    const paramGroups = this.paramGroups.map(({ params, ...h }) => ({ ...(structuredClone(h) as unknown as H), params: params.map(() => next++) }));
    return { state, paramGroups };
  }

  /**
   * Restores a snapshot taken from an optimizer over parameters of the same shapes, in the same
   * groups. Each parameter's state must hold exactly the tensors this optimizer keeps (Adam:
   * `expAvg` and `expAvgSq`; SGD: `momentumBuffer`, which may be absent as in PyTorch); the whole
   * snapshot is checked before anything changes.
   */
  loadStateDict(dict: OptimizerStateDict<H>): void {
    check(typeof dict === 'object' && dict !== null && Array.isArray(dict.paramGroups) && typeof dict.state === 'object' && dict.state !== null, 'loadStateDict', () =>
      `expected { state, paramGroups } as stateDict() returns, got ${describeValue(dict)}`);
    dict.paramGroups.forEach((g, i) => check(typeof g === 'object' && g !== null && Array.isArray(g.params), 'loadStateDict', () =>
      `param group ${i} of the state dict must be { params: number[], ...hyperparameters }, got ${describeValue(g)}`));
    check(dict.paramGroups.length === this.paramGroups.length, 'loadStateDict', () =>
      `the state dict has ${dict.paramGroups.length} param groups but the optimizer has ${this.paramGroups.length}`);
    dict.paramGroups.forEach((g, i) => check(g.params.length === this.paramGroups[i]!.params.length, 'loadStateDict', () =>
      `param group ${i} has ${g.params.length} parameters in the state dict but ${this.paramGroups[i]!.params.length} in the optimizer`));
    dict.paramGroups.forEach(({ params: _, ...h }, i) => this.validate({ ...this.paramGroups[i]!, ...structuredClone(h) } as H));
    const params = this.allParams();
    const name = this.constructor.name;
    const { required, optional } = this.stateKeys();
    const known = [...required, ...optional];
    for (const [key, entry] of Object.entries(dict.state)) {
      const p = String(Number(key)) === key ? params[Number(key)] : undefined;
      check(p, 'loadStateDict', () => `state for parameter ${key}, but the optimizer has ${params.length} parameters (indices 0 to ${params.length - 1})`);
      check(typeof entry === 'object' && entry !== null && Number.isInteger(entry.step) && entry.step >= 0, 'loadStateDict', () =>
        `state[${key}] must be { step, ...tensors } with an integer step ≥ 0, got ${describeValue(entry)}`);
      for (const [k, v] of Object.entries(entry)) {
        if (k === 'step') continue;
        check(known.includes(k), 'loadStateDict', () =>
          `state[${key}] holds '${k}', which is not part of ${name}'s state (it keeps ${known.join(', ')}); is this another optimizer's checkpoint?`);
        assertTensor('loadStateDict', v, `state[${key}].${k}`);
        check(v.backend === p.backend, 'loadStateDict', () => `state[${key}].${k} is on '${v.backend}' but parameter ${key} is on '${p.backend}'`);
        if (v.shape.length !== p.shape.length || v.shape.some((d, j) => d !== p.shape[j])) {
          throw new TsgradError('loadStateDict', `state[${key}].${k} has shape ${fmt(v.shape)} but parameter ${key} has shape ${fmt(p.shape)}`);
        }
      }
      for (const k of required) {
        check(Object.hasOwn(entry, k), 'loadStateDict', () =>
          `state[${key}] lacks '${k}'; ${name} keeps ${required.join(' and ')} for every parameter it has stepped, and a missing one would restart at zero while the step count (${entry.step}) goes on`);
      }
    }
    for (const s of this.state.values()) for (const t of Object.values(s.tensors)) t.dispose();
    this.state.clear();
    noGrad(() => {
      for (const [key, entry] of Object.entries(dict.state)) {
        const p = params[Number(key)]!;
        const s: ParamState = { step: entry.step, tensors: {} };
        for (const [k, v] of Object.entries(entry)) {
          if (k !== 'step') s.tensors[k] = keep((v as Tensor).dtype === p.dtype ? (v as Tensor).clone() : (v as Tensor).cast(p.dtype));
        }
        this.state.set(p, s);
      }
    });
    dict.paramGroups.forEach(({ params: _, ...h }, i) => Object.assign(this.paramGroups[i]!, structuredClone(h)));
  }
}

/** A module's parameters, or the iterable as given; a clear error for anything else. */
function paramsOf<H>(op: string, input: ParamsInput<H>): Iterable<Tensor | ({ params: Iterable<Tensor> } & Partial<H>)> {
  if (input && typeof (input as { parameters?: unknown }).parameters === 'function') return (input as ParameterSource).parameters();
  check(input != null && typeof (input as Iterable<unknown>)[Symbol.iterator] === 'function' && !isTensor(input), op, () =>
    `params must be a Module, an iterable of tensors such as model.parameters(), or a list of param groups, got ${describeValue(input)}${isTensor(input) ? ' (wrap it in an array: [t])' : ''}`);
  return input as Iterable<Tensor>;
}

function isIterable(x: unknown): x is Iterable<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** Throws unless `value` is a finite number ≥ `min` (and < `below` when given). */
export function checkRange(op: string, name: string, value: number, min: number, below?: number): void {
  check(typeof value === 'number' && Number.isFinite(value) && value >= min && (below === undefined || value < below), op, () =>
    `${name} must be ${below === undefined ? `≥ ${min}` : `in [${min}, ${below})`}, got ${typeof value === 'number' ? value : describeValue(value)}`);
}
