import type { FusedKernels, View } from '../../../core/backend.js';
import type { TypedArray } from '../../../core/dtype.js';
import { isContiguous } from '../../../core/shape.js';
import { coalesce } from '../../shared/strided.js';
import { WASM_BINARY, WASM_UNARY, type WasmBinaryOp, type WasmUnaryOp } from './elementwise.js';
import type { Arena, Span } from './arena.js';
import { WASM_SPECIAL, type WasmSpecialOp } from './special.js';
import { ParallelElementwise } from './parallel.js';
import type { WasmExports } from './runtime.js';

/*
 * Runs the module's elementwise kernels on float32 storages, four lanes at a time. A storage in
 * the module's memory (see arena.ts) is read and written in place; any other operand is copied
 * into the scratch first, and a result the memory has no room for is copied out. Below
 * MIN_ELEMENTS the copies and the call cost more than the JavaScript loop saves; with every
 * operand in the memory the call alone is the cost, and the kernels win from MIN_IN_MEMORY.
 */
const MIN_ELEMENTS = 2048;
const MIN_IN_MEMORY = 64;
/** Rows shorter than this run in JavaScript: the call per row would dominate. */
const MIN_ROW = 16;

export interface ElementwiseThresholds {
  /** Elements from which an op runs in WebAssembly when an operand must be copied in. */
  minElements: number;
  /** Elements from which an op runs in WebAssembly when every operand is in the module's memory. */
  minInMemory: number;
  /** The shortest contiguous row a broadcast binary op runs in WebAssembly. */
  minRow: number;
}
let thresholds: ElementwiseThresholds = { minElements: MIN_ELEMENTS, minInMemory: MIN_IN_MEMORY, minRow: MIN_ROW };

/**
 * Sets from what size elementwise ops run in WebAssembly and returns the previous settings;
 * tests lower them to run the conformance suite's small tensors through the SIMD kernels.
 *
 * @example
 * const before = configureWasmElementwise({ minElements: 1, minInMemory: 1, minRow: 1 });
 */
export function configureWasmElementwise(next: Partial<ElementwiseThresholds>): ElementwiseThresholds {
  const prev = thresholds;
  thresholds = { ...prev, ...next };
  return prev;
}

/** The settings `configureWasmElementwise` made. */
export function elementwiseThresholds(): ElementwiseThresholds {
  return thresholds;
}

/** True when an op of n float32 elements on these storages is worth a WebAssembly call. */
export function worthWasm(arena: Arena, n: number, storages: readonly TypedArray[]): boolean {
  const inMemory = storages.every((s) => arena.addressOf(s) >= 0);
  return n >= (inMemory ? thresholds.minInMemory : thresholds.minElements);
}

type AdamArgs = Parameters<NonNullable<FusedKernels<TypedArray>['adam']>>[0];

const align = (bytes: number) => Math.ceil(bytes / 16) * 16;

export function isWasmBinary(op: string): op is WasmBinaryOp {
  return op in WASM_BINARY;
}

export function isWasmUnary(op: string): op is WasmUnaryOp | WasmSpecialOp {
  return (WASM_UNARY as readonly string[]).includes(op) || (WASM_SPECIAL as readonly string[]).includes(op);
}

/** The storage elements a strided view touches: [first, last + 1), or null with negative strides. */
export function span(offset: number, shape: readonly number[], strides: readonly number[]): [number, number] | null {
  let hi = offset;
  for (let d = 0; d < shape.length; d++) {
    if (strides[d]! < 0) return null;
    hi += (shape[d]! - 1) * strides[d]!;
  }
  return [offset, hi + 1];
}

export class WasmElementwise {
  private readonly parallel: ParallelElementwise | null;

  constructor(private readonly arena: Arena) {
    this.parallel = arena.rt.shared ? new ParallelElementwise(arena.rt) : null;
  }

  /** Runs the export `name` on whole vectors, split between threads when it is large enough. */
  private call(name: string, n: number, a: number, b: number | null, out: number, bytes: number): void {
    if (this.parallel?.run(name, n, a, b, out, bytes)) return;
    const kernel = this.arena.rt.exports[name as keyof WasmExports] as (...args: number[]) => void;
    if (b === null) kernel(a, out, bytes);
    else kernel(a, b, out, bytes);
  }

  /**
   * a op b for float32 views of one shape, or null to leave it to JavaScript: after coalescing,
   * at most one outer dim, and inner strides of 1 (or 0 for a broadcast scalar).
   */
  binary(op: WasmBinaryOp, a: View<TypedArray>, b: View<TypedArray>): Float32Array | null {
    let n = 1;
    for (const d of a.shape) n *= d;
    if (a.dtype !== 'float32' || !worthWasm(this.arena, n, [a.storage, b.storage])) return null;
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
    const s = this.arena.stage([{ data: a.storage as Float32Array, from: sa[0], to: sa[1] }, { data: b.storage as Float32Array, from: sb[0], to: sb[1] }], n);
    if (!s) return null;
    const name = `${op}_${ai === 0 ? 'sv' : bi === 0 ? 'vs' : 'vv'}` as const;
    const ao = shape.length === 2 ? as![0]! : 0, bo = shape.length === 2 ? bs![0]! : 0;
    const [aAt, bAt] = s.at as [number, number];
    if (rows === 1) {
      this.call(name, n, aAt, bAt, s.outAt, align(n * 4));
      return this.arena.result(s, n);
    }
    const kernel = this.arena.rt.exports[name];
    // Rows go in order: a row's last vector may spill into the next row, which then overwrites it.
    for (let r = 0; r < rows; r++) kernel(aAt + r * ao * 4, bAt + r * bo * 4, s.outAt + r * inner * 4, align(inner * 4));
    return this.arena.result(s, n);
  }

  /** op(x) for a float32 view that coalesces to one dim of stride 1, or null to leave it to JavaScript. */
  unary(op: WasmUnaryOp | WasmSpecialOp, x: View<TypedArray>): Float32Array | null {
    let n = 1;
    for (const d of x.shape) n *= d;
    if (x.dtype !== 'float32' || !worthWasm(this.arena, n, [x.storage])) return null;
    const [shape, [xs]] = coalesce(x.shape, [x.strides]);
    if (shape.length !== 1 || xs![0] !== 1) return null;
    const s = this.arena.stage([{ data: x.storage as Float32Array, from: x.offset, to: x.offset + n }], n);
    if (!s) return null;
    this.call(`${op}_v`, n, s.at[0]!, null, s.outAt, align(n * 4));
    return this.arena.result(s, n);
  }

  /** One fused Adam step on float32 storages with a contiguous gradient; false to leave it to JavaScript. */
  adam(x: AdamArgs): boolean {
    const { size, grad } = x;
    if (!(x.param instanceof Float32Array) || !(grad.storage instanceof Float32Array) || !(x.m instanceof Float32Array) || !(x.v instanceof Float32Array)) return false;
    if (size === 0 || !isContiguous(grad.shape, grad.strides)) return false;
    const whole = (data: Float32Array): Span => ({ data, from: 0, to: size });
    const spans = [whole(x.param), { data: grad.storage, from: grad.offset, to: grad.offset + size }, whole(x.m), whole(x.v)];
    const s = this.arena.stage(spans, 0);
    if (!s) return false;
    const [p, g, m, v] = s.at as [number, number, number, number];
    this.arena.rt.exports.adam(p, g, m, v, align(size * 4), x.lr, x.beta1, x.beta2, x.eps, x.biasCorrection1, x.biasCorrection2, x.l2, x.decoupledDecay);
    // param, m and v outside the memory get their new values copied back.
    const mem = this.arena.rt.f32();
    for (const i of [0, 2, 3]) {
      const { data } = spans[i]!;
      if (this.arena.addressOf(data) < 0) data.set(mem.subarray(s.at[i]! / 4, s.at[i]! / 4 + size));
    }
    return true;
  }
}
