/*
 * A small typed emitter of WebAssembly binaries: just the instructions the CPU kernels use,
 * named as in the WebAssembly text format, so a kernel's TypeScript reads like its .wat source.
 * Code is a flat list of bytes; `Fn` names locals; `forLoop` and friends build the structured
 * control flow. The module imports one memory (`env.memory`), shared when threads use it.
 */

export type Code = readonly number[];
export type ValType = 'i32' | 'f32' | 'f64' | 'v128';
const VALTYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** Unsigned LEB128. */
export function u32(n: number): Code {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128. */
export function s32(n: number): Code {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

function f32Bytes(x: number): Code {
  return [...new Uint8Array(new Float32Array([x]).buffer)];
}

/** A SIMD instruction: the 0xfd prefix, then its number. */
const simd = (op: number): Code => [0xfd, ...u32(op)];
/** A memory instruction's immediate: log2 alignment and a constant byte offset. */
const memarg = (align: number, offset: number): Code => [align, ...u32(offset)];

/** The instructions the kernels use, named after the text format (`i32.add` is `i32.add`). */
export const i32 = {
  const: (v: number): Code => [0x41, ...s32(v | 0)],
  add: [0x6a], sub: [0x6b], mul: [0x6c], div_u: [0x6e], rem_u: [0x70],
  lt_s: [0x48], lt_u: [0x49], ge_s: [0x4e], eqz: [0x45], eq: [0x46],
} as const;

export const f32 = {
  const: (v: number): Code => [0x43, ...f32Bytes(v)],
  load: (offset = 0): Code => [0x2a, ...memarg(2, offset)],
  store: (offset = 0): Code => [0x38, ...memarg(2, offset)],
  demote_f64: [0xb6], min: [0x96], max: [0x97],
} as const;

export const f64 = {
  add: [0xa0],
} as const;

export const v128 = {
  load: (offset = 0): Code => [...simd(0x00), ...memarg(4, offset)],
  store: (offset = 0): Code => [...simd(0x0b), ...memarg(4, offset)],
  load32_splat: (offset = 0): Code => [...simd(0x09), ...memarg(2, offset)],
  /** Two floats into the low half, zeros above. */
  load64_zero: (offset = 0): Code => [...simd(0x5d), ...memarg(3, offset)],
  /** Lanes of a where the mask's bits are set, of b elsewhere: (a, b, mask). */
  bitselect: simd(0x52),
  and: simd(0x4e), or: simd(0x50),
  const_i32x4: (lanes: readonly [number, number, number, number]): Code => [...simd(0x0c), ...lanes.flatMap((l) => [l & 0xff, (l >> 8) & 0xff, (l >> 16) & 0xff, (l >>> 24) & 0xff])],
} as const;

export const i8x16 = {
  /** Bytes of (a, b) picked by 16 indices (0–15 from a, 16–31 from b). */
  shuffle: (lanes: readonly number[]): Code => [...simd(0x0d), ...lanes],
} as const;

export const f32x4 = {
  splat: simd(0x13),
  abs: simd(0xe0), neg: simd(0xe1), sqrt: simd(0xe3), nearest: simd(0x6a),
  add: simd(0xe4), sub: simd(0xe5), mul: simd(0xe6), div: simd(0xe7), min: simd(0xe8), max: simd(0xe9),
  /** b < a ? b : a */
  pmin: simd(0xea),
  /** a < b ? b : a */
  pmax: simd(0xeb),
  /** Relaxed SIMD: a·b + c, fused or not as the hardware prefers. */
  relaxed_madd: simd(0x105),
  extract_lane: (lane: number): Code => [...simd(0x1f), lane],
  /** The four i32 lanes converted to f32. */
  convert_i32x4_s: simd(0xfa),
  /** Comparisons: all ones in a lane where true, zeros where false (NaN compares false but in ne). */
  eq: simd(0x41), ne: simd(0x42), lt: simd(0x43), gt: simd(0x44), le: simd(0x45), ge: simd(0x46),
} as const;

export const f64x2 = {
  add: simd(0xf0),
  /** The two low f32 lanes, widened. */
  promote_low_f32x4: simd(0x5f),
  extract_lane: (lane: number): Code => [...simd(0x21), lane],
} as const;

export const i32x4 = {
  splat: simd(0x11),
  add: simd(0xae), sub: simd(0xb1), shl: simd(0xab), shr_s: simd(0xac), lt_s: simd(0x39), ne: simd(0x38),
  /** Round toward zero, saturating; NaN becomes 0. */
  trunc_sat_f32x4_s: simd(0xf8),
} as const;

export const ctl = {
  br: (depth: number): Code => [0x0c, ...u32(depth)],
  br_if: (depth: number): Code => [0x0d, ...u32(depth)],
  call: (fn: number): Code => [0x10, ...u32(fn)],
  select: [0x1b],
} as const;

/** A parameter: a name (an i32) or a name and its type. */
export type Param = string | readonly [string, ValType];

/** A function under construction: typed parameters and locals, referred to by name. */
export class Fn {
  private readonly names = new Map<string, number>();
  private readonly localTypes: ValType[] = [];
  private readonly paramTypes: ValType[];

  constructor(
    readonly name: string,
    readonly params: readonly Param[],
    readonly results: readonly ValType[] = [],
  ) {
    params.forEach((p, i) => this.names.set(typeof p === 'string' ? p : p[0], i));
    this.paramTypes = params.map((p) => (typeof p === 'string' ? 'i32' : p[1]));
  }

  /** Whether a parameter or local of this name exists. */
  has(name: string): boolean {
    return this.names.has(name);
  }

  /** Declares locals of one type. */
  locals(type: ValType, ...names: string[]): this {
    for (const n of names) {
      this.names.set(n, this.params.length + this.localTypes.length);
      this.localTypes.push(type);
    }
    return this;
  }

  private index(name: string): number {
    const i = this.names.get(name);
    if (i === undefined) throw new Error(`wasm emitter: ${this.name} has no local '${name}'`);
    return i;
  }

  get(name: string): Code {
    return [0x20, ...u32(this.index(name))];
  }

  set(name: string, ...value: Code[]): Code {
    return [...value.flat(), 0x21, ...u32(this.index(name))];
  }

  /** name += by (i32). */
  inc(name: string, by: Code | number): Code {
    return this.set(name, this.get(name), typeof by === 'number' ? i32.const(by) : by, i32.add);
  }

  /** The function's body bytes with its local declarations. */
  encode(body: Code): Code {
    const groups: number[] = [];
    let count = 0;
    for (let i = 0; i < this.localTypes.length; ) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      groups.push(...u32(j - i), VALTYPE[this.localTypes[i]!]);
      count++;
      i = j;
    }
    const code = [...u32(count), ...groups, ...body, 0x0b];
    return [...u32(code.length), ...code];
  }

  get type(): Code {
    return [0x60, ...u32(this.params.length), ...this.paramTypes.map((t) => VALTYPE[t]), ...u32(this.results.length), ...this.results.map((r) => VALTYPE[r])];
  }
}

/** for (i = from; i < to; i += step) body — `to` is re-evaluated each round. */
export function forLoop(f: Fn, i: string, from: Code, to: Code, step: Code | number, body: Code): Code {
  return [
    ...f.set(i, from),
    0x02, 0x40, // block
    0x03, 0x40, // loop
    ...f.get(i), ...to, ...i32.ge_s, ...ctl.br_if(1),
    ...body,
    ...f.inc(i, step),
    ...ctl.br(0),
    0x0b, 0x0b,
  ];
}

/** do body while (cond) — for loops known to run at least once. */
export function doWhile(body: Code, cond: Code): Code {
  return [0x03, 0x40, ...body, ...cond, ...ctl.br_if(0), 0x0b];
}

/** if (cond) then else otherwise. */
export function ifElse(cond: Code, then: Code, otherwise: Code = []): Code {
  return [...cond, 0x04, 0x40, ...then, ...(otherwise.length ? [0x05, ...otherwise] : []), 0x0b];
}

/** The smaller of two i32 values (signed). */
export function minI32(a: Code, b: Code, f: Fn, tmpA: string, tmpB: string): Code {
  return [...f.set(tmpA, a), ...f.set(tmpB, b), ...f.get(tmpA), ...f.get(tmpB), ...f.get(tmpA), ...f.get(tmpB), ...i32.lt_s, ...ctl.select];
}

function section(id: number, body: Code): Code {
  return [id, ...u32(body.length), ...body];
}

function vec(items: Code[]): Code {
  return [...u32(items.length), ...items.flat()];
}

function name(s: string): Code {
  const bytes = [...new TextEncoder().encode(s)];
  return [...u32(bytes.length), ...bytes];
}

/**
 * A module that imports `env.memory` (at least `minPages`, at most `maxPages`; shared if asked)
 * and exports every function by its name. `bodies[i]` is the code of `fns[i]`; a function calls
 * another by its index in `fns`.
 */
export function encodeModule(fns: { fn: Fn; body: Code }[], memory: { minPages: number; maxPages: number; shared: boolean }): Uint8Array<ArrayBuffer> {
  const types = section(1, vec(fns.map(({ fn }) => fn.type)));
  const limits = [memory.shared ? 0x03 : 0x01, ...u32(memory.minPages), ...u32(memory.maxPages)];
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]]));
  const funcs = section(3, vec(fns.map((_, i) => u32(i))));
  const exports = section(7, vec(fns.map(({ fn }, i) => [...name(fn.name), 0x00, ...u32(i)])));
  const code = section(10, vec(fns.map(({ fn, body }) => fn.encode(body))));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...funcs, ...exports, ...code]);
}
