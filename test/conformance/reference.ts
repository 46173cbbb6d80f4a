// Straightforward reference loops over flat arrays, independent of the library's kernels.

export interface Ref {
  data: number[];
  shape: number[];
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

function ravel(idx: readonly number[], shape: readonly number[]): number {
  const st = stridesOf(shape);
  return idx.reduce((o, v, d) => o + v * st[d]!, 0);
}

export function broadcastShape(...shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => {
    const dims = shapes.map((s) => s[s.length - rank + i] ?? 1);
    return dims.includes(0) ? 0 : Math.max(...dims);
  });
}

/** Element of `r` at output index `idx` under broadcasting. */
function at(r: Ref, idx: readonly number[]): number {
  const lead = idx.length - r.shape.length;
  const own = r.shape.map((d, i) => (d === 1 ? 0 : idx[i + lead]!));
  return r.data[ravel(own, r.shape)]!;
}

export function map(f: (...v: number[]) => number, ...rs: Ref[]): Ref {
  const shape = broadcastShape(...rs.map((r) => r.shape));
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    return f(...rs.map((r) => at(r, idx)));
  });
  return { data, shape };
}

export function reduce(r: Ref, axes: number[], keepdim: boolean, init: number, f: (acc: number, v: number) => number): Ref {
  const outShape = r.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const data = new Array<number>(size(outShape)).fill(init);
  r.data.forEach((v, i) => {
    const idx = unravel(i, r.shape).map((x, d) => (axes.includes(d) ? 0 : x));
    const o = ravel(idx, outShape);
    data[o] = f(data[o]!, v);
  });
  return { data, shape: keepdim ? outShape : r.shape.filter((_, i) => !axes.includes(i)) };
}

export function matmul(a: Ref, b: Ref): Ref {
  const A = a.shape.length === 1 ? { ...a, shape: [1, a.shape[0]!] } : a;
  const B = b.shape.length === 1 ? { ...b, shape: [b.shape[0]!, 1] } : b;
  const [m, k] = A.shape.slice(-2) as [number, number];
  const n = B.shape[B.shape.length - 1]!;
  const batch = broadcastShape(A.shape.slice(0, -2), B.shape.slice(0, -2));
  const shape = [...batch, m, n];
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    const bi = idx.slice(0, -2), r = idx[idx.length - 2]!, c = idx[idx.length - 1]!;
    let s = 0;
    for (let p = 0; p < k; p++) s += at(A, [...bi, r, p]) * at(B, [...bi, p, c]);
    return s;
  });
  let outShape = shape;
  if (a.shape.length === 1) outShape = outShape.filter((_, i) => i !== outShape.length - 2);
  if (b.shape.length === 1) outShape = outShape.slice(0, -1);
  return { data, shape: outShape };
}

export function permute(r: Ref, dims: number[]): Ref {
  const shape = dims.map((d) => r.shape[d]!);
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    const src = new Array<number>(dims.length);
    dims.forEach((d, j) => (src[d] = idx[j]!));
    return r.data[ravel(src, r.shape)]!;
  });
  return { data, shape };
}

export function slice(r: Ref, ranges: [number, number][]): Ref {
  const shape = ranges.map(([s, e]) => e - s);
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape).map((v, d) => v + ranges[d]![0]);
    return r.data[ravel(idx, r.shape)]!;
  });
  return { data, shape };
}

export function gather(r: Ref, axis: number, index: Ref): Ref {
  const data = index.data.map((j, i) => {
    const idx = unravel(i, index.shape);
    idx[axis] = j;
    return r.data[ravel(idx, r.shape)]!;
  });
  return { data, shape: index.shape };
}

export function cat(rs: Ref[], axis: number): Ref {
  const shape = [...rs[0]!.shape];
  shape[axis] = rs.reduce((s, r) => s + r.shape[axis]!, 0);
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    let k = idx[axis]!;
    for (const r of rs) {
      if (k < r.shape[axis]!) {
        idx[axis] = k;
        return r.data[ravel(idx, r.shape)]!;
      }
      k -= r.shape[axis]!;
    }
    throw new Error('unreachable');
  });
  return { data, shape };
}

export function softmaxRef(r: Ref, axis: number, log: boolean): Ref {
  const mx = reduce(r, [axis], true, -Infinity, Math.max);
  const e = map((v, m) => Math.exp(v - m), r, mx);
  const s = reduce(e, [axis], true, 0, (a, v) => a + v);
  return log ? map((v, m, z) => v - m - Math.log(z), r, mx, s) : map((v, z) => v / z, e, s);
}

export function erfRef(x: number): number {
  // Independent of the library's implementation: Simpson integration of 2/sqrt(pi) e^{-t^2}.
  const n = 2000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-(i * h) * (i * h));
  return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
}

/**
 * softmax(q·kᵀ·scale + bias)·v over broadcast batch dims, as PyTorch's math reference: an int32
 * mask (`bool`) or `causal` says where a query may attend, a float mask is added, and a row that
 * may attend nowhere gives zeros.
 */
export function attentionRef(q: Ref, k: Ref, v: Ref, opts: { mask?: Ref; bool?: boolean; causal?: boolean; scale?: number } = {}): Ref {
  const [L, E] = q.shape.slice(-2) as [number, number];
  const S = k.shape[k.shape.length - 2]!, Ev = v.shape[v.shape.length - 1]!;
  const batch = broadcastShape(q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2));
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  const shape = [...batch, L, Ev];
  const data = new Array<number>(size(shape)).fill(0);
  for (let b = 0; b < size(batch); b++) {
    const bi = unravel(b, batch);
    for (let i = 0; i < L; i++) {
      const scores: number[] = [];
      for (let j = 0; j < S; j++) {
        const m = opts.mask ? at(opts.mask, [...bi, i, j]) : 0;
        if ((opts.causal && j > i) || (opts.bool && m === 0)) {
          scores.push(-Infinity);
          continue;
        }
        let s = 0;
        for (let e = 0; e < E; e++) s += at(q, [...bi, i, e]) * at(k, [...bi, j, e]);
        scores.push(s * scale + (opts.mask && !opts.bool ? m : 0));
      }
      const top = Math.max(...scores);
      if (top === -Infinity) continue;
      const w = scores.map((s) => Math.exp(s - top));
      const z = w.reduce((a, x) => a + x, 0);
      for (let c = 0; c < Ev; c++) {
        let o = 0;
        for (let j = 0; j < S; j++) o += (w[j]! / z) * at(v, [...bi, j, c]);
        data[ravel([...bi, i, c], shape)] = o;
      }
    }
  }
  return { data, shape };
}
