// Random calls across the public API, described as plain data so fast-check can shrink them and
// print the call that broke a promise. Arguments are a mix of plausible values (small tensors of
// any rank, empty and 0-d ones among them, axes, shapes) and junk (null, strings, NaN, disposed
// tensors, symbols...).
import fc from 'fast-check';
import {
  type DType, type Tensor, arange, cat, fromTypedArray, full, grad, gradcheck, gradgradcheck, io, maximum, minimum, nn, noGrad, ones, optim, printGraph,
  rand, randn, scope, stack, tensor, toDot, uniform, where, zeros,
} from '../../src/index.js';
import { tensorMethodSpecs } from '../../src/core/ops/define.js';

/** A tensor to create on the backend under test. */
export interface TensorDesc {
  kind: 'tensor';
  shape: number[];
  dtype: DType;
  /** Values are drawn from small integers so that some int32 tensors are valid indices. */
  values: number[];
  requiresGrad: boolean;
  disposed: boolean;
}

export type ArgDesc = TensorDesc | { kind: 'value'; value: unknown } | { kind: 'list'; items: TensorDesc[] };

const shapeArb = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 });

export const tensorDescArb: fc.Arbitrary<TensorDesc> = fc
  .record({
    shape: shapeArb,
    dtype: fc.constantFrom<DType>('float32', 'float32', 'int32'),
    seed: fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 27, maxLength: 27 }),
    requiresGrad: fc.boolean(),
    disposed: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  })
  .map(({ shape, dtype, seed, requiresGrad, disposed }) => ({
    kind: 'tensor' as const, shape, dtype, values: seed.slice(0, shape.reduce((a, b) => a * b, 1)), requiresGrad: requiresGrad && dtype !== 'int32', disposed,
  }));

const JUNK: unknown[] = [
  null, undefined, true, false, '', 'a', '0', NaN, Infinity, -Infinity, -0, 2.5, -1, 1e-40, 2 ** 31, 2 ** 53, 1n, Symbol('s'),
  {}, [], [[1, 2], [3]], [2, 3], [-1], [0], [1, 2.5], [[0, 2], [1, 3]], [[0, 4, 2]], [[0, 2, 0]], [0, 1], ['a'],
  { approximate: 'tanh' }, { approximate: 'fast' }, { dtype: 'int32' }, { dtype: 'float16' }, { backend: 'nope' }, { strict: false },
  { a: [1, 2] }, { format: 'pt' }, { format: 1 }, { dropout: '0.1' }, { rank: 2, dropout: 0.5 }, { rank: 2, alpha: '16' },
  { 'adapter_config.json': '{}' }, { 'adapter_config.json': 5, 'adapter_model.safetensors': [] },
  { lr: 0.1 }, { lr: -1 }, { betas: [0.9] }, { momentum: 'x' }, { params: 3 }, () => 1, new Uint8Array([1, 2]), new Float32Array(0),
];

export const argArb: fc.Arbitrary<ArgDesc> = fc.oneof(
  { weight: 5, arbitrary: tensorDescArb },
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 3 }).map((value) => ({ kind: 'value' as const, value })) },
  { weight: 2, arbitrary: shapeArb.map((value) => ({ kind: 'value' as const, value })) },
  { weight: 1, arbitrary: fc.array(tensorDescArb, { maxLength: 3 }).map((items) => ({ kind: 'list' as const, items })) },
  { weight: 3, arbitrary: fc.constantFrom(...JUNK).map((value) => ({ kind: 'value' as const, value })) },
);

/** Creates the tensors a call describes, on `backend`. */
export function materialize(d: ArgDesc, backend: string): unknown {
  if (d.kind === 'value') {
    // Options objects name no backend of their own: they get the one under test.
    const v = d.value;
    return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && 'dtype' in v ? { ...v, backend } : v;
  }
  if (d.kind === 'list') return d.items.map((t) => materialize(t, backend));
  const data = d.dtype === 'int32' ? Int32Array.from(d.values) : Float32Array.from(d.values, (v) => v * 0.75);
  const t = fromTypedArray(data, d.shape, { backend, dtype: d.dtype, requiresGrad: d.requiresGrad });
  if (d.disposed) t.dispose();
  return t;
}

/** One public entry point: how to call it, its arity, and the op names its errors may carry. */
export interface Entry {
  name: string;
  arity: number;
  /** Names a TsgradError from this call may carry (the entry point's own, or its documented alias). */
  ops: string[];
  /** The first argument is the receiver of a Tensor method: always a tensor. */
  method?: true;
  call: (args: unknown[], backend: string) => unknown;
}

const method = (name: string, arity: number, ops = [name]): Entry => ({
  name: `Tensor.${name}`, arity: arity + 1, ops, method: true,
  call: ([self, ...rest]) => (self as Record<string, (...a: unknown[]) => unknown>)[name]!(...rest),
});

const fn = (name: string, arity: number, f: (...a: unknown[]) => unknown, ops = [name]): Entry => ({ name, arity, ops, call: (a) => f(...a) });

/** Functions whose options pick a backend: the one under test unless the fuzz gave options. */
const onBackend = (name: string, arity: number, f: (...a: unknown[]) => unknown, ops = [name]): Entry => ({
  name, arity, ops, call: (a, backend) => f(...a.slice(0, arity - 1), a[arity - 1] === undefined ? { backend } : a[arity - 1]),
});

const F = nn.functional;

export const ENTRIES: Entry[] = [
  // Every op's Tensor method, from the one argument specification the ops declare: a new op is
  // fuzzed without an edit here.
  ...[...tensorMethodSpecs()].map(([name, args]) => method(name, args.length)),
  // The Tensor class's own methods.
  ...['detach', 'dataSync', 'arraySync', 'itemSync', 'retainGrad'].map((m) => method(m, 0)),
  method('requiresGrad_', 1, ['requiresGrad', 'requiresGrad_']), method('backward', 2),
  onBackend('tensor', 2, (d, o) => tensor(d as never, o as never)),
  onBackend('zeros', 2, (s, o) => zeros(s as never, o as never), ['full']),
  onBackend('ones', 2, (s, o) => ones(s as never, o as never), ['full']),
  onBackend('full', 3, (s, v, o) => full(s as never, v as never, o as never)),
  onBackend('randn', 2, (s, o) => randn(s as never, o as never)),
  onBackend('rand', 2, (s, o) => rand(s as never, o as never)),
  onBackend('uniform', 4, (s, l, h, o) => uniform(s as never, l as never, h as never, o as never)),
  onBackend('arange', 4, (a, b, c, o) => arange(a as never, b as never, c as never, o as never)),
  onBackend('fromTypedArray', 3, (d, s, o) => fromTypedArray(d as never, s as never, o as never), ['tensor']),
  fn('cat', 2, (ts, a) => cat(ts as never, a as never)),
  fn('stack', 2, (ts, a) => stack(ts as never, a as never)),
  fn('where', 3, (c, x, y) => where(c as never, x as never, y as never)),
  fn('maximum', 2, (x, y) => maximum(x as never, y as never)),
  fn('minimum', 2, (x, y) => minimum(x as never, y as never)),
  fn('linear', 3, (x, w, b) => F.linear(x as never, w as never, b as never)),
  fn('crossEntropy', 2, (x, t) => F.crossEntropy(x as never, t as never)),
  fn('mseLoss', 2, (x, t) => F.mseLoss(x as never, t as never)),
  fn('layerNorm', 4, (x, w, b, e) => F.layerNorm(x as never, w as never, b as never, e as never)),
  fn('embedding', 2, (i, w) => F.embedding(i as never, w as never)),
  fn('dropout', 3, (x, p, t) => F.dropout(x as never, p as never, t as never)),
  fn('scaledDotProductAttention', 4, (q, k, v, o) => F.scaledDotProductAttention(q as never, k as never, v as never, o as never)),
  fn('gelu', 2, (x, o) => F.gelu(x as never, o as never)),
  fn('MultiheadAttention', 3, (e, h, o) => new nn.MultiheadAttention(e as never, h as never, o as never)),
  fn('MultiheadAttention.forward', 4, (q, k, v, o) => new nn.MultiheadAttention(2, 1).forward(q as never, k as never, v as never, o as never), ['MultiheadAttention']),
  fn('loraLinear', 6, (x, w, b, a, bb, s) => F.loraLinear(x as never, w as never, b as never, a as never, bb as never, s as never)),
  fn('conv2d', 4, (x, w, b, o) => F.conv2d(x as never, w as never, b as never, o as never)),
  fn('convTranspose2d', 4, (x, w, b, o) => F.convTranspose2d(x as never, w as never, b as never, o as never)),
  fn('avgPool2d', 3, (x, k, o) => F.avgPool2d(x as never, k as never, o as never)),
  fn('maxPool2d', 3, (x, k, o) => F.maxPool2d(x as never, k as never, o as never)),
  fn('interpolate', 2, (x, o) => F.interpolate(x as never, o as never)),
  fn('groupNorm', 5, (x, g, w, b, e) => F.groupNorm(x as never, g as never, w as never, b as never, e as never)),
  fn('silu', 1, (x) => F.silu(x as never)),
  fn('pad', 3, (x, p, v) => F.pad(x as never, p as never, v as never)),
  fn('Conv2d', 4, (i, o, k, opts) => new nn.Conv2d(i as never, o as never, k as never, opts as never)),
  fn('Conv2d(1, 2, 1).forward', 1, (x) => new nn.Conv2d(1, 2, 1).forward(x as never), ['conv2d']),
  fn('ConvTranspose2d', 4, (i, o, k, opts) => new nn.ConvTranspose2d(i as never, o as never, k as never, opts as never)),
  fn('GroupNorm', 3, (g, c, opts) => new nn.GroupNorm(g as never, c as never, opts as never)),
  fn('LoRAConv2d', 2, (c, opts) => new nn.LoRAConv2d(c as never, opts as never)),
  fn('LoRAConv2d(Conv2d(2, 2, 1))', 1, (opts) => new nn.LoRAConv2d(new nn.Conv2d(2, 2, 1), opts as never), ['LoRAConv2d']),
  fn('Linear', 3, (i, o, opts) => new nn.Linear(i as never, o as never, opts as never)),
  fn('Embedding', 3, (n, d, opts) => new nn.Embedding(n as never, d as never, opts as never)),
  fn('LayerNorm', 2, (d, opts) => new nn.LayerNorm(d as never, opts as never)),
  fn('Dropout', 1, (p) => new nn.Dropout(p as never)),
  fn('SGD', 2, (ps, o) => new optim.SGD(ps as never, o as never)),
  fn('Adam', 2, (ps, o) => new optim.Adam(ps as never, o as never)),
  fn('clipGradNorm', 2, (ps, m) => optim.clipGradNorm(ps as never, m as never)),
  fn('applyLoRA', 2, (m, o) => nn.applyLoRA(m as never, o as never)),
  fn('mergeAndUnload', 1, (m) => nn.mergeAndUnload(m as never)),
  fn('LoRALinear', 3, (i, o, opts) => new nn.LoRALinear(i as never, o as never, opts as never), ['LoRALinear', 'Linear']),
  fn('LoRALinear(4, 5)', 1, (opts) => new nn.LoRALinear(4, 5, opts as never), ['LoRALinear']),
  fn('decodeSafetensors', 1, (b) => io.decodeSafetensors(b as never)),
  fn('encodeSafetensors', 2, (ts, m) => io.encodeSafetensors(ts as never, m as never)),
  fn('encodeSafetensors({ a })', 2, (t, m) => io.encodeSafetensors({ a: t } as never, m as never), ['encodeSafetensors']),
  fn('loadAdapter', 2, (m, f) => io.loadAdapter(m as never, f as never)),
  fn('loadAdapter(model)', 1, (f) => io.loadAdapter(new nn.Sequential(new nn.Linear(2, 2)), f as never), ['loadAdapter']),
  fn('grad', 3, (y, x, o) => grad(y as never, x as never, o as never), ['grad', 'backward']),
  fn('gradcheck', 2, (f, x) => gradcheck(f as never, x as never), ['gradcheck', 'grad', 'backward']),
  fn('gradgradcheck', 2, (f, x) => gradgradcheck(f as never, x as never), ['gradgradcheck', 'gradcheck', 'grad', 'backward']),
  fn('toDot', 2, (t, o) => toDot(t as never, o as never)),
  fn('printGraph', 1, (t) => printGraph(t as never)),
  fn('scope', 1, (f) => scope(f as never)),
  fn('noGrad', 1, (f) => noGrad(f as never)),
  fn('Parameter', 2, (t, r) => new nn.Parameter(t as never, r as never)),
  fn('registerModule', 2, (n, m) => new nn.Sequential().registerModule(n as never, m as never)),
  fn('registerParameter', 2, (n, p) => new nn.Sequential().registerParameter(n as never, p as never)),
];

/** Everything a call was given that a failed call must leave as it was. */
export function tensorsIn(args: unknown[]): Tensor[] {
  return args.flatMap((a) => (Array.isArray(a) ? a : [a])).filter((a): a is Tensor => typeof a === 'object' && a !== null && (a as Tensor)._isTensor === true);
}

export function describeCall(entry: Entry, args: ArgDesc[]): string {
  const show = (d: ArgDesc): string => {
    if (d.kind === 'list') return `[${d.items.map(show).join(', ')}]`;
    if (d.kind === 'tensor') return `${d.disposed ? 'disposed ' : ''}tensor(${JSON.stringify(d.values)}, { shape: ${JSON.stringify(d.shape)}, dtype: '${d.dtype}'${d.requiresGrad ? ', requiresGrad: true' : ''} })`;
    const v = d.value;
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'symbol' || typeof v === 'function' || ArrayBuffer.isView(v)) return String(v);
    return v === undefined ? 'undefined' : Number.isNaN(v) ? 'NaN' : JSON.stringify(v);
  };
  return `${entry.name}(${args.map(show).join(', ')})`;
}
