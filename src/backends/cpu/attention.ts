import type { AttentionArgs, View } from '../../core/backend.js';
import { type TypedArray, typedArrayFor } from '../../core/dtype.js';
import { sizeOf } from '../../core/shape.js';

/*
 * Scaled dot-product attention in plain JavaScript, for float64 and for what the WebAssembly
 * kernel (wasm/attention.ts) leaves. One query row at a time: its scores against every key go
 * into one row buffer of S numbers, so nothing of size L·S is ever stored, and the backward
 * recomputes each row's weights from q, k and the saved row logsumexp (FlashAttention-2's
 * backward with one-row tiles).
 */

type Args = AttentionArgs<TypedArray>;
export type AttentionBackwardArgs = Args & { out: View<TypedArray>; logsumexp: View<TypedArray>; grad: View<TypedArray> };

/** The storage offset of each matrix of a view [...batch, rows, cols], batch in row-major order. */
export function batchOffsets(v: View<unknown>): number[] {
  const batch = v.shape.slice(0, -2);
  const out: number[] = [];
  const idx = new Array<number>(batch.length).fill(0);
  for (let n = sizeOf(batch), t = 0; t < n; t++) {
    let o = v.offset;
    for (let d = 0; d < batch.length; d++) o += idx[d]! * v.strides[d]!;
    out.push(o);
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d]! < batch[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** A matrix of a strided view: element (r, c) of batch entry t is data[at[t] + r·row + c·col]. */
interface Mat {
  data: TypedArray;
  at: number[];
  row: number;
  col: number;
}

function mat(v: View<TypedArray>): Mat {
  const r = v.shape.length;
  return { data: v.storage, at: batchOffsets(v), row: v.strides[r - 2]!, col: v.strides[r - 1]! };
}

/** Fills `s` (length S) with row i's scores of batch entry t: scaled, masked (−∞ where a key is hidden). */
function scoreRow(x: Args, q: Mat, k: Mat, m: Mat | null, t: number, i: number, E: number, s: Float64Array): void {
  const S = s.length, intMask = x.mask?.dtype === 'int32';
  const qi = q.at[t]! + i * q.row;
  for (let j = 0; j < S; j++) {
    if (x.isCausal && j > i) {
      s[j] = -Infinity;
      continue;
    }
    const mv = m ? m.data[m.at[t]! + i * m.row + j * m.col]! : 0;
    if (intMask && mv === 0) {
      s[j] = -Infinity;
      continue;
    }
    let dot = 0;
    for (let e = 0, kj = k.at[t]! + j * k.row; e < E; e++) dot += q.data[qi + e * q.col]! * k.data[kj + e * k.col]!;
    s[j] = dot * x.scale + (m && !intMask ? mv : 0);
  }
}

/** The forward: out [...B, L, Ev] and the row logsumexp [...B, L] (+∞ for a row that attends nowhere). */
export function attentionJs(x: Args): { out: TypedArray; logsumexp: TypedArray } {
  const [L, E] = x.query.shape.slice(-2) as [number, number];
  const S = x.key.shape.at(-2)!, Ev = x.value.shape.at(-1)!;
  const q = mat(x.query), k = mat(x.key), v = mat(x.value);
  const m = x.mask && mat(x.mask), z = x.dropout && mat(x.dropout);
  const batches = q.at.length;
  const out = typedArrayFor(x.query.dtype, batches * L * Ev), lse = typedArrayFor(x.query.dtype, batches * L);
  const s = new Float64Array(S), acc = new Float64Array(Ev);
  for (let t = 0; t < batches; t++) {
    for (let i = 0; i < L; i++) {
      scoreRow(x, q, k, m, t, i, E, s);
      let top = -Infinity;
      for (let j = 0; j < S; j++) if (s[j]! > top || s[j] !== s[j]) top = s[j]!;
      const o = (t * L + i) * Ev;
      if (top === -Infinity) {
        out.fill(0, o, o + Ev);
        lse[t * L + i] = Infinity;
        continue;
      }
      let sum = 0;
      acc.fill(0);
      for (let j = 0; j < S; j++) {
        const p = Math.exp(s[j]! - top);
        sum += p;
        const pz = z ? p * z.data[z.at[t]! + i * z.row + j * z.col]! : p;
        if (pz === 0) continue;
        for (let c = 0, vj = v.at[t]! + j * v.row; c < Ev; c++) acc[c] += pz * v.data[vj + c * v.col]!;
      }
      for (let c = 0; c < Ev; c++) out[o + c] = acc[c]! / sum;
      lse[t * L + i] = top + Math.log(sum);
    }
  }
  return { out, logsumexp: lse };
}

/**
 * The backward from the forward's out and logsumexp: P = exp(s − lse) per row, then with
 * D = rowsum(dO∘O), dV += (P∘Z)ᵀdO, dS = P∘(Z∘(dO·Vᵀ) − D), dQ = dS·K·scale, dK += dSᵀ·Q·scale.
 */
export function attentionBackwardJs(x: AttentionBackwardArgs): { query: TypedArray; key: TypedArray; value: TypedArray } {
  const [L, E] = x.query.shape.slice(-2) as [number, number];
  const S = x.key.shape.at(-2)!, Ev = x.value.shape.at(-1)!;
  const q = mat(x.query), k = mat(x.key), v = mat(x.value), o = mat(x.out), dO = mat(x.grad);
  const m = x.mask && mat(x.mask), z = x.dropout && mat(x.dropout);
  const lse = x.logsumexp;
  const batches = q.at.length, dt = x.query.dtype;
  const dq = typedArrayFor(dt, batches * L * E), dk = typedArrayFor(dt, batches * S * E), dv = typedArrayFor(dt, batches * S * Ev);
  const s = new Float64Array(S);
  for (let t = 0; t < batches; t++) {
    for (let i = 0; i < L; i++) {
      const rowLse = lse.storage[lse.offset + t * L + i]!;
      if (rowLse === Infinity) continue;
      scoreRow(x, q, k, m, t, i, E, s);
      const oi = o.at[t]! + i * o.row, gi = dO.at[t]! + i * dO.row, qi = q.at[t]! + i * q.row;
      let D = 0;
      for (let c = 0; c < Ev; c++) D += dO.data[gi + c * dO.col]! * o.data[oi + c * o.col]!;
      for (let j = 0; j < S; j++) {
        const p = Math.exp(s[j]! - rowLse);
        if (p === 0) continue;
        const zj = z ? z.data[z.at[t]! + i * z.row + j * z.col]! : 1;
        const vj = v.at[t]! + j * v.row, dvj = (t * S + j) * Ev;
        let dp = 0;
        for (let c = 0; c < Ev; c++) {
          const g = dO.data[gi + c * dO.col]!;
          dv[dvj + c] += p * zj * g;
          dp += g * v.data[vj + c * v.col]!;
        }
        const ds = p * (zj * dp - D) * x.scale;
        const kj = k.at[t]! + j * k.row, dqi = (t * L + i) * E, dkj = (t * S + j) * E;
        for (let e = 0; e < E; e++) {
          dq[dqi + e] += ds * k.data[kj + e * k.col]!;
          dk[dkj + e] += ds * q.data[qi + e * q.col]!;
        }
      }
    }
  }
  return { query: dq, key: dk, value: dv };
}
