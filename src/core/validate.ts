import { DTYPES } from './dtype.js';
import { TsgradError, check, fmt } from './errors.js';
import type { Tensor } from './tensor.js';

// The one place public entry points check what they were given, before any op runs: a bad
// argument becomes a TsgradError naming the call, never a TypeError from deep inside.

/** The most elements one tensor may hold (typed arrays and GPU indices are 32-bit). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * Whether `v` is a tensor, recognised by its marker rather than by class, so a tensor from
 * another copy of the package counts too.
 *
 * @example
 * if (isTensor(v)) v.dispose();
 */
export function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && (v as { _isTensor?: unknown })._isTensor === true;
}

/** What `v` is, for an error message: `a [2,3] float32 tensor`, `null`, `an array`, `string 'x'`. */
export function describeValue(v: unknown): string {
  if (isTensor(v)) return v.isDisposed ? `a disposed tensor of shape ${fmt(v.shape)}` : `a ${fmt(v.shape)} ${v.dtype} tensor`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v;
}

/** True for `{ ... }` literals (not arrays, tensors, typed arrays or class instances). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Errors unless `v` is a live tensor. */
export function assertTensor(op: string, v: unknown, name?: string): asserts v is Tensor {
  if (!isTensor(v)) {
    throw new TsgradError(op, `expected a Tensor, got ${describeValue(v)}${name ? ` (${name})` : ''}${Array.isArray(v) ? '; wrap it with tensor()' : ''}`);
  }
  if (v.isDisposed) throw new TsgradError(op, `${name ?? 'a tensor'} of shape ${fmt(v.shape)} was disposed and cannot be used`);
}

/** Errors unless every tensor lives on one backend. */
export function assertSameBackend(op: string, ...ts: Tensor[]): void {
  const names = [...new Set(ts.map((t) => t.backend))];
  check(names.length <= 1, op, () => `tensors are on different backends (${names.map((n) => `'${n}'`).join(' and ')}); move them with await t.to('${names[0]}')`);
}

/** Errors unless `v` is a non-empty list of live tensors. */
export function assertTensorList(op: string, v: unknown, name = 'tensors'): asserts v is readonly Tensor[] {
  check(Array.isArray(v), op, () => `${name} must be an array of tensors, got ${describeValue(v)}`);
  check(v.length > 0, op, () => `${name} must hold at least one tensor`);
  v.forEach((t, i) => assertTensor(op, t, `${name}[${i}]`));
}

/** Errors when an options object holds a key the call does not take (a misspelt or snake_case option would be ignored). */
export function assertKnownKeys(op: string, opts: object, keys: readonly string[]): void {
  const unknown = Object.keys(opts).filter((k) => !keys.includes(k));
  check(unknown.length === 0, op, () => `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; it takes ${keys.join(', ')}`);
}

/** Errors unless `v` is an integer. */
export function assertInt(op: string, v: unknown, name: string): asserts v is number {
  check(Number.isInteger(v), op, () => `${name} must be an integer, got ${describeValue(v)}`);
}

/** Errors unless `shape` lists non-negative integers whose product fits in a tensor. */
export function assertNewShape(op: string, shape: unknown): asserts shape is number[] {
  check(Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0), op, () =>
    `shape ${Array.isArray(shape) ? fmt(shape) : typeof shape === 'number' ? shape : describeValue(shape)} must be a list of non-negative integers`);
  const size = shape.reduce((p: number, d: number) => p * d, 1);
  check(size <= MAX_ELEMENTS, op, () => `shape ${fmt(shape)} holds ${size} elements; a tensor holds at most ${MAX_ELEMENTS}`);
}

/**
 * Errors unless every value of the int32 `index` lies in [0, size), with `message(bad)`.
 * Synchronous backends check the values here; GPU backends cannot read them back synchronously.
 */
export function assertIndexRange(op: string, index: Tensor, size: number, message: (bad: number) => string): void {
  if (!index._backend.readSync) return;
  // A broadcast index (an embedding's row index spread along the row, stride 0) holds only the
  // values of its dims that are not broadcast: read those, not the whole expanded shape.
  const shape = index.shape.map((d, i) => (index.strides[i] === 0 ? Math.min(d, 1) : d));
  const distinct = shape.some((d, i) => d !== index.shape[i]) ? index._viewAs(shape, index.strides, index.offset) : index;
  const values = distinct.dataSync();
  if (distinct !== index) distinct.dispose();
  // A plain loop: this runs on every embedding lookup, and TypedArray.find's callback costs more than the test.
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < 0 || v >= size) check(false, op, () => message(v));
  }
}

/**
 * Errors unless an int32 sum over `axes` fits in int32 (PyTorch would widen to int64, which
 * tsgrad lacks): checked exactly in float64 on synchronous backends that have it.
 */
export function assertIntSumFits(op: string, x: Tensor, axes: readonly number[]): void {
  const b = x._backend;
  if (!b.readSync || !b.dtypes.includes('float64') || x.size === 0) return;
  const wide = x.cast('float64');
  const sums = wide.sum([...axes]);
  const values = sums.dataSync();
  wide.dispose();
  sums.dispose();
  const bad = values.find((v) => v < -(2 ** 31) || v >= 2 ** 31);
  check(bad === undefined, op, () => `the int32 sum of ${fmt(x.shape)} over axes ${fmt(axes)} is ${bad}, beyond int32; cast first with t.cast('float64') or t.cast('float32')`);
}

/** The kinds of argument a public entry point takes; `?` marks an optional one. */
export type ArgKind =
  | 'tensor' | 'tensor?' | 'tensors' | 'operand' | 'number' | 'int' | 'int?' | 'axes' | 'axes?' | 'bool?' | 'numbers' | 'dims'
  | 'ranges' | 'dtype' | 'object?' | 'bound?';

/** An argument's name and kind, as `'other:operand'`. */
export type ArgSpec = `${string}:${ArgKind}`;

const KIND_TEXT: Record<string, string> = {
  tensors: 'a non-empty array of tensors',
  number: 'a number',
  int: 'an integer',
  axes: 'a number or a list of numbers',
  bool: 'a boolean',
  numbers: 'a list of numbers',
  dims: 'a list of numbers or numbers as arguments (reshape([2, 3]) or reshape(2, 3))',
  ranges: 'a list of [start, end] or [start, end, step] integer ranges',
  dtype: `one of ${DTYPES.join(', ')}`,
  object: 'an options object',
  bound: 'a Tensor, a number or null',
};

const isNumberList = (v: unknown) => Array.isArray(v) && v.every((d) => typeof d === 'number');

function fits(kind: string, v: unknown): boolean {
  switch (kind) {
    case 'tensor': return isTensor(v);
    case 'tensors': return Array.isArray(v) && v.length > 0 && v.every(isTensor);
    case 'operand': return isTensor(v) || typeof v === 'number';
    case 'number': return typeof v === 'number';
    case 'int': return Number.isInteger(v);
    case 'axes': return typeof v === 'number' || isNumberList(v);
    case 'bool': return typeof v === 'boolean';
    case 'numbers':
    case 'dims': return isNumberList(v);
    case 'ranges': return Array.isArray(v) && v.every((r) => Array.isArray(r) && (r.length === 2 || r.length === 3) && r.every((d) => Number.isInteger(d)));
    case 'dtype': return (DTYPES as readonly unknown[]).includes(v);
    case 'object': return isPlainObject(v);
    case 'bound': return v === null || typeof v === 'number' || isTensor(v);
    default: return false;
  }
}

/** An `ArgSpec` taken apart once, so a check on every call splits no strings. */
export interface ParsedArg {
  readonly name: string;
  readonly kind: string;
  readonly optional: boolean;
}

/** Parses `specs` for `checkArg`. */
export function parseArgSpecs(specs: readonly ArgSpec[]): ParsedArg[] {
  return specs.map((spec) => {
    const [name, k] = spec.split(':') as [string, string];
    const optional = k.endsWith('?');
    return { name, kind: optional ? k.slice(0, -1) : k, optional };
  });
}

/** Checks one argument `v` against its parsed spec, naming it and what it was when it does not fit. */
export function checkArg(op: string, arg: ParsedArg, v: unknown): void {
  const { name, kind, optional } = arg;
  if (optional && v === undefined) return;
  if (!fits(kind, v)) {
    const tensorKind = kind === 'tensor' || kind === 'operand';
    throw new TsgradError(op, tensorKind
      ? `expected a Tensor${optional ? ' or nothing' : ''}, got ${describeValue(v)} (${name}${kind === 'operand' ? '; a number also works' : ''})${Array.isArray(v) ? '; wrap it with tensor()' : ''}`
      : `${name} must be ${KIND_TEXT[kind]}, got ${describeValue(v)}`);
  }
  if (kind === 'tensors') (v as unknown[]).forEach((t, j) => assertTensor(op, t, `${name}[${j}]`));
  else if (isTensor(v)) assertTensor(op, v, name);
}

/** Checks `args` against parsed specs; a 'dims' argument takes the rest, as one list or one by one (PyTorch allows both). */
export function checkParsedArgs(op: string, args: readonly unknown[], parsed: readonly ParsedArg[]): void {
  for (let i = 0; i < parsed.length; i++) {
    const arg = parsed[i]!;
    if (arg.kind === 'dims') {
      const rest = args.slice(i);
      checkArg(op, arg, rest.length === 1 && Array.isArray(rest[0]) ? rest[0] : rest);
    } else {
      checkArg(op, arg, args[i]);
    }
  }
}

/** Checks `args` against `specs`, naming the first bad argument and what it was. */
export function checkArgs(op: string, args: readonly unknown[], specs: readonly ArgSpec[]): void {
  checkParsedArgs(op, args, parseArgSpecs(specs));
}
