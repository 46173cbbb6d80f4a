// The op suite, written once: each case generates shapes (fast-check, so failures shrink), the
// op to run, and a straightforward reference. The CPU property tests and every backend's
// conformance run use this table.
import fc from 'fast-check';
import { type Tensor, cat, maximum, minimum, nn, oneHot, stack, where } from '../../src/index.js';
import { CONV_CASES } from './convCases.js';
import * as R from './reference.js';

export type Domain = 'real' | 'positive' | { index: number };

export interface InputSpec {
  shape: number[];
  domain: Domain;
}

export interface Spec {
  inputs: InputSpec[];
  fn: (...xs: Tensor[]) => Tensor;
  ref?: (...xs: R.Ref[]) => R.Ref;
  /** Describes the drawn parameters in failure messages. */
  label: string;
}

export interface OpCase {
  name: string;
  spec: fc.Arbitrary<Spec>;
  /** Has gradients to check (default true). */
  differentiable?: boolean;
  /** Float32 tolerance against the float64 reference. */
  tol?: { atol: number; rtol: number };
}

const dim = (min = 1, max = 5) => fc.integer({ min, max });
const shapeArb = (minRank = 0, maxRank = 3, minDim = 1, maxDim = 5) => fc.array(dim(minDim, maxDim), { minLength: minRank, maxLength: maxRank });

/** Two shapes that broadcast: the second drops leading dims and sets some dims to 1 (maybe swapped). */
const broadcastPair = fc
  .tuple(shapeArb(0, 3, 0, 4), fc.nat(3), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.boolean())
  .map(([a, drop, ones, swap]) => {
    const b = a.slice(Math.min(drop, a.length)).map((d, i) => (ones[i] ? 1 : d));
    return swap ? [b, a] : [a, b];
  });

const real = (shape: number[]): InputSpec => ({ shape, domain: 'real' });
const pos = (shape: number[]): InputSpec => ({ shape, domain: 'positive' });

function unary(name: string, fn: (x: Tensor) => Tensor, f: (v: number) => number, domain: 'real' | 'positive' = 'real', extra: Partial<OpCase> = {}): OpCase {
  return {
    name,
    spec: shapeArb(0, 3, 0, 5).map((s) => ({ inputs: [{ shape: s, domain }], fn, ref: (x) => R.map(f, x), label: `shape ${JSON.stringify(s)}` })),
    ...extra,
  };
}

function binary(name: string, fn: (a: Tensor, b: Tensor) => Tensor, f: (a: number, b: number) => number, domains: ['real' | 'positive', 'real' | 'positive'] = ['real', 'real'], extra: Partial<OpCase> = {}): OpCase {
  return {
    name,
    spec: broadcastPair.map(([a, b]) => ({
      inputs: [{ shape: a!, domain: domains[0] }, { shape: b!, domain: domains[1] }],
      fn,
      ref: (x, y) => R.map(f, x, y),
      label: `shapes ${JSON.stringify(a)} ${JSON.stringify(b)}`,
    })),
    ...extra,
  };
}

/** A non-empty shape and a set of its axes. */
const axesOf = (minDim = 1) =>
  shapeArb(1, 3, minDim, 5).chain((s) =>
    fc.tuple(fc.constant(s), fc.subarray(s.map((_, i) => i), { minLength: 1 }), fc.boolean(), fc.boolean()),
  );

function reduction(name: string, fn: (x: Tensor, axes: number[] | undefined, keep: boolean) => Tensor, init: number, f: (a: number, v: number) => number, post: (v: number, n: number) => number = (v) => v): OpCase {
  return {
    name,
    spec: axesOf().map(([s, axes, all, keep]) => {
      const ax = all ? undefined : axes;
      const used = ax ?? s.map((_, i) => i);
      const n = used.reduce((p, a) => p * s[a]!, 1);
      return {
        inputs: [real(s)],
        fn: (x) => fn(x, ax, keep),
        ref: (x) => {
          const r = R.reduce(x, used, keep || ax === undefined ? keep : false, init, f);
          return { data: r.data.map((v) => post(v, n)), shape: ax === undefined && !keep ? [] : r.shape };
        },
        label: `shape ${JSON.stringify(s)} axes ${JSON.stringify(ax)} keepdim ${keep}`,
      };
    }),
  };
}

const erf = R.erfRef;
const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
const geluTanh = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** Attention shapes: a batch (the query's with some dims 1, broadcasting), L, S, E, Ev, and a scale. */
const attentionShapes = fc
  .record({
    batch: shapeArb(0, 2, 1, 2), ones: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    L: dim(1, 3), S: dim(1, 4), E: dim(1, 3), Ev: dim(1, 2), maskBatch: fc.boolean(), scale: fc.constantFrom(undefined, 0.7),
  })
  .map((d) => ({ ...d, qBatch: d.batch.map((n, i) => (d.ones[i] ? 1 : n)) }));

export const CASES: OpCase[] = [
  unary('neg', (x) => x.neg(), (v) => -v),
  unary('exp', (x) => x.exp(), Math.exp),
  unary('log', (x) => x.log(), Math.log, 'positive'),
  unary('sqrt', (x) => x.sqrt(), Math.sqrt, 'positive'),
  unary('abs', (x) => x.abs(), Math.abs),
  unary('relu', (x) => x.relu(), (v) => Math.max(v, 0)),
  unary('sigmoid', (x) => x.sigmoid(), (v) => 1 / (1 + Math.exp(-v))),
  unary('tanh', (x) => x.tanh(), Math.tanh),
  unary('erf', (x) => x.erf(), erf),
  unary('gelu', (x) => x.gelu(), gelu),
  unary('gelu tanh', (x) => x.gelu({ approximate: 'tanh' }), geluTanh),
  unary('pow scalar', (x) => x.pow(2.5), (v) => v ** 2.5, 'positive'),
  unary('sign', (x) => x.sign(), Math.sign, 'real', { differentiable: false }),
  unary('mul scalar', (x) => x.mul(3).add(1).sub(0.5).div(2), (v) => (v * 3 + 1 - 0.5) / 2),
  binary('add', (a, b) => a.add(b), (a, b) => a + b),
  binary('sub', (a, b) => a.sub(b), (a, b) => a - b),
  binary('mul', (a, b) => a.mul(b), (a, b) => a * b),
  binary('div', (a, b) => a.div(b), (a, b) => a / b),
  binary('pow', (a, b) => a.pow(b), (a, b) => a ** b, ['positive', 'real']),
  binary('maximum', (a, b) => maximum(a, b), Math.max),
  binary('minimum', (a, b) => minimum(a, b), Math.min),
  ...(['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((op) =>
    binary(op, (a, b) => a[op](b), (a, b) => Number({ eq: a === b, ne: a !== b, lt: a < b, le: a <= b, gt: a > b, ge: a >= b }[op]), ['real', 'real'], { differentiable: false }),
  ),
  {
    name: 'where',
    spec: broadcastPair.map(([a, b]) => ({
      inputs: [real(a!), real(b!), real(a!)],
      fn: (x, y, c) => where(c.gt(0), x, y),
      ref: (x, y, c) => R.map((u, v, w) => (w > 0 ? u : v), x, y, c),
      label: `shapes ${JSON.stringify(a)} ${JSON.stringify(b)}`,
    })),
  },
  reduction('sum', (x, a, k) => x.sum(a, k), 0, (p, v) => p + v),
  reduction('mean', (x, a, k) => x.mean(a, k), 0, (p, v) => p + v, (v, n) => v / n),
  reduction('max', (x, a, k) => x.max(a, k), -Infinity, Math.max),
  reduction('min', (x, a, k) => x.min(a, k), Infinity, Math.min),
  {
    name: 'argmax',
    differentiable: false,
    spec: axesOf().map(([s, axes]) => ({
      inputs: [real(s)],
      fn: (x) => x.argmax(axes[0]!),
      ref: (x) => {
        const a = axes[0]!;
        const best = R.reduce(x, [a], false, -Infinity, Math.max);
        const out = R.map((v) => v, best);
        // First index along `a` whose value equals the max.
        out.data = best.data.map((m, i) => {
          const idx = R.unravel(i, best.shape);
          for (let j = 0; j < s[a]!; j++) {
            const full = [...idx.slice(0, a), j, ...idx.slice(a)];
            if (x.data[full.reduce((o, v, d) => o * s[d]! + v, 0)] === m) return j;
          }
          return -1;
        });
        return out;
      },
      label: `shape ${JSON.stringify(s)} axis ${axes[0]}`,
    })),
  },
  {
    name: 'matmul',
    tol: { atol: 1e-4, rtol: 1e-4 },
    spec: fc
      .tuple(dim(1, 6), dim(0, 6), dim(1, 6), shapeArb(0, 2, 1, 3), fc.nat(2), fc.constantFrom('2d', 'batched', 'vec-left', 'vec-right'))
      .map(([m, k, n, batch, drop, kind]) => {
        const a = kind === 'vec-left' ? [k] : kind === 'batched' ? [...batch, m, k] : [m, k];
        const b = kind === 'vec-right' ? [k] : kind === 'batched' ? [...batch.slice(drop), k, n] : [k, n];
        return { inputs: [real(a), real(b)], fn: (x, y) => x.matmul(y), ref: R.matmul, label: `shapes ${JSON.stringify(a)} ${JSON.stringify(b)}` };
      }),
  },
  {
    name: 'reshape',
    spec: shapeArb(1, 3).map((s) => {
      const n = R.size(s);
      return { inputs: [real(s)], fn: (x) => x.reshape([-1]).reshape([n, 1]).mul(2), ref: (x) => ({ data: x.data.map((v) => 2 * v), shape: [n, 1] }), label: `shape ${JSON.stringify(s)}` };
    }),
  },
  {
    name: 'permute',
    spec: shapeArb(1, 4).chain((s) =>
      fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }).map((dims) => ({
        inputs: [real(s)],
        fn: (x: Tensor) => x.permute(dims).exp(),
        ref: (x: R.Ref) => R.map(Math.exp, R.permute(x, dims)),
        label: `shape ${JSON.stringify(s)} dims ${JSON.stringify(dims)}`,
      })),
    ),
  },
  {
    name: 'transpose + contiguous',
    spec: shapeArb(2, 3).map((s) => ({
      inputs: [real(s)],
      fn: (x) => x.transpose(0, -1).contiguous(),
      ref: (x) => R.permute(x, s.map((_, i) => (i === 0 ? s.length - 1 : i === s.length - 1 ? 0 : i))),
      label: `shape ${JSON.stringify(s)}`,
    })),
  },
  {
    name: 'expand',
    spec: fc.tuple(shapeArb(1, 3), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), dim(1, 3)).map(([s, ones, lead]) => {
      const small = s.map((d, i) => (ones[i] ? 1 : d));
      const target = [lead, ...s];
      return { inputs: [real(small)], fn: (x) => x.expand(target).mul(1.5), ref: (x) => R.map((v, z) => v * 1.5 + z, x, { data: new Array(R.size(target)).fill(0), shape: target }), label: `${JSON.stringify(small)} -> ${JSON.stringify(target)}` };
    }),
  },
  {
    name: 'slice',
    spec: shapeArb(1, 3, 1, 6).chain((s) =>
      fc.tuple(...s.map((d) => fc.tuple(fc.integer({ min: 0, max: d }), fc.integer({ min: 0, max: d })).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as [number, number]))).map((ranges) => ({
        inputs: [real(s)],
        fn: (x: Tensor) => x.slice(ranges).mul(2),
        ref: (x: R.Ref) => R.map((v) => 2 * v, R.slice(x, ranges)),
        label: `shape ${JSON.stringify(s)} ranges ${JSON.stringify(ranges)}`,
      })),
    ),
  },
  {
    name: 'cat',
    spec: fc.tuple(shapeArb(1, 3), fc.nat(2), dim(0, 3), dim(1, 3)).map(([s, ax, n1, n2]) => {
      const axis = ax % s.length;
      const s1 = s.map((d, i) => (i === axis ? n1 : d)), s2 = s.map((d, i) => (i === axis ? n2 : d));
      return { inputs: [real(s), real(s1), real(s2)], fn: (a, b, c) => cat([a, b, c], axis), ref: (a, b, c) => R.cat([a, b, c], axis), label: `shapes ${JSON.stringify([s, s1, s2])} axis ${axis}` };
    }),
  },
  {
    name: 'stack',
    spec: fc.tuple(shapeArb(0, 2), fc.nat(2)).map(([s, ax]) => {
      const axis = ax % (s.length + 1);
      const lifted = [...s.slice(0, axis), 1, ...s.slice(axis)];
      return {
        inputs: [real(s), real(s)],
        fn: (a, b) => stack([a, b], axis),
        ref: (a, b) => R.cat([{ ...a, shape: lifted }, { ...b, shape: lifted }], axis),
        label: `shape ${JSON.stringify(s)} axis ${axis}`,
      };
    }),
  },
  {
    name: 'gather',
    spec: fc.tuple(shapeArb(1, 3), fc.nat(2), dim(1, 4)).map(([s, ax, n]) => {
      const axis = ax % s.length;
      const is = s.map((d, i) => (i === axis ? n : d));
      return { inputs: [real(s), { shape: is, domain: { index: s[axis]! } }], fn: (x, i) => x.gather(axis, i), ref: (x, i) => R.gather(x, axis, i), label: `shape ${JSON.stringify(s)} index ${JSON.stringify(is)} axis ${axis}` };
    }),
  },
  {
    name: 'indexSelect',
    spec: fc.tuple(shapeArb(1, 3), fc.nat(2), dim(1, 5)).map(([s, ax, n]) => {
      const axis = ax % s.length;
      const shape = s.map((d, k) => (k === axis ? n : d));
      return {
        inputs: [real(s), { shape: [n], domain: { index: s[axis]! } }],
        fn: (x, i) => x.indexSelect(axis, i),
        // The full-shape index: position j along `axis` picks i[j].
        ref: (x, i) => R.gather(x, axis, { data: Array.from({ length: R.size(shape) }, (_, k) => i.data[R.unravel(k, shape)[axis]!]!), shape }),
        label: `shape ${JSON.stringify(s)} n ${n} axis ${axis}`,
      };
    }),
  },
  {
    name: 'softmax',
    spec: fc.tuple(shapeArb(1, 3), fc.nat(2)).map(([s, ax]) => ({ inputs: [real(s)], fn: (x) => x.softmax(ax % s.length), ref: (x) => R.softmaxRef(x, ax % s.length, false), label: `shape ${JSON.stringify(s)} axis ${ax % s.length}` })),
  },
  {
    name: 'logSoftmax',
    spec: fc.tuple(shapeArb(1, 3), fc.nat(2)).map(([s, ax]) => ({ inputs: [real(s)], fn: (x) => x.logSoftmax(ax % s.length), ref: (x) => R.softmaxRef(x, ax % s.length, true), label: `shape ${JSON.stringify(s)} axis ${ax % s.length}` })),
  },
  {
    name: 'crossEntropy',
    spec: fc.tuple(dim(1, 5), dim(1, 6)).map(([n, c]) => ({
      inputs: [real([n, c]), { shape: [n], domain: { index: c } }],
      fn: (x, t) => nn.functional.crossEntropy(x, t),
      ref: (x, t) => {
        const ls = R.softmaxRef(x, 1, true);
        const picked = t.data.map((j, i) => ls.data[i * c + j]!);
        return { data: [-picked.reduce((a, b) => a + b, 0) / n], shape: [] };
      },
      label: `logits [${n},${c}]`,
    })),
  },
  {
    name: 'mseLoss',
    spec: shapeArb(1, 3).map((s) => ({ inputs: [real(s), real(s)], fn: (a, b) => nn.functional.mseLoss(a, b), ref: (a, b) => ({ data: [R.map((u, v) => (u - v) ** 2, a, b).data.reduce((p, q) => p + q, 0) / R.size(s)], shape: [] }), label: `shape ${JSON.stringify(s)}` })),
  },
  {
    name: 'layerNorm',
    tol: { atol: 1e-3, rtol: 1e-3 },
    spec: fc.tuple(shapeArb(0, 2), dim(2, 6)).map(([lead, d]) => {
      const s = [...lead, d];
      return {
        inputs: [real(s), real([d]), real([d])],
        fn: (x, w, b) => nn.functional.layerNorm(x, w, b, 1e-5),
        ref: (x, w, b) => {
          const mu = R.map((v) => v / d, R.reduce(x, [s.length - 1], true, 0, (p, v) => p + v));
          const c = R.map((v, m) => v - m, x, mu);
          const vr = R.map((v) => v / d, R.reduce(R.map((v) => v * v, c), [s.length - 1], true, 0, (p, v) => p + v));
          return R.map((cv, vv, wv, bv) => (cv / Math.sqrt(vv + 1e-5)) * wv + bv, c, vr, w, b);
        },
        label: `shape ${JSON.stringify(s)}`,
      };
    }),
  },
  {
    name: 'layerNorm without weight and bias, over a transposed input',
    tol: { atol: 1e-3, rtol: 1e-3 },
    spec: fc.tuple(dim(2, 6), dim(1, 4)).map(([d, n]) => ({
      inputs: [real([d, n])],
      fn: (x) => nn.functional.layerNorm(x.transpose(0, 1), null, null, 1e-5),
      ref: (x) => {
        const t = R.permute(x, [1, 0]);
        const mu = R.map((v) => v / d, R.reduce(t, [1], true, 0, (p, v) => p + v));
        const c = R.map((v, m) => v - m, t, mu);
        const vr = R.map((v) => v / d, R.reduce(R.map((v) => v * v, c), [1], true, 0, (p, v) => p + v));
        return R.map((cv, vv) => cv / Math.sqrt(vv + 1e-5), c, vr);
      },
      label: `x [${d},${n}] transposed`,
    })),
  },
  {
    name: 'embedding',
    spec: fc.tuple(dim(1, 6), dim(1, 4), shapeArb(1, 2, 1, 3)).map(([v, d, is]) => ({
      inputs: [{ shape: is, domain: { index: v } }, real([v, d])],
      fn: (i, w) => nn.functional.embedding(i, w),
      ref: (i, w) => ({ data: i.data.flatMap((j) => w.data.slice(j * d, (j + 1) * d)), shape: [...is, d] }),
      label: `vocab ${v} dim ${d} indices ${JSON.stringify(is)}`,
    })),
  },
  {
    name: 'linear',
    tol: { atol: 1e-4, rtol: 1e-4 },
    spec: fc.tuple(dim(1, 4), dim(1, 5), dim(1, 5)).map(([n, i, o]) => ({
      inputs: [real([n, i]), real([o, i]), real([o])],
      fn: (x, w, b) => nn.functional.linear(x, w, b),
      ref: (x, w, b) => R.map((u, v) => u + v, R.matmul(x, R.permute(w, [1, 0])), b),
      label: `x [${n},${i}] weight [${o},${i}]`,
    })),
  },
];

// Ops a PyTorch user reaches for: rounding, statistics, scans, sorting, splitting, masks,
// predicates, flattening, one-hot and the loss variants.
const sumAll = (r: R.Ref) => r.data.reduce((p, q) => p + q, 0);
/** Row-wise helper for references along one axis: applies `f` to each line of `r` along `axis`. */
function alongAxis(r: R.Ref, axis: number, f: (line: number[]) => number[], outLen = r.shape[axis]!): R.Ref {
  const shape = r.shape.map((d, i) => (i === axis ? outLen : d));
  const data = new Array<number>(R.size(shape)).fill(0);
  const inner = R.size(r.shape.slice(axis + 1)), n = r.shape[axis]!;
  const outer = R.size(r.shape.slice(0, axis));
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const line = Array.from({ length: n }, (_, k) => r.data[(o * n + k) * inner + j]!);
      f(line).forEach((v, k) => (data[(o * outLen + k) * inner + j] = v));
    }
  }
  return { data, shape };
}
const axisOf = fc.tuple(shapeArb(1, 3), fc.nat(2)).map(([s, ax]) => ({ s, a: ax % s.length }));
const sortLine = (line: number[], desc: boolean) => line.map((v, i) => [v, i] as const).sort((p, q) => (desc ? q[0] - p[0] : p[0] - q[0]) || p[1] - q[1]);
/** References of cross-entropy / nll on [N, C, ...] logits with classes on axis 1. */
function lossRef(x: R.Ref, t: R.Ref, opts: { log: boolean; ignore: number; eps: number; reduction: 'mean' | 'sum' | 'none' }): R.Ref {
  const lp = opts.log ? R.softmaxRef(x, 1, true) : x;
  const c = x.shape[1]!;
  const inner = R.size(x.shape.slice(2));
  const per = t.data.map((cls, i) => {
    if (cls === opts.ignore) return 0;
    const b = Math.floor(i / inner), j = i % inner;
    const at = (k: number) => lp.data[(b * c + k) * inner + j]!;
    const smooth = Array.from({ length: c }, (_, k) => at(k)).reduce((p, q) => p + q, 0) / c;
    return -(1 - opts.eps) * at(cls) - opts.eps * smooth;
  });
  if (opts.reduction === 'none') return { data: per, shape: t.shape };
  const total = per.reduce((p, q) => p + q, 0);
  const kept = t.data.filter((v) => v !== opts.ignore).length;
  return { data: [opts.reduction === 'sum' ? total : total / kept], shape: [] };
}
/** The target with its first entry set to class 0, so some target is never ignored. */
const firstKept = (t: Tensor) => {
  const flat = t.reshape(-1);
  return cat([flat.slice([[0, 1]]).mul(0), flat.slice([[1, t.size]])]).reshape(t.shape);
};

CASES.push(
  unary('clamp', (x) => x.clamp(-0.5371, 0.9133), (v) => Math.min(Math.max(v, -0.5371), 0.9133)),
  unary('clamp min only', (x) => x.clamp(0.6173), (v) => Math.max(v, 0.6173)),
  binary('clamp tensor max', (a, b) => a.clamp(null, b), (a, b) => Math.min(a, b)),
  // Scaled by 2.9 so no value lands on an integer or a half (each case's distinct magnitudes).
  unary('floor', (x) => x.mul(2.9).floor(), (v) => Math.floor(v * 2.9)),
  unary('ceil', (x) => x.mul(2.9).ceil(), (v) => Math.ceil(v * 2.9)),
  unary('round', (x) => x.mul(2.9).round(), (v) => Math.round(v * 2.9)),
  ...([true, false] as const).flatMap((unbiased) => [
    {
      name: `var unbiased ${unbiased}`,
      tol: { atol: 1e-4, rtol: 1e-3 },
      spec: axesOf(2).map(([s, axes, all, keep]) => {
        const ax = all ? undefined : axes;
        const used = ax ?? s.map((_, i) => i);
        const n = used.reduce((p, a) => p * s[a]!, 1);
        return {
          inputs: [real(s)],
          fn: (x: Tensor) => x.var(ax, { unbiased, keepdim: keep }),
          ref: (x: R.Ref) => {
            const mu = R.map((v) => v / n, R.reduce(x, used, true, 0, (p, v) => p + v));
            const sq = R.reduce(R.map((v, m) => (v - m) ** 2, x, mu), used, keep, 0, (p, v) => p + v);
            return { data: sq.data.map((v) => v / (n - (unbiased ? 1 : 0))), shape: sq.shape };
          },
          label: `shape ${JSON.stringify(s)} axes ${JSON.stringify(ax)} keepdim ${keep}`,
        };
      }),
    } satisfies OpCase,
  ]),
  {
    name: 'std',
    spec: axesOf(2).map(([s, axes]) => {
      const n = axes.reduce((p, a) => p * s[a]!, 1);
      return {
        inputs: [real(s)],
        fn: (x: Tensor) => x.std(axes),
        ref: (x: R.Ref) => {
          const mu = R.map((v) => v / n, R.reduce(x, axes, true, 0, (p, v) => p + v));
          return R.map((v) => Math.sqrt(v / (n - 1)), R.reduce(R.map((v, m) => (v - m) ** 2, x, mu), axes, false, 0, (p, v) => p + v));
        },
        label: `shape ${JSON.stringify(s)} axes ${JSON.stringify(axes)}`,
      };
    }),
  },
  {
    name: 'logsumexp',
    spec: axesOf().map(([s, axes, , keep]) => ({
      inputs: [real(s)],
      fn: (x: Tensor) => x.mul(30).logsumexp(axes, keep),
      ref: (x: R.Ref) => R.map(Math.log, R.reduce(R.map((v) => Math.exp(30 * v), x), axes, keep, 0, (p, v) => p + v)),
      label: `shape ${JSON.stringify(s)} axes ${JSON.stringify(axes)} keepdim ${keep}`,
    })),
    tol: { atol: 1e-3, rtol: 1e-4 },
  },
  {
    name: 'cumsum',
    spec: axisOf.map(({ s, a }) => ({
      inputs: [real(s)],
      fn: (x: Tensor) => x.cumsum(a),
      ref: (x: R.Ref) => alongAxis(x, a, (line) => line.map((_, k) => line.slice(0, k + 1).reduce((p, q) => p + q, 0))),
      label: `shape ${JSON.stringify(s)} axis ${a}`,
    })),
  },
  ...([false, true] as const).flatMap((desc) => [
    {
      name: `sort values${desc ? ' descending' : ''}`,
      spec: axisOf.map(({ s, a }) => ({
        inputs: [real(s)],
        fn: (x: Tensor) => x.sort(a, desc).values,
        ref: (x: R.Ref) => alongAxis(x, a, (line) => sortLine(line, desc).map(([v]) => v)),
        label: `shape ${JSON.stringify(s)} axis ${a}`,
      })),
    } satisfies OpCase,
    {
      name: `sort indices${desc ? ' descending' : ''}`,
      differentiable: false,
      spec: axisOf.map(({ s, a }) => ({
        inputs: [real(s)],
        fn: (x: Tensor) => x.sort(a, desc).indices,
        ref: (x: R.Ref) => alongAxis(x, a, (line) => sortLine(line, desc).map(([, i]) => i)),
        label: `shape ${JSON.stringify(s)} axis ${a}`,
      })),
    } satisfies OpCase,
  ]),
  {
    name: 'topk',
    spec: axisOf.chain(({ s, a }) => fc.tuple(fc.integer({ min: 0, max: s[a]! }), fc.boolean()).map(([k, largest]) => ({
      inputs: [real(s)],
      // Values and indices in one output, so both are checked.
      fn: (x: Tensor) => {
        const [v, i] = x.topk(k, a, largest);
        return v.add(i.cast(v.dtype).mul(10));
      },
      ref: (x: R.Ref) => alongAxis(x, a, (line) => sortLine(line, largest).slice(0, k).map(([v, i]) => v + 10 * i), k),
      label: `shape ${JSON.stringify(s)} axis ${a} k ${k} largest ${largest}`,
    }))),
  },
  {
    name: 'split + chunk',
    spec: axisOf.chain(({ s, a }) => fc.integer({ min: 1, max: 4 }).map((size) => ({
      inputs: [real(s)],
      // Each piece scaled by its position: a wrong boundary changes the result.
      fn: (x: Tensor) => cat([...x.split(size, a).map((p, i) => p.mul(i + 1)), ...x.chunk(size, a).map((p, i) => p.mul(-(i + 1)))], a),
      ref: (x: R.Ref) => {
        const n = s[a]!, per = Math.ceil(n / size);
        return alongAxis(x, a, (line) => [...line.map((v, k) => v * (Math.floor(k / size) + 1)), ...line.map((v, k) => -v * (Math.floor(k / per) + 1))], 2 * n);
      },
      label: `shape ${JSON.stringify(s)} axis ${a} size ${size}`,
    }))),
  },
  ...(['tril', 'triu'] as const).map((op): OpCase => ({
    name: op,
    spec: fc.tuple(shapeArb(2, 3), fc.integer({ min: -3, max: 3 })).map(([s, k]) => ({
      inputs: [real(s)],
      fn: (x: Tensor) => x[op](k),
      ref: (x: R.Ref) => {
        const [r, c] = s.slice(-2) as [number, number];
        return { data: x.data.map((v, i) => {
          const d = (i % c) - (Math.floor(i / c) % r);
          return (op === 'tril' ? d <= k : d >= k) ? v : 0;
        }), shape: s };
      },
      label: `shape ${JSON.stringify(s)} diagonal ${k}`,
    })),
  })),
  {
    name: 'maskedFill',
    spec: broadcastPair.map(([a, b]) => ({
      inputs: [real(a!), { shape: b!, domain: { index: 2 } }],
      fn: (x: Tensor, m: Tensor) => x.maskedFill(m, -1.5),
      ref: (x: R.Ref, m: R.Ref) => R.map((u, w) => (w !== 0 ? -1.5 : u), x, m),
      label: `shapes ${JSON.stringify(a)} ${JSON.stringify(b)}`,
    })),
  },
  ...(['none', 'bool', 'float', 'causal'] as const).map((mask): OpCase => ({
    name: `scaledDotProductAttention ${mask === 'none' ? 'no mask' : mask === 'causal' ? 'isCausal' : `${mask} mask`}`,
    spec: attentionShapes.map(({ batch, qBatch, L, S, E, Ev, maskBatch, scale }) => {
      const maskShape = [...(maskBatch ? batch : []), L, S];
      const maskInput: InputSpec[] = mask === 'bool' ? [{ shape: maskShape, domain: { index: 2 } }] : mask === 'float' ? [real(maskShape)] : [];
      return {
        inputs: [real([...qBatch, L, E]), real([...batch, S, E]), real([...batch, S, Ev]), ...maskInput],
        fn: (q: Tensor, k: Tensor, v: Tensor, m?: Tensor) =>
          nn.functional.scaledDotProductAttention(q, k, v, { attnMask: m, isCausal: mask === 'causal', scale }),
        ref: (q: R.Ref, k: R.Ref, v: R.Ref, m?: R.Ref) => R.attentionRef(q, k, v, { mask: m, bool: mask === 'bool', causal: mask === 'causal', scale }),
        label: `q [${[...qBatch, L, E]}] k [${[...batch, S, E]}] v [${[...batch, S, Ev]}]${maskInput.length ? ` mask [${maskShape}]` : ''} scale ${scale}`,
      };
    }),
  })),
  {
    // Head dims of 4 and 8 and rows longer than one key tile (64): the CPU's SIMD kernel's shapes.
    name: 'scaledDotProductAttention with SIMD head dims, across key tiles',
    spec: fc.record({ L: dim(1, 3), S: fc.constantFrom(2, 5, 64, 67), E: fc.constantFrom(4, 8), Ev: fc.constantFrom(4, 8), mask: fc.constantFrom('none', 'bool', 'causal') })
      .map(({ L, S, E, Ev, mask }) => ({
        inputs: [real([1, L, E]), real([1, S, E]), real([1, S, Ev]), ...(mask === 'bool' ? [{ shape: [L, S], domain: { index: 2 } }] : [])],
        fn: (q: Tensor, k: Tensor, v: Tensor, m?: Tensor) => nn.functional.scaledDotProductAttention(q, k, v, { attnMask: m, isCausal: mask === 'causal' }),
        ref: (q: R.Ref, k: R.Ref, v: R.Ref, m?: R.Ref) => R.attentionRef(q, k, v, { mask: m, bool: mask === 'bool', causal: mask === 'causal' }),
        label: `q [1,${L},${E}] k [1,${S},${E}] v [1,${S},${Ev}] ${mask}`,
      })),
  },
  // log of a real input is NaN below zero; x / (x > 0) is -Infinity there.
  unary('isnan', (x) => x.log().isnan(), (v) => Number(v < 0), 'real', { differentiable: false }),
  unary('isfinite', (x) => x.log().isfinite(), (v) => Number(v > 0), 'real', { differentiable: false }),
  unary('isinf', (x) => x.div(x.gt(0).cast(x.dtype)).isinf(), (v) => Number(v < 0), 'real', { differentiable: false }),
  {
    name: 'flatten + unflatten',
    spec: shapeArb(2, 4).chain((s) => fc.tuple(fc.nat(s.length - 1), fc.nat(s.length - 1)).map(([p, q]) => {
      const [lo, hi] = [Math.min(p, q), Math.max(p, q)];
      return {
        inputs: [real(s)],
        fn: (x: Tensor) => x.flatten(lo, hi).mul(2).unflatten(lo, s.slice(lo, hi + 1)).flatten(),
        ref: (x: R.Ref) => ({ data: x.data.map((v) => 2 * v), shape: [R.size(s)] }),
        label: `shape ${JSON.stringify(s)} dims ${lo}..${hi}`,
      };
    })),
  },
  {
    name: 'oneHot',
    differentiable: false,
    spec: fc.tuple(shapeArb(1, 2, 1, 4), dim(1, 5)).map(([s, c]) => ({
      inputs: [{ shape: s, domain: { index: c } }],
      fn: (i: Tensor) => oneHot(i, c),
      ref: (i: R.Ref) => ({ data: i.data.flatMap((v) => Array.from({ length: c }, (_, k) => Number(k === v))), shape: [...s, c] }),
      label: `indices ${JSON.stringify(s)} classes ${c}`,
    })),
  },
  ...(['mean', 'sum', 'none'] as const).map((reduction): OpCase => ({
    name: `crossEntropy ${reduction} [N, C, d] ignoreIndex labelSmoothing`,
    spec: fc.tuple(dim(1, 4), dim(2, 5), dim(1, 3), fc.constantFrom(0, 0.1)).map(([n, c, d, eps]) => ({
      inputs: [real([n, c, d]), { shape: [n, d], domain: { index: c } }],
      // Class 1 is ignored (the first target is kept: a mean over no targets is NaN, as in PyTorch).
      fn: (x: Tensor, t: Tensor) => nn.functional.crossEntropy(x, firstKept(t), { ignoreIndex: 1, labelSmoothing: eps, reduction }),
      ref: (x: R.Ref, t: R.Ref) => lossRef(x, { ...t, data: t.data.map((v, i) => (i === 0 ? 0 : v)) }, { log: true, ignore: 1, eps, reduction }),
      label: `logits [${n},${c},${d}] labelSmoothing ${eps}`,
    })),
  })),
  {
    name: 'nllLoss',
    spec: fc.tuple(dim(1, 5), dim(1, 6)).map(([n, c]) => ({
      inputs: [real([n, c]), { shape: [n], domain: { index: c } }],
      fn: (x: Tensor, t: Tensor) => nn.functional.nllLoss(x, t),
      ref: (x: R.Ref, t: R.Ref) => lossRef(x, t, { log: false, ignore: -100, eps: 0, reduction: 'mean' }),
      label: `input [${n},${c}]`,
    })),
  },
  {
    name: 'binaryCrossEntropyWithLogits',
    spec: shapeArb(1, 3).map((s) => ({
      inputs: [real(s), pos(s)],
      // Logits scaled up to reach the large-|x| branch; targets squashed into (0, 1).
      fn: (x: Tensor, y: Tensor) => nn.functional.binaryCrossEntropyWithLogits(x.mul(20), y.div(2.5), { reduction: 'sum' }),
      ref: (x: R.Ref, y: R.Ref) => ({ data: [sumAll(R.map((u, v) => {
        const z = 20 * u, t = v / 2.5;
        return Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)));
      }, x, y))], shape: [] }),
      label: `shape ${JSON.stringify(s)}`,
    })),
  },
);

CASES.push(...CONV_CASES);
