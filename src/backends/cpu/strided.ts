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

type MapKernel = (out: Operand, ins: Operand[], shape: number[]) => void;
const cache = new Map<string, MapKernel>();

/**
 * Compiles (once per expression) a loop that writes `expr` of the inputs `v0, v1, ...` into a
 * strided output: the innermost dim is a tight loop, outer dims advance by counters.
 * `helpers` are extra functions the expression may call (for example `erf`).
 */
export function mapKernel(expr: string, arity: number, helpers: Record<string, unknown> = {}): MapKernel {
  const key = `${arity}|${expr}`;
  let k = cache.get(key);
  if (k) return k;
  const ids = Array.from({ length: arity }, (_, i) => i);
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
      for (let j = 0; j < inner; j++) {
        ${ids.map((i) => `const v${i} = d${i}[i${i}]; i${i} += is${i};`).join(' ')}
        od[oi] = ${expr}; oi += ois;
      }
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

/** Runs `expr` over operands that share `shape`, coalescing dims first. */
export function runMap(expr: string, shape: readonly number[], out: Operand, ins: Operand[], helpers?: Record<string, unknown>): void {
  let n = 1;
  for (const d of shape) n *= d;
  if (n === 0) return;
  const [cs, cst] = coalesce(shape, [out.strides, ...ins.map((o) => o.strides)]);
  mapKernel(expr, ins.length, helpers)(
    { data: out.data, offset: out.offset, strides: cst[0]! },
    ins.map((o, i) => ({ data: o.data, offset: o.offset, strides: cst[i + 1]! })),
    cs,
  );
}
