import { noGrad } from '../core/autograd.js';
import { backendByName } from '../core/backend.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import { type DType, isFloat, isHalf } from '../core/dtype.js';
import { backendOf, castInPlace_, isTensor, moveStorage_, storedData, wrapStorage } from '../core/seams.js';
import { Tensor } from '../core/tensor.js';
import { describeValue, isPlainObject } from '../core/validate.js';
import { Parameter } from './parameter.js';

/** What a module's forward returns: a tensor, or a tuple such as MultiheadAttention's `[output, weights]`. */
export type ModuleOutput = Tensor | readonly (Tensor | null)[];

/** Any module, whatever its forward returns. */
export type AnyModule = Module<ModuleOutput>;

/**
 * A child module's place in its parent, so `applyLoRA` can swap it in place. `module` is typed as
 * a tensor-returning module; a child that returns a tuple (`MultiheadAttention`) still appears.
 */
export interface ChildSlot {
  name: string;
  module: Module;
  /** Puts `next` where this child was. */
  replace(next: Module): void;
}

type Entry = { name: string; value: Parameter | Module; replace: (next: Module) => void };

/** Keys `loadStateDict` did not find in the model or in the state dict. */
export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Base class of layers and models. Parameters and submodules are found from the instance's own
 * properties (also inside arrays, named `layers.0`), so a model is plain class fields:
 *
 * @example
 * class MLP extends nn.Module {
 *   layers = [new nn.Linear(4, 8), new nn.Linear(8, 2)];
 *   forward(x: Tensor) { return this.layers[1]!.forward(this.layers[0]!.forward(x).relu()); }
 * }
 * new MLP().namedParameters().map(([n]) => n); // ['layers.0.weight', 'layers.0.bias', ...]
 */
export abstract class Module<Out extends ModuleOutput = Tensor> {
  /** Training mode (dropout active). Changed only by `train()`/`eval()`, which do nothing else. */
  training = true;

  /**
   * The computation of this module: a tensor by default; a module whose PyTorch twin returns a
   * tuple says so in `Out` (`MultiheadAttention extends Module<[Tensor, Tensor | null]>`).
   */
  abstract forward(...inputs: unknown[]): Out;

  /** Own parameters and submodules, in property order; arrays contribute `name.i` entries. */
  private entries(): Entry[] {
    const out: Entry[] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Parameter || value instanceof Module) {
        out.push({ name: key, value, replace: (next) => ((this as Record<string, unknown>)[key] = next) });
      } else if (Array.isArray(value)) {
        value.forEach((v: unknown, i) => {
          if (v instanceof Parameter || v instanceof Module) out.push({ name: `${key}.${i}`, value: v, replace: (next) => (value[i] = next) });
        });
      }
    }
    return out;
  }

  /** Adds a submodule under `name` (for names chosen at run time, as Sequential's `0`, `1`...). */
  registerModule(name: string, module: AnyModule): void {
    check(typeof name === 'string' && /^[^.]+$/.test(name), 'registerModule', () => `name ${describeValue(name)} must be a non-empty string without '.'`);
    check(module instanceof Module, 'registerModule', () => `'${name}' must be an nn.Module, got ${describeValue(module)}`);
    (this as Record<string, unknown>)[name] = module;
  }

  /** Adds a parameter under `name`. */
  registerParameter(name: string, param: Parameter): void {
    check(typeof name === 'string' && /^[^.]+$/.test(name), 'registerParameter', () => `name ${describeValue(name)} must be a non-empty string without '.'`);
    check(param instanceof Parameter, 'registerParameter', () =>
      `'${name}' must be an nn.Parameter, got ${describeValue(param)}${param instanceof Tensor ? '; wrap it: new nn.Parameter(t)' : ''}`);
    (this as Record<string, unknown>)[name] = param;
  }

  /** Direct submodules with their slots. */
  childSlots(): ChildSlot[] {
    return this.entries()
      .filter((e): e is Entry & { value: Module } => e.value instanceof Module)
      .map((e) => ({ name: e.name, module: e.value, replace: e.replace }));
  }

  /**
   * This module and every submodule, with dotted paths ('' for this one); each module once. They
   * are typed as tensor-returning modules, as `ChildSlot` is.
   */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    const self = this as unknown as Module;
    if (seen.has(self)) return [];
    seen.add(self);
    const out: [string, Module][] = [[prefix, self]];
    for (const c of this.childSlots()) out.push(...c.module.namedModules(join(prefix, c.name), seen));
    return out;
  }

  /** This module and every submodule, each once. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Every parameter with its dotted path (`layers.0.weight`); a shared parameter appears once. */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    for (const [path, m] of this.namedModules()) {
      for (const e of m.entries()) {
        if (e.value instanceof Parameter && !seen.has(e.value)) {
          seen.add(e.value);
          out.push([join(path, e.name), e.value]);
        }
      }
    }
    return out;
  }

  /** Every parameter, each once (what an optimizer takes). */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Number of scalars in the parameters; `trainableOnly` counts those with requiresGrad. */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.parameters().reduce((n, p) => (opts.trainableOnly && !p.requiresGrad ? n : n + p.size), 0);
  }

  /** Sets training mode on this module and all submodules; returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** `train(false)`: dropout off. It does not merge LoRA weights or touch anything else. */
  eval(): this {
    return this.train(false);
  }

  /** Stops gradients for every parameter and drops gradients they already hold; returns this. */
  freeze(): this {
    for (const p of this.parameters()) {
      p.requiresGrad = false;
      p.grad?.dispose();
      p.grad = null;
    }
    return this;
  }

  /**
   * Lets every parameter train again; returns this. float16/bfloat16 parameters stay frozen (they
   * cannot require grad): `await model.to({ dtype: 'float32' })` first to train them.
   */
  unfreeze(): this {
    const fixed = new Set(this.modules().flatMap((m) => m.fixedParameters()));
    for (const p of this.parameters()) if (!fixed.has(p) && !isHalf(p.dtype)) p.requiresGrad = true;
    return this;
  }

  /**
   * Parameters that never train, which `unfreeze()` leaves alone, stored in a format of their own
   * that `to({ dtype })` leaves alone too (a quantized layer's packed weight and scales).
   */
  protected fixedParameters(): readonly Parameter[] {
    return [];
  }

  /**
   * The parameters by dotted path, as detached tensors sharing their storage (PyTorch's
   * state_dict). Refused while a LoRA layer is merged: its base weight then holds W0 + ΔW, and
   * loading that beside the adapters would apply the update twice.
   */
  stateDict(): Record<string, Tensor> {
    for (const [path, m] of this.namedModules()) m.assertUnmerged('stateDict', path);
    return Object.fromEntries(this.namedParameters().map(([n, p]) => [n, p.detach()]));
  }

  /**
   * Copies `state` into the parameters (values cast to each parameter's dtype). Every entry is
   * checked (a live tensor of the parameter's shape, on its backend) before anything is written,
   * so a failed load leaves the model as it was; with `strict` (default) missing or unexpected
   * keys are an error naming them, otherwise they are returned.
   *
   * @example
   * model.loadStateDict(other.stateDict());
   */
  loadStateDict(state: Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    check(isPlainObject(state), 'loadStateDict', () =>
      `state must be an object of tensors by parameter name (as stateDict() returns), got ${describeValue(state)}`);
    check(isPlainObject(opts), 'loadStateDict', () => `options must be an object such as { strict: false }, got ${describeValue(opts)}`);
    const strict = opts.strict ?? true;
    for (const [path, m] of this.namedModules()) m.assertUnmerged('loadStateDict', path);
    const params = this.namedParameters();
    const names = new Set(params.map(([n]) => n));
    const result: LoadResult = {
      missingKeys: params.map(([n]) => n).filter((n) => !(n in state)),
      unexpectedKeys: Object.keys(state).filter((k) => !names.has(k)),
    };
    if (strict && (result.missingKeys.length || result.unexpectedKeys.length)) {
      const parts = [];
      if (result.missingKeys.length) parts.push(`missing keys: ${result.missingKeys.join(', ')}`);
      if (result.unexpectedKeys.length) parts.push(`unexpected keys: ${result.unexpectedKeys.join(', ')}`);
      throw new TsgradError('loadStateDict', `${parts.join('; ')} (pass { strict: false } to load the rest)`);
    }
    const loads = params.filter(([n]) => n in state);
    for (const [n, p] of loads) checkEntry(n, state[n], p);
    noGrad(() => {
      for (const [n, p] of loads) copyAcross(p, state[n]!);
    });
    return result;
  }

  /**
   * `loadStateDict` for a state on any backend (PyTorch's `load_state_dict` copies across
   * devices): entries on another backend are read (awaited) and uploaded to their parameter's
   * backend first, then loaded with the same all-or-nothing checks.
   *
   * @example
   * await cpuModel.loadStateDictAsync(gpuModel.stateDict());
   */
  async loadStateDictAsync(state: Record<string, Tensor>, opts: { strict?: boolean } = {}): Promise<LoadResult> {
    check(isPlainObject(state), 'loadStateDict', () =>
      `state must be an object of tensors by parameter name (as stateDict() returns), got ${describeValue(state)}`);
    const params = new Map(this.namedParameters());
    const moved: Record<string, Tensor> = Object.create(null);
    const made: Tensor[] = [];
    try {
      for (const [name, src] of Object.entries(state)) {
        const p = params.get(name);
        const tensorLike = isTensor(src) && !src.isDisposed;
        if (p && tensorLike && backendOf(src) !== backendOf(p)) {
          const b = backendOf(p);
          const copy = wrapStorage(b, b.upload(await storedData(src)), src.shape, src.dtype);
          made.push(copy);
          moved[name] = copy;
        } else {
          moved[name] = src;
        }
      }
      return this.loadStateDict(moved, opts);
    } finally {
      for (const t of made) t.dispose();
    }
  }

  /**
   * Tensors a module holds that are not parameters (masks, running statistics: PyTorch's
   * buffers), found like parameters from its fields and arrays, with dotted paths. `to()` moves
   * them; `stateDict()` holds parameters only.
   *
   * @example
   * class Causal extends nn.Module { mask = ones([8, 8]).tril(); ... }
   * new Causal().namedBuffers(); // [['mask', tensor]]
   */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const add = (path: string, v: unknown) => {
      if (v instanceof Tensor && !(v instanceof Parameter) && !seen.has(v)) {
        seen.add(v);
        out.push([path, v]);
      }
    };
    for (const [path, m] of this.namedModules()) {
      for (const [key, value] of Object.entries(m)) {
        if (Array.isArray(value)) value.forEach((v: unknown, i) => add(join(path, `${key}.${i}`), v));
        else add(join(path, key), value);
      }
    }
    return out;
  }

  /**
   * Moves every parameter (with its gradient) and buffer to `backend` in place (PyTorch's
   * `model.to`): the objects stay the same, so references to them (an optimizer's) stay valid;
   * move an optimizer's state with `await optimizer.to(backend)`. Refused while a LoRA layer is
   * merged, or when a buffer is the result of a recorded op. `{ dtype }` casts the floating
   * parameters and buffers instead (PyTorch's `model.to(torch.float16)`, see `castTo`), and
   * `{ backend, dtype }` does both.
   *
   * @example
   * await initBackend('webgpu');
   * await model.to('webgpu');
   * await model.to({ dtype: 'float16' }); // a frozen float16 base, about half the bytes
   */
  async to(target: string | { backend?: string; dtype?: DType }): Promise<this> {
    if (typeof target === 'object' && target !== null) {
      const { backend, dtype } = target;
      check(dtype === undefined || ['float32', 'float64', 'float16', 'bfloat16'].includes(dtype), 'to', () =>
        `dtype must be 'float32', 'float64', 'float16' or 'bfloat16', got ${describeValue(dtype)}`);
      if (backend !== undefined) await this.to(backend);
      if (dtype !== undefined) this.castTo(dtype);
      return this;
    }
    return this.moveTo(target);
  }

  /**
   * PyTorch's `module.to(dtype)` (and `half()`): every floating parameter and buffer is cast in
   * place; int32 ones, and the ones `fixedParameters` names, keep theirs. Cast to float16 or
   * bfloat16, parameters become frozen storage (their gradients are dropped).
   */
  private castTo(dtype: DType): void {
    for (const [path, m] of this.namedModules()) m.assertUnmerged('to', path);
    const be = this.parameters()[0] ?? this.namedBuffers()[0]?.[1];
    if (be) check(backendOf(be).dtypes.includes(dtype), 'to', () => `backend '${be.backend}' does not support ${dtype}; supported: ${backendOf(be).dtypes.join(', ')}`);
    const buffers = this.namedBuffers();
    for (const [name, b] of buffers) {
      check(b.isLeaf && !b.isDisposed, 'to', () => `buffer '${name}' ${b.isDisposed ? 'was disposed' : 'is the result of a recorded op'}; create buffers under noGrad or detach() them`);
    }
    const fixed = new Set<Tensor>(this.modules().flatMap((m) => m.fixedParameters()));
    const casting = [...this.parameters(), ...buffers.map(([, b]) => b)].filter((t) => !fixed.has(t) && isFloat(t.dtype));
    for (const t of casting) castInPlace_(t, dtype);
  }

  private async moveTo(backend: string): Promise<this> {
    for (const [path, m] of this.namedModules()) m.assertUnmerged('to', path);
    const target = backendByName(backend);
    const buffers = this.namedBuffers();
    for (const [name, b] of buffers) {
      check(b.isLeaf && !b.isDisposed, 'to', () => `buffer '${name}' ${b.isDisposed ? 'was disposed' : 'is the result of a recorded op'}; create buffers under noGrad or detach() them`);
    }
    const moving = [...this.parameters(), ...buffers.map(([, b]) => b)].filter((p) => backendOf(p) !== target);
    const unsupported = moving.find((p) => !target.dtypes.includes(p.dtype));
    check(!unsupported, 'to', () =>
      `backend '${backend}' does not support ${unsupported!.dtype} (supported: ${target.dtypes.join(', ')}); cast first with await model.to({ dtype: 'float32' })`);
    const values = await Promise.all(moving.map((p) => p.data()));
    const grads = await Promise.all(moving.map((p) => p.grad?.data() ?? null));
    moving.forEach((p, i) => {
      moveStorage_(p, target, values[i]!);
      const g = grads[i];
      if (g && p.grad) moveStorage_(p.grad, target, g);
    });
    return this;
  }

  /** Throws when this module's parameters must not be saved or loaded now (a merged LoRA layer). */
  protected assertUnmerged(_op: string, _path: string): void {}
}

/** A state-dict tensor from another backend can be copied in only if it can be read at once. */
function checkCopyable(name: string, src: Tensor, p: Tensor): void {
  check(backendOf(src) === backendOf(p) || backendOf(src).readSync, 'loadStateDict', () =>
    `'${name}' is on '${src.backend}', which is asynchronous, but the model is on '${p.backend}'; use await model.loadStateDictAsync(state), which moves it, or load it on '${src.backend}' and then await model.to('${p.backend}')`);
}

/** Copies `src` into `p`, uploading it first when it lives on another (synchronous) backend. */
function copyAcross(p: Tensor, src: Tensor): void {
  if (backendOf(src) === backendOf(p)) return void p.copy_(src);
  const b = backendOf(p);
  // Uploaded as its values (a 16-bit tensor's widened exactly); copy_ casts them to p's dtype.
  const moved = wrapStorage(b, b.upload(src.dataSync()), src.shape, isHalf(src.dtype) ? 'float32' : src.dtype);
  p.copy_(moved);
  moved.dispose();
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

/** Errors unless `src` can be copied into parameter `p` (named `name`) without failing midway. */
function checkEntry(name: string, src: unknown, p: Parameter): asserts src is Tensor {
  check(isTensor(src) && !src.isDisposed, 'loadStateDict', () => `'${name}' must be a live tensor, got ${describeValue(src)}`);
  const t = src as Tensor;
  if (!sameShape(t.shape, p.shape)) {
    throw new TsgradError('loadStateDict', `'${name}': shape ${fmt(t.shape)} in the state dict but ${fmt(p.shape)} in the model`);
  }
  checkCopyable(name, t, p);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
