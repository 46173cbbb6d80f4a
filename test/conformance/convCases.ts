// The convolution family's cases of the op suite (appended to CASES in cases.ts): small NCHW
// shapes with drawn strides, paddings, dilations and groups, each against direct loops.
import fc from 'fast-check';
import { type Tensor, nn } from '../../src/index.js';
import type { InputSpec, OpCase } from './cases.js';
import type * as R from './reference.js';

const F = nn.functional;
const real = (shape: number[]): InputSpec => ({ shape, domain: 'real' });
const int = (min: number, max: number) => fc.integer({ min, max });
const at = (r: R.Ref, ...idx: number[]) => r.data[idx.reduce((o, v, d) => o * r.shape[d]! + v, 0)]!;

/** out[n][o][y][x] = b[o] + Σ w[o][c][i][j] · x[n][g·cg + c][y·s − p + i·d][x·s − p + j·d], the definition. */
function convRef(x: R.Ref, w: R.Ref, b: R.Ref | null, s: number, p: number, d: number, groups: number): R.Ref {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [o, cg, kh, kw] = w.shape as [number, number, number, number];
  const oh = Math.floor((h + 2 * p - d * (kh - 1) - 1) / s) + 1, ow = Math.floor((wd + 2 * p - d * (kw - 1) - 1) / s) + 1;
  const data: number[] = [];
  for (let b0 = 0; b0 < n; b0++) for (let oc = 0; oc < o; oc++) for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
    let acc = b ? b.data[oc]! : 0;
    const g = Math.floor(oc / (o / groups));
    for (let ci = 0; ci < cg; ci++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const yy = y * s - p + i * d, xi = xx * s - p + j * d;
      if (yy >= 0 && yy < h && xi >= 0 && xi < wd) acc += at(w, oc, ci, i, j) * at(x, b0, g * cg + ci, yy, xi);
    }
    data.push(acc);
  }
  void c;
  return { data, shape: [n, o, oh, ow] };
}

/** Each input pixel spreads w[c][o][i][j]·x into out[y·s − p + i·d][x·s − p + j·d]: the definition of the transpose. */
function convTransposeRef(x: R.Ref, w: R.Ref, s: number, p: number, op: number, d: number, groups: number): R.Ref {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [, og, kh, kw] = w.shape as [number, number, number, number];
  const o = og * groups, cg = c / groups;
  const oh = (h - 1) * s - 2 * p + d * (kh - 1) + op + 1, ow = (wd - 1) * s - 2 * p + d * (kw - 1) + op + 1;
  const data = new Array<number>(n * o * oh * ow).fill(0);
  for (let b0 = 0; b0 < n; b0++) for (let ci = 0; ci < c; ci++) for (let y = 0; y < h; y++) for (let xx = 0; xx < wd; xx++) {
    const g = Math.floor(ci / cg);
    for (let oc = 0; oc < og; oc++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const yy = y * s - p + i * d, xi = xx * s - p + j * d;
      if (yy >= 0 && yy < oh && xi >= 0 && xi < ow) data[((b0 * o + g * og + oc) * oh + yy) * ow + xi]! += at(w, ci, oc, i, j) * at(x, b0, ci, y, xx);
    }
  }
  return { data, shape: [n, o, oh, ow] };
}

/** A pool over k×k windows (stride s, padding p): `f` of the window's in-bounds values and its padded count. */
function poolRef(x: R.Ref, k: number, s: number, p: number, f: (vals: number[], taps: number) => number): R.Ref {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const oh = Math.floor((h + 2 * p - k) / s) + 1, ow = Math.floor((wd + 2 * p - k) / s) + 1;
  const data: number[] = [];
  for (let b0 = 0; b0 < n; b0++) for (let ci = 0; ci < c; ci++) for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
    const vals: number[] = [];
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
      const yy = y * s - p + i, xi = xx * s - p + j;
      if (yy >= 0 && yy < h && xi >= 0 && xi < wd) vals.push(at(x, b0, ci, yy, xi));
    }
    data.push(f(vals, k * k));
  }
  return { data, shape: [n, c, oh, ow] };
}

/** Batch, groups, channels per group, the image, kernel, stride, padding, dilation: a conv whose output is not empty. */
const convArb = fc
  .record({ n: int(1, 2), groups: int(1, 2), cg: int(1, 2), og: int(1, 2), h: int(3, 6), w: int(3, 6), k: int(1, 3), s: int(1, 2), p: int(0, 1), d: int(1, 2), bias: fc.boolean() })
  .filter(({ h, w, k, p, d }) => h + 2 * p > d * (k - 1) && w + 2 * p > d * (k - 1));

const poolArb = fc.record({ n: int(1, 2), c: int(1, 3), h: int(2, 6), w: int(2, 6), k: int(1, 3), s: int(1, 2), p: int(0, 1) })
  .filter(({ h, w, k, p }) => p <= k >> 1 && h + 2 * p >= k && w + 2 * p >= k);

export const CONV_CASES: OpCase[] = [
  {
    name: 'conv2d stride padding dilation groups bias',
    spec: convArb.map(({ n, groups, cg, og, h, w, k, s, p, d, bias }) => ({
      inputs: [real([n, groups * cg, h, w]), real([groups * og, cg, k, k]), ...(bias ? [real([groups * og])] : [])],
      fn: (x: Tensor, wt: Tensor, b?: Tensor) => F.conv2d(x, wt, b, { stride: s, padding: p, dilation: d, groups }),
      ref: (x: R.Ref, wt: R.Ref, b?: R.Ref) => convRef(x, wt, b ?? null, s, p, d, groups),
      label: `x [${n},${groups * cg},${h},${w}] kernel ${k} stride ${s} padding ${p} dilation ${d} groups ${groups} bias ${bias}`,
    })),
  },
  {
    name: 'convTranspose2d stride padding outputPadding dilation groups',
    spec: convArb.chain((c) => fc.nat(c.s - 1).map((op) => ({ ...c, op })))
      .filter(({ h, w, k, s, p, d, op }) => (h - 1) * s - 2 * p + d * (k - 1) + op + 1 > 0 && (w - 1) * s - 2 * p + d * (k - 1) + op + 1 > 0)
      .map(({ n, groups, cg, og, h, w, k, s, p, d, op }) => ({
        inputs: [real([n, groups * cg, h, w]), real([groups * cg, og, k, k])],
        fn: (x: Tensor, wt: Tensor) => F.convTranspose2d(x, wt, null, { stride: s, padding: p, outputPadding: op, dilation: d, groups }),
        ref: (x: R.Ref, wt: R.Ref) => convTransposeRef(x, wt, s, p, op, d, groups),
        label: `x [${n},${groups * cg},${h},${w}] kernel ${k} stride ${s} padding ${p} outputPadding ${op} dilation ${d} groups ${groups}`,
      })),
  },
  {
    name: 'maxPool2d',
    spec: poolArb.map(({ n, c, h, w, k, s, p }) => ({
      inputs: [real([n, c, h, w])],
      fn: (x: Tensor) => F.maxPool2d(x, k, { stride: s, padding: p }),
      ref: (x: R.Ref) => poolRef(x, k, s, p, (vals) => Math.max(...vals)),
      label: `x [${n},${c},${h},${w}] kernel ${k} stride ${s} padding ${p}`,
    })),
  },
  ...[true, false].map((countIncludePad): OpCase => ({
    name: `avgPool2d countIncludePad ${countIncludePad}`,
    spec: poolArb.map(({ n, c, h, w, k, s, p }) => ({
      inputs: [real([n, c, h, w])],
      fn: (x: Tensor) => F.avgPool2d(x, k, { stride: s, padding: p, countIncludePad }),
      ref: (x: R.Ref) => poolRef(x, k, s, p, (vals, taps) => vals.reduce((a, b) => a + b, 0) / (countIncludePad ? taps : vals.length)),
      label: `x [${n},${c},${h},${w}] kernel ${k} stride ${s} padding ${p}`,
    })),
  })),
  ...(['nearest', 'bilinear'] as const).map((mode): OpCase => ({
    name: `interpolate ${mode}`,
    spec: fc.record({ h: int(1, 5), w: int(1, 5), oh: int(1, 7), ow: int(1, 7), alignCorners: fc.boolean() }).map(({ h, w, oh, ow, alignCorners }) => ({
      inputs: [real([2, 2, h, w])],
      fn: (x: Tensor) => F.interpolate(x, { size: [oh, ow], mode, ...(mode === 'bilinear' ? { alignCorners } : {}) }),
      label: `x [2,2,${h},${w}] → ${oh}×${ow}${mode === 'bilinear' ? ` alignCorners ${alignCorners}` : ''}`,
    })),
  })),
  {
    name: 'groupNorm',
    spec: fc.record({ n: int(1, 2), groups: int(1, 3), cg: int(1, 2), h: int(1, 3), w: int(2, 3) }).map(({ n, groups, cg, h, w }) => ({
      inputs: [real([n, groups * cg, h, w]), real([groups * cg]), real([groups * cg])],
      fn: (x: Tensor, g: Tensor, b: Tensor) => F.groupNorm(x, groups, g, b),
      ref: (x: R.Ref, g: R.Ref, b: R.Ref) => {
        const c = groups * cg, per = cg * h * w;
        const data = x.data.slice();
        for (let i = 0; i < n * groups; i++) {
          const vals = x.data.slice(i * per, (i + 1) * per);
          const mean = vals.reduce((a, v) => a + v, 0) / per;
          const variance = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / per;
          vals.forEach((v, j) => {
            const ch = ((i % groups) * cg + Math.floor(j / (h * w))) % c;
            data[i * per + j] = ((v - mean) / Math.sqrt(variance + 1e-5)) * g.data[ch]! + b.data[ch]!;
          });
        }
        return { data, shape: x.shape };
      },
      label: `x [${n},${groups * cg},${h},${w}] groups ${groups}`,
    })),
  },
  {
    name: 'silu',
    spec: fc.array(int(1, 5), { minLength: 0, maxLength: 3 }).map((s) => ({
      inputs: [real(s)],
      fn: (x: Tensor) => F.silu(x),
      ref: (x: R.Ref) => ({ data: x.data.map((v) => v / (1 + Math.exp(-v))), shape: x.shape }),
      label: `shape ${JSON.stringify(s)}`,
    })),
  },
];
