import { TsgradError, check } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { describeValue, isPlainObject } from '../core/validate.js';
import { Module } from './module.js';

/**
 * Holds submodules in a list, named `0`, `1`... as PyTorch's `nn.ModuleList`; it has no forward
 * of its own, so a model loops over it.
 *
 * @example
 * this.h = new nn.ModuleList([new Block(), new Block()]); // h.0.*, h.1.*
 * for (const block of this.h) x = block.forward(x);
 */
export class ModuleList<T extends Module = Module> extends Module implements Iterable<T> {
  #length = 0;

  constructor(modules: Iterable<T> = []) {
    super();
    check(modules !== null && typeof (modules as Iterable<T>)[Symbol.iterator] === 'function', 'ModuleList', () =>
      `expects an array of modules, got ${describeValue(modules)}`);
    for (const m of modules) this.append(m);
  }

  get length(): number {
    return this.#length;
  }

  /** Adds `module` at the end; returns this. */
  append(module: T): this {
    check(module instanceof Module, 'ModuleList', () => `item ${this.#length} must be a Module, got ${describeValue(module)}`);
    this.registerModule(String(this.#length), module);
    this.#length++;
    return this;
  }

  /** The i-th module (negative counts from the end), as it is now (after `applyLoRA` swaps). */
  at(i: number): T {
    check(Number.isInteger(i) && i >= -this.#length && i < this.#length, 'ModuleList', () =>
      `index ${describeValue(i)} is out of range for ${this.#length} modules`);
    return (this as unknown as Record<string, T>)[String(i < 0 ? i + this.#length : i)]!;
  }

  /** The modules in order, as they are now. */
  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.at(i);
  }

  forward(): Tensor {
    return noForward('ModuleList');
  }
}

/**
 * Holds submodules by name, as PyTorch's `nn.ModuleDict`; names become path segments.
 *
 * @example
 * const heads = new nn.ModuleDict({ cls: new nn.Linear(8, 2), reg: new nn.Linear(8, 1) });
 * heads.get('cls').forward(x);
 */
export class ModuleDict<T extends Module = Module> extends Module {
  #keys: string[] = [];

  constructor(modules: Record<string, T> = {}) {
    super();
    check(isPlainObject(modules), 'ModuleDict', () => `expects an object of modules by name, got ${describeValue(modules)}`);
    for (const [name, m] of Object.entries(modules)) this.set(name, m);
  }

  /** Adds or replaces the module under `name`; returns this. */
  set(name: string, module: T): this {
    check(typeof name === 'string' && /^[^.]+$/.test(name) && !RESERVED.has(name), 'ModuleDict', () =>
      `name ${describeValue(name)} must be a non-empty string without '.' and not one of Module's own fields`);
    check(module instanceof Module, 'ModuleDict', () => `'${name}' must be a Module, got ${describeValue(module)}`);
    if (!this.#keys.includes(name)) this.#keys.push(name);
    this.registerModule(name, module);
    return this;
  }

  /** The module under `name`. */
  get(name: string): T {
    check(this.has(name), 'ModuleDict', () => `no module named ${describeValue(name)}; names: ${this.#keys.join(', ') || '(none)'}`);
    return (this as unknown as Record<string, T>)[name]!;
  }

  /** True when a module is stored under `name`. */
  has(name: string): boolean {
    return this.#keys.includes(name);
  }

  /** The names in insertion order. */
  keys(): string[] {
    return [...this.#keys];
  }

  /** `[name, module]` pairs in insertion order, as PyTorch's `items()`. */
  items(): [string, T][] {
    return this.#keys.map((k) => [k, this.get(k)]);
  }

  /** The modules in insertion order. */
  values(): T[] {
    return this.#keys.map((k) => this.get(k));
  }

  get size(): number {
    return this.#keys.length;
  }

  forward(): Tensor {
    return noForward('ModuleDict');
  }
}

// Names that would shadow a Module's own members.
const RESERVED = new Set(['training', 'forward', 'get', 'set', 'has', 'keys', 'items', 'values', 'size', 'append', 'at', 'length', 'constructor', '__proto__']);

function noForward(name: string): never {
  throw new TsgradError(name, `${name} has no forward; call its modules' forward in a loop`);
}
