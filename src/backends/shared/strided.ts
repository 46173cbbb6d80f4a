import type { TypedArray } from '../../core/dtype.js';

/** An operand of a strided loop: its array, offset and one stride per dim of the loop shape. */
export interface Operand {
  data: TypedArray;
  offset: number;
  strides: readonly number[];
}

/**
 * Merges adjacent dims that every operand walks contiguously, so a contiguous tensor becomes
 * one flat loop. Returns the merged shape and each operand's merged strides.
 */
export function coalesce(shape: readonly number[], strides: (readonly number[])[]): [number[], number[][]] {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * n)) {
      outShape[last]! *= n;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outShape.push(n);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  if (outShape.length === 0) return [[1], strides.map(() => [0])];
  return [outShape, outStrides];
}

/** The loop over some dims of a view: their coalesced shape and the view's strides along them. */
export interface Walk {
  shape: number[];
  strides: number[];
}

/**
 * Splits a view's dims into the kept ones and the reduced `axes` (sorted), each coalesced on its
 * own: a reduction walks `kept` once per output element (in the output's row-major order) and
 * `reduced` within it. `keptShape` is the output's shape.
 *
 * @example
 * splitReduced([2, 3, 4], [12, 4, 1], [1]); // kept: { shape: [2, 4], strides: [12, 1] }, reduced: { shape: [3], strides: [4] }
 */
export function splitReduced(shape: readonly number[], strides: readonly number[], axes: readonly number[]): { keptShape: number[]; kept: Walk; reduced: Walk } {
  const keep = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const keptShape = keep.map((d) => shape[d]!);
  const [ks, [kst]] = coalesce(keptShape, [keep.map((d) => strides[d]!)]);
  const [rs, [rst]] = coalesce(axes.map((d) => shape[d]!), [axes.map((d) => strides[d]!)]);
  return { keptShape, kept: { shape: ks, strides: kst! }, reduced: { shape: rs, strides: rst! } };
}

/**
 * The strides, over all of `shape`, of the contiguous result of reducing its `axes`: 0 along
 * those, so a map into it accumulates each reduced block into one element.
 *
 * @example
 * reducedStrides([2, 3, 4], [1]); // [4, 0, 1]
 */
export function reducedStrides(shape: readonly number[], axes: readonly number[]): number[] {
  let stride = 1;
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    if (axes.includes(d)) out[d] = 0;
    else {
      out[d] = stride;
      stride *= shape[d]!;
    }
  }
  return out;
}

type MapKernel = (out: Operand, ins: Operand[], shape: number[]) => void;
const cache = new Map<string, MapKernel>();

/**
 * Compiles (once per expression and dtypes) a loop that writes `expr` of the inputs `v0, v1, ...`
 * into a strided output: the innermost dim is a tight loop, outer dims advance by counters.
 * In `expr`, `acc` reads the output's current value, which makes a reduction a map whose output
 * has stride 0 along the reduced dims; when the innermost dim is reduced, the running value stays
 * in a register instead of going through memory. `helpers` are extra functions the expression may
 * call (for example `erf`).
 */
export function mapKernel(expr: string, out: Operand, ins: Operand[], helpers: Record<string, unknown> = {}): MapKernel {
  // One compiled function per dtype combination keeps every element access monomorphic: a loop
  // that has seen Float32Array and Float64Array alike runs several times slower.
  const key = `${expr}|${out.data.constructor.name}|${ins.map((o) => o.data.constructor.name).join(',')}`;
  let k = cache.get(key);
  if (k) return k;
  const ids = ins.map((_, i) => i);
  const loads = ids.map((i) => `const v${i} = d${i}[i${i}]; i${i} += is${i};`).join(' ');
  const accumulates = /\bacc\b/.test(expr);
  const inner = accumulates
    ? `if (ois === 0) {
        let acc = od[oi];
        for (let j = 0; j < inner; j++) { ${loads} acc = ${expr}; }
        od[oi] = acc;
      } else {
        for (let j = 0; j < inner; j++) { ${loads} const acc = od[oi]; od[oi] = ${expr}; oi += ois; }
      }`
    : `for (let j = 0; j < inner; j++) { ${loads} od[oi] = ${expr}; oi += ois; }`;
  const body = `
    const rank = shape.length, inner = shape[rank - 1];
    const od = out.data, os = out.strides, ois = os[rank - 1];
    ${ids.map((i) => `const d${i} = ins[${i}].data, s${i} = ins[${i}].strides, is${i} = s${i}[rank - 1];`).join('\n')}
    let oo = out.offset${ids.map((i) => `, o${i} = ins[${i}].offset`).join('')};
    let outer = 1;
    for (let d = 0; d < rank - 1; d++) outer *= shape[d];
    const idx = new Int32Array(rank);
    for (let r = 0; r < outer; r++) {
      let oi = oo${ids.map((i) => `, i${i} = o${i}`).join('')};
      ${inner}
      for (let d = rank - 2; d >= 0; d--) {
        idx[d]++; oo += os[d];${ids.map((i) => ` o${i} += s${i}[d];`).join('')}
        if (idx[d] < shape[d]) break;
        idx[d] = 0; oo -= os[d] * shape[d];${ids.map((i) => ` o${i} -= s${i}[d] * shape[d];`).join('')}
      }
    }`;
  const names = Object.keys(helpers);
  const make = new Function(...names, `return function(out, ins, shape) {${body}\n};`);
  k = make(...names.map((n) => helpers[n])) as MapKernel;
  cache.set(key, k);
  return k;
}

/** Runs `expr` over operands that share `shape` (`acc`: see `mapKernel`), coalescing dims first. */
export function runMap(expr: string, shape: readonly number[], out: Operand, ins: Operand[], helpers?: Record<string, unknown>): void {
  let n = 1;
  for (const d of shape) n *= d;
  if (n === 0) return;
  const [cs, cst] = coalesce(shape, [out.strides, ...ins.map((o) => o.strides)]);
  const o = { data: out.data, offset: out.offset, strides: cst[0]! };
  const is = ins.map((x, i) => ({ data: x.data, offset: x.offset, strides: cst[i + 1]! }));
  mapKernel(expr, o, is, helpers)(o, is, cs);
}
