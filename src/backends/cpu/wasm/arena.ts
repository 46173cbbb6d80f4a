import type { TypedArray } from '../../../core/dtype.js';
import type { WasmRuntime } from './runtime.js';

/*
 * The module's memory as an allocator. Where the memory is shared (Node; cross-origin isolated
 * pages), float32 storages live in it, as tfjs-backend-wasm's tensors do, and kernels read and
 * write them in place: growing a shared memory never moves or detaches its bytes, so every
 * storage's Float32Array stays valid. A memory that is not shared detaches its views when it
 * grows, so there storages stay ordinary typed arrays and the arena serves only the kernels'
 * scratch, into which operands are copied.
 *
 * Blocks are 16-byte aligned, have 64 bytes to spare after their storage, and are rounded up to a
 * size class (at most an eighth more than asked), so a kernel that steps four vectors at a time
 * may read or write past a storage's last element without touching another block. A freed block
 * waits on its class's free list for the next storage of that class; a training loop asks for the
 * same sizes every step, so after the first step it allocates nothing. WebAssembly memory never
 * shrinks: the arena keeps the most that was ever live at once.
 */

/** Storages stop moving into the memory once it holds this much, leaving the rest for scratch. */
const STORAGE_LIMIT = 1536 * 2 ** 20;
/** Bytes a block keeps after its storage, for the last vectors of a kernel's step that run past it. */
export const SLACK = 64;

/** Bytes for a copy of `bytes` in the scratch, with the same slack as a block. */
const padded = (bytes: number) => Math.ceil(bytes / 16) * 16 + SLACK;

/** A float32 operand of a kernel call: elements [from, to) of a storage. */
export interface Span {
  data: Float32Array;
  from: number;
  to: number;
}

/** Where one kernel call's operands and result are, as byte addresses in the memory. */
export interface Staged {
  at: number[];
  out: Float32Array | null;
  outAt: number;
  /** The extra scratch bytes asked for, 16-byte aligned. */
  extraAt: number;
}

/** The block size for `bytes`: a multiple of 16, within an eighth above it. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 1024) return b;
  const step = 2 ** (Math.floor(Math.log2(b)) - 3);
  return Math.ceil(b / step) * step;
}

export class Arena {
  /** The first byte never handed out; address 0 stays unused. */
  private top = 16;
  private readonly freeBlocks = new Map<number, number[]>();
  /** Every buffer object the memory has had (growth replaces it), to recognise our storages. */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private scratchAt = 0;
  private scratchBytes = 0;
  /** True when float32 storages live in the memory. */
  readonly resident: boolean;

  constructor(
    readonly rt: WasmRuntime,
    private readonly storageLimit = STORAGE_LIMIT,
  ) {
    this.resident = rt.shared;
  }

  /** Bytes of the memory handed out so far (live, free-listed and scratch blocks). */
  get usedBytes(): number {
    return this.top;
  }

  private block(bytes: number, limit: number): number {
    const size = sizeClass(bytes);
    const reused = this.freeBlocks.get(size)?.pop();
    if (reused !== undefined) return reused;
    if (this.top + size > limit || !this.rt.reserve(this.top + size)) return -1;
    const at = this.top;
    this.top += size;
    return at;
  }

  /** A float32 storage of n elements inside the memory (its contents undefined), or null. */
  float32(n: number): Float32Array | null {
    if (!this.resident || n === 0) return null;
    const at = this.block(n * 4 + SLACK, this.storageLimit);
    if (at < 0) return null;
    const buffer = this.rt.memory.buffer;
    this.buffers.add(buffer);
    return new Float32Array(buffer, at, n);
  }

  /** The byte address of a storage inside the memory, or -1 for any other array. */
  addressOf(a: TypedArray): number {
    return this.buffers.has(a.buffer) ? a.byteOffset : -1;
  }

  /** Returns a storage's block to its free list; false if the storage is not in the memory. */
  release(a: TypedArray): boolean {
    const at = this.addressOf(a);
    if (at < 0) return false;
    this.toFreeList(sizeClass(a.byteLength + SLACK), at);
    return true;
  }

  private toFreeList(size: number, at: number): void {
    const list = this.freeBlocks.get(size);
    if (list) list.push(at);
    else this.freeBlocks.set(size, [at]);
  }

  /**
   * The address of a scratch block of at least `bytes`, reused by every kernel call (one at a
   * time), or -1 if the memory cannot grow that far.
   */
  scratch(bytes: number): number {
    if (bytes <= this.scratchBytes) return this.scratchAt;
    if (this.scratchBytes > 0) this.toFreeList(this.scratchBytes, this.scratchAt);
    this.scratchBytes = 0;
    const at = this.block(bytes, this.rt.maxBytes);
    if (at < 0) return -1;
    this.scratchAt = at;
    this.scratchBytes = sizeClass(bytes);
    return at;
  }

  /** Forgets the scratch block without reusing it: a worker that timed out may still write there. */
  abandonScratch(): void {
    this.scratchBytes = 0;
  }

  /**
   * Addresses for a kernel call: storages in the memory in place, other inputs copied into the
   * scratch, the result (of `outElems`) in a new storage in the memory, or in the scratch when
   * there is none, and `extra` bytes of scratch for the kernel. Null if the memory cannot grow
   * that far.
   */
  stage(inputs: Span[], outElems: number, extra = 0): Staged | null {
    const out = outElems > 0 ? this.float32(outElems) : null;
    const resident = inputs.map((x) => this.addressOf(x.data));
    const copied = inputs.map((x, i) => (resident[i]! < 0 ? padded((x.to - x.from) * 4) : 0));
    const outBytes = out || outElems === 0 ? 0 : padded(outElems * 4);
    const scratchBytes = copied.reduce((s, b) => s + b, 0) + outBytes + (extra > 0 ? padded(extra) : 0);
    const base = scratchBytes > 0 ? this.scratch(scratchBytes) : 0;
    if (base < 0) {
      if (out) this.release(out);
      return null;
    }
    const mem = this.rt.f32();
    let next = base;
    const at = inputs.map((x, i) => {
      if (resident[i]! >= 0) return resident[i]! + x.from * 4;
      mem.set(x.data.subarray(x.from, x.to), next / 4);
      next += copied[i]!;
      return next - copied[i]!;
    });
    return { at, out, outAt: out ? out.byteOffset : next, extraAt: next + outBytes };
  }

  /** The result of a staged call: its storage in the memory, or a copy out of the scratch. */
  result(s: Staged, n: number): Float32Array {
    if (s.out) return s.out;
    // set(), not slice(): slice() of shared memory copies element by element.
    const out = new Float32Array(n);
    out.set(this.rt.f32().subarray(s.outAt / 4, s.outAt / 4 + n));
    return out;
  }
}
