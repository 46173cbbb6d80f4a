// The op suite, written once: each case generates shapes (fast-check, so failures shrink), the
// op to run, and a straightforward reference. The CPU property tests and every backend's
// conformance run use this table.
import fc from 'fast-check';
import { type Tensor, cat, maximum, minimum, nn, stack, where } from '../../src/index.js';
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
