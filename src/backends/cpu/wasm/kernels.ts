import type { FusedKernels, View } from '../../../core/backend.js';
import type { TypedArray } from '../../../core/dtype.js';
import { isContiguous } from '../../../core/shape.js';
import { coalesce } from '../strided.js';
import { WASM_BINARY, WASM_UNARY, type WasmBinaryOp, type WasmUnaryOp } from './elementwise.js';
import type { WasmRuntime } from './runtime.js';

/*
 * Runs the module's elementwise kernels on float32 typed-array storages: each operand's span is
 * copied into the scratch memory, the kernel runs four lanes at a time, and the result is copied
 * out. Below MIN_ELEMENTS the copies and the call cost more than the JavaScript loop saves.
 */
const MIN_ELEMENTS = 2048;
/** Rows shorter than this run in JavaScript: the call per row would dominate. */
const MIN_ROW = 16;

export interface ElementwiseThresholds {
  /** Elements from which an op runs in WebAssembly. */
  minElements: number;
  /** The shortest contiguous row a broadcast binary op runs in WebAssembly. */
  minRow: number;
}
let thresholds: ElementwiseThresholds = { minElements: MIN_ELEMENTS, minRow: MIN_ROW };

/**
 * Sets from what size elementwise ops run in WebAssembly and returns the previous settings;
 * tests lower them to run the conformance suite's small tensors through the SIMD kernels.
 *
 * @example
 * const before = configureWasmElementwise({ minElements: 1, minRow: 1 });
 */
export function configureWasmElementwise(next: Partial<ElementwiseThresholds>): ElementwiseThresholds {
  const prev = thresholds;
  thresholds = { ...prev, ...next };
  return prev;
}

type AdamArgs = Parameters<NonNullable<FusedKernels<TypedArray>['adam']>>[0];

const align = (bytes: number) => Math.ceil(bytes / 16) * 16;

export function isWasmBinary(op: string): op is WasmBinaryOp {
  return op in WASM_BINARY;
}

export function isWasmUnary(op: string): op is WasmUnaryOp {
  return (WASM_UNARY as readonly string[]).includes(op);
}

/** The storage elements a strided view touches: [first, last + 1), or null with negative strides. */
function span(offset: number, shape: readonly number[], strides: readonly number[]): [number, number] | null {
  let hi = offset;
  for (let d = 0; d < shape.length; d++) {
    if (strides[d]! < 0) return null;
    hi += (shape[d]! - 1) * strides[d]!;
  }
  return [offset, hi + 1];
}

export class WasmElementwise {
  constructor(private readonly rt: WasmRuntime) {}

  /**
   * a op b for float32 views of one shape, or null to leave it to JavaScript: after coalescing,
   * at most one outer dim, and inner strides of 1 (or 0 for a broadcast scalar).
   */
  binary(op: WasmBinaryOp, a: View<TypedArray>, b: View<TypedArray>): Float32Array | null {
    let n = 1;
    for (const d of a.shape) n *= d;
    if (n < thresholds.minElements || a.dtype !== 'float32') return null;
    const outStrides: number[] = [];
    for (let d = a.shape.length - 1, s = 1; d >= 0; d--) {
      outStrides[d] = s;
      s *= a.shape[d]!;
    }
    const [shape, [, as, bs]] = coalesce(a.shape, [outStrides, a.strides, b.strides]);
    if (shape.length > 2) return null;
    const inner = shape[shape.length - 1]!, rows = shape.length === 2 ? shape[0]! : 1;
    const ai = as![as!.length - 1]!, bi = bs![bs!.length - 1]!;
    if (inner < thresholds.minRow || (ai !== 1 && ai !== 0) || (bi !== 1 && bi !== 0) || (ai === 0 && bi === 0)) return null;
    const sa = span(a.offset, shape, as!), sb = span(b.offset, shape, bs!);
    if (!sa || !sb) return null;
    const aAt = 0, bAt = align((sa[1] - sa[0]) * 4 + 16), outAt = bAt + align((sb[1] - sb[0]) * 4 + 16), end = outAt + n * 4 + 16;
    if (!this.rt.reserve(end)) return null;
    const mem = this.rt.f32();
    mem.set((a.storage as Float32Array).subarray(sa[0], sa[1]), aAt / 4);
    mem.set((b.storage as Float32Array).subarray(sb[0], sb[1]), bAt / 4);
    const kernel = this.rt.exports[`${op}_${ai === 0 ? 'sv' : bi === 0 ? 'vs' : 'vv'}`];
    const ao = shape.length === 2 ? as![0]! : 0, bo = shape.length === 2 ? bs![0]! : 0;
    for (let r = 0; r < rows; r++) kernel(aAt + r * ao * 4, bAt + r * bo * 4, outAt + r * inner * 4, align(inner * 4));
    return mem.slice(outAt / 4, outAt / 4 + n);
  }

  /** op(x) for a float32 view that coalesces to one dim of stride 1, or null to leave it to JavaScript. */
  unary(op: WasmUnaryOp, x: View<TypedArray>): Float32Array | null {
    let n = 1;
    for (const d of x.shape) n *= d;
    if (n < thresholds.minElements || x.dtype !== 'float32') return null;
    const [shape, [xs]] = coalesce(x.shape, [x.strides]);
    if (shape.length !== 1 || xs![0] !== 1) return null;
    const outAt = align(n * 4 + 16), end = 2 * outAt;
    if (!this.rt.reserve(end)) return null;
    const mem = this.rt.f32();
    mem.set((x.storage as Float32Array).subarray(x.offset, x.offset + n), 0);
    this.rt.exports[`${op}_v`](0, outAt, align(n * 4));
    return mem.slice(outAt / 4, outAt / 4 + n);
  }

  /** One fused Adam step on float32 storages with a contiguous gradient; false to leave it to JavaScript. */
  adam(x: AdamArgs): boolean {
    const { size, grad } = x;
    if (!(x.param instanceof Float32Array) || !(grad.storage instanceof Float32Array) || !(x.m instanceof Float32Array) || !(x.v instanceof Float32Array)) return false;
    if (size === 0 || !isContiguous(grad.shape, grad.strides)) return false;
    const bytes = align(size * 4);
    const at = [0, bytes, 2 * bytes, 3 * bytes];
    if (!this.rt.reserve(4 * bytes)) return false;
    const mem = this.rt.f32();
    mem.set(x.param, at[0]! / 4);
    mem.set(grad.storage.subarray(grad.offset, grad.offset + size), at[1]! / 4);
    mem.set(x.m, at[2]! / 4);
    mem.set(x.v, at[3]! / 4);
    this.rt.exports.adam(at[0]!, at[1]!, at[2]!, at[3]!, bytes, x.lr, x.beta1, x.beta2, x.eps, x.biasCorrection1, x.biasCorrection2, x.l2, x.decoupledDecay);
    x.param.set(mem.subarray(at[0]! / 4, at[0]! / 4 + size));
    x.m.set(mem.subarray(at[2]! / 4, at[2]! / 4 + size));
    x.v.set(mem.subarray(at[3]! / 4, at[3]! / 4 + size));
    return true;
  }
}
