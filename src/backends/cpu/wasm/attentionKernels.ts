import type { TypedArray } from '../../../core/dtype.js';
import { sizeOf } from '../../../core/shape.js';
import { type AttentionBackwardArgs, batchOffsets } from '../attention.js';
import type { AttentionArgs, View } from '../../../core/backend.js';
import { attentionBackward, attentionForward, backwardBufBytes, forwardBufBytes } from './attention.js';
import { encodeModule } from './emitter.js';
import { span } from './kernels.js';
import { type ThreadPool, matmulPool, runThreaded, threadedParts } from '../threads.js';
import { type PoolKernel, type PoolProgram, compileKernel } from '../workerPool.js';
import type { Arena, Span } from './arena.js';

type Args = AttentionArgs<TypedArray>;

/** What every thread's attention kernel is built from: the modules (forward, backward) and the shared memory. */
interface AttentionSetup {
  modules: WebAssembly.Module[];
  memory: WebAssembly.Memory;
}

/** The kernels' own parameters before the shared ones (see attention.ts). */
const OWN = { forward: 5, backward: 11 };
/** Positions of the f32 scale and of the tile buffer among the shared parameters. */
const SCALE = 15, BUF = 16;
/** The shared parameters (see attention.ts). */
const SHARED = 17;

/**
 * One thread's kernel (see workerPool.ts: compiled from its text, so self-contained): an instance
 * of the module on the shared memory, which runs its share of the batch entries. Each entry's
 * call arguments lie in a table in the memory, `width` words each (the scale as f32 bits), and
 * each part gets its own tile buffer. args = [backward, table, count, width, scaleAt, bufAt,
 * buf0, bufBytes].
 */
function attentionPartKernel(setup: AttentionSetup): PoolKernel {
  const ex = Object.assign({}, ...setup.modules.map((m) => new WebAssembly.Instance(m, { env: { memory: setup.memory } }).exports)) as Record<string, (...a: number[]) => void>;
  return (_buffers, args, part, parts) => {
    const backward = args[0]!, table = args[1]!, count = args[2]!, width = args[3]!, scaleAt = args[4]!, bufAt = args[5]!;
    // The memory may have grown since the last call: views of its current buffer.
    const words = new Int32Array(setup.memory.buffer), floats = new Float32Array(setup.memory.buffer);
    const run = backward ? ex['attn_bwd']! : ex['attn_fwd']!;
    const end = Math.floor(((part + 1) * count) / parts);
    for (let t = Math.floor((part * count) / parts); t < end; t++) {
      const at = table / 4 + t * width;
      const a = Array.from(words.subarray(at, at + width));
      a[scaleAt] = floats[at + scaleAt]!;
      a[bufAt] = args[6]! + part * args[7]!;
      run(...a);
    }
  };
}

/** A staged operand: its byte address in the memory for each batch entry, and its row and column strides in bytes. */
interface Placed {
  at: number[];
  row: number;
  col: number;
}

/** True for a float32 view whose rows are contiguous. */
const rowsContiguous = (v: View<TypedArray>) => v.dtype === 'float32' && (v.strides.at(-1) === 1 || v.shape.at(-1) === 1);

/**
 * Runs the SIMD attention kernels (attention.ts) on the CPU backend's memory: its own small
 * modules (one for each kernel, each under the 4 KiB a browser compiles synchronously), compiled on first use
 * and instantiated on the runtime's memory. Operands outside the memory (an int32
 * mask, a float32 one where storages cannot live there) are copied into the scratch; the
 * results are new storages in the memory. Anything else (float64, E or Ev not a multiple of 4,
 * strided rows, no room) is left to the JavaScript kernels: the methods return null.
 */
export class WasmAttention {
  private program: PoolProgram | null = null;
  private kernel: PoolKernel | null = null;

  constructor(private readonly arena: Arena) {}

  /** The thread program and this thread's kernel, built on first use. */
  private engine(): { program: PoolProgram; kernel: PoolKernel } {
    if (!this.program || !this.kernel) {
      const { rt } = this.arena;
      const modules = attentionModules({ maxPages: rt.maxBytes / 65536, shared: rt.shared }).map((bytes) => new WebAssembly.Module(bytes));
      const setup: AttentionSetup = { modules, memory: rt.memory };
      this.program = { kernel: attentionPartKernel, setup };
      this.kernel = compileKernel(this.program);
    }
    return { program: this.program, kernel: this.kernel };
  }

  /** The pool that splits the batch entries between threads, or null where one thread is better. */
  private pool(batches: number, L: number, S: number, width: number): ThreadPool | null {
    if (!this.arena.rt.shared || batches < 2) return null;
    return matmulPool(this.engine().program, L * batches, S, width);
  }

  /** Into how many parts a pool splits `batches` entries (a few per thread, at most one per entry). */
  private partsOf(pool: ThreadPool | null, batches: number): number {
    return pool ? threadedParts(pool, batches) : 1;
  }

  /**
   * Runs one kernel over the batch entries, each with its call arguments `calls[t]`, from a
   * table at byte `table` of the scratch, with a tile buffer of `bufBytes` per part after it.
   */
  private dispatch(backward: boolean, calls: number[][], table: number, pool: ThreadPool | null, bufBytes: number): void {
    const width = calls[0]!.length, own = backward ? OWN.backward : OWN.forward;
    const mem = this.arena.rt.f32(), words = new Int32Array(mem.buffer);
    calls.forEach((c, t) => {
      words.set(c, table / 4 + t * width);
      mem[table / 4 + t * width + own + SCALE] = c[own + SCALE]!;
    });
    const args = [backward ? 1 : 0, table, calls.length, width, own + SCALE, own + BUF, table + calls.length * width * 4, bufBytes];
    if (!pool) return this.engine().kernel([], Int32Array.from(args), 0, 1);
    try {
      runThreaded(pool, [], args, this.partsOf(pool, calls.length));
    } catch (e) {
      this.arena.abandonScratch();
      throw e;
    }
  }

  /** Whether the kernels take these operands. */
  private fits(x: Args, rows: View<TypedArray>[]): boolean {
    const E = x.query.shape.at(-1)!, Ev = x.value.shape.at(-1)!;
    const n = sizeOf(x.query.shape.slice(0, -1)) * x.key.shape.at(-2)!;
    return n > 0 && E % 4 === 0 && Ev % 4 === 0 && rows.every(rowsContiguous) && (!x.dropout || x.dropout.dtype === 'float32');
  }

  /**
   * Copies what is outside the memory into the scratch, with `extra` bytes of it for the
   * kernel, and places each view; null if the memory cannot grow that far.
   */
  private stage(views: (View<TypedArray> | null)[], extra: number): { placed: (Placed | null)[]; extraAt: number } | null {
    const live = views.filter((v): v is View<TypedArray> => v !== null);
    const spans: Span[] = [];
    for (const v of live) {
      const s = span(v.offset, v.shape, v.strides);
      if (!s) return null;
      const data = v.storage instanceof Float32Array ? v.storage : new Float32Array(v.storage.buffer, v.storage.byteOffset, v.storage.length);
      spans.push({ data, from: s[0], to: s[1] });
    }
    const staged = this.arena.stage(spans, 0, extra);
    if (!staged) return null;
    let next = 0;
    const placed = views.map((v) => {
      if (!v) return null;
      const i = next++, r = v.shape.length;
      return { at: batchOffsets(v).map((o) => staged.at[i]! + (o - spans[i]!.from) * 4), row: v.strides[r - 2]! * 4, col: v.strides[r - 1]! * 4 };
    });
    return { placed, extraAt: staged.extraAt };
  }

  /**
   * New float32 storages in the memory, those of the first `zeroed` sizes zeroed (the kernels
   * write every element of the others), or null (then none is kept).
   */
  private outputs(sizes: number[], zeroed = 0): Float32Array[] | null {
    const out: Float32Array[] = [];
    for (const n of sizes) {
      const a = this.arena.float32(n);
      if (!a) {
        for (const b of out) this.arena.release(b);
        return null;
      }
      out.push(out.length < zeroed ? a.fill(0) : a);
    }
    return out;
  }

  /** The parameters both kernels share, for batch entry t (`buf`, the tile buffer, is set per part). */
  private shared(x: Args, m: Placed | null, d: Placed | null, t: number, buf: number): number[] {
    const [L, E] = x.query.shape.slice(-2) as [number, number];
    const r = x.query.shape.length;
    return [
      L, x.key.shape.at(-2)!, E, x.value.shape.at(-1)!,
      x.query.strides[r - 2]! * 4, x.key.strides[r - 2]! * 4, x.value.strides[r - 2]! * 4,
      m ? m.at[t]! : 0, m?.row ?? 0, m?.col ?? 0, x.mask?.dtype === 'int32' ? 1 : 0,
      d ? d.at[t]! : 0, d?.row ?? 0, d?.col ?? 0,
      x.isCausal ? 1 : 0, x.scale, buf,
    ];
  }

  /** The forward, or null to leave it to JavaScript. */
  forward(x: Args): { out: Float32Array; logsumexp: Float32Array } | null {
    if (!this.fits(x, [x.query, x.key, x.value])) return null;
    const [L] = x.query.shape.slice(-2) as [number, number];
    const Ev = x.value.shape.at(-1)!;
    const batches = sizeOf(x.query.shape.slice(0, -2));
    const outs = this.outputs([batches * L * Ev, batches * L]);
    if (!outs) return null;
    const [out, lse] = outs as [Float32Array, Float32Array];
    // The scratch: every row's stats (max, sum), the table of calls, then each part's tile scores, row accumulator and kᵀ.
    const statsBytes = batches * L * 8, tableBytes = batches * (OWN.forward + SHARED) * 4, bufBytes = forwardBufBytes(x.key.shape.at(-2)!, x.query.shape.at(-1)!, Ev);
    const pool = this.pool(batches, L, x.key.shape.at(-2)!, x.query.shape.at(-1)! + Ev);
    const s = this.stage([x.query, x.key, x.value, x.mask, x.dropout], statsBytes + tableBytes + this.partsOf(pool, batches) * bufBytes);
    if (!s) {
      outs.forEach((o) => this.arena.release(o));
      return null;
    }
    const [q, k, v, m, d] = s.placed as [Placed, Placed, Placed, Placed | null, Placed | null];
    const outAt = this.arena.addressOf(out);
    const calls = Array.from({ length: batches }, (_, t) =>
      [q.at[t]!, k.at[t]!, v.at[t]!, outAt + t * L * Ev * 4, s.extraAt + t * L * 8, ...this.shared(x, m, d, t, 0)]);
    this.dispatch(false, calls, s.extraAt + statsBytes, pool, bufBytes);
    // lse = max + log(sum); +∞ where the row attends nowhere (sum 0).
    const mem = this.arena.rt.f32(), stats = s.extraAt / 4;
    for (let i = 0; i < batches * L; i++) {
      const max = mem[stats + 2 * i]!, sum = mem[stats + 2 * i + 1]!;
      lse[i] = sum === 0 ? Infinity : max + Math.log(sum);
    }
    return { out, logsumexp: lse };
  }

  /** The backward, or null to leave it to JavaScript. */
  backward(x: AttentionBackwardArgs): { query: Float32Array; key: Float32Array; value: Float32Array } | null {
    if (!this.fits(x, [x.query, x.key, x.value, x.out, x.grad]) || x.logsumexp.dtype !== 'float32') return null;
    const [L, E] = x.query.shape.slice(-2) as [number, number];
    const S = x.key.shape.at(-2)!, Ev = x.value.shape.at(-1)!;
    const batches = sizeOf(x.query.shape.slice(0, -2));
    // dq accumulates; dk and dv are transposed out whole
    const outs = this.outputs([batches * L * E, batches * S * E, batches * S * Ev], 1);
    if (!outs) return null;
    const [dq, dk, dv] = outs as [Float32Array, Float32Array, Float32Array];
    const lseView = { ...x.logsumexp, shape: [...x.logsumexp.shape, 1], strides: [...x.logsumexp.strides, 1] };
    const tableBytes = batches * (OWN.backward + SHARED) * 4, bufBytes = backwardBufBytes(S, E, Ev);
    const pool = this.pool(batches, L, S, 2 * (E + Ev));
    const s = this.stage([x.query, x.key, x.value, x.out, x.grad, lseView, x.mask, x.dropout], tableBytes + this.partsOf(pool, batches) * bufBytes);
    if (!s) {
      outs.forEach((o) => this.arena.release(o));
      return null;
    }
    const [q, k, v, o, g, lse, m, d] = s.placed as [Placed, Placed, Placed, Placed, Placed, Placed, Placed | null, Placed | null];
    const [dqAt, dkAt, dvAt] = outs.map((a) => this.arena.addressOf(a)) as [number, number, number];
    const calls = Array.from({ length: batches }, (_, t) => [
      q.at[t]!, k.at[t]!, v.at[t]!, o.at[t]!, g.at[t]!, lse.at[t]!,
      dqAt + t * L * E * 4, dkAt + t * S * E * 4, dvAt + t * S * Ev * 4, o.row, g.row,
      ...this.shared(x, m, d, t, 0),
    ]);
    this.dispatch(true, calls, s.extraAt, pool, bufBytes);
    return { query: dq, key: dk, value: dv };
  }
}

/** The kernels' modules, forward then backward: apart, each stays under the 4 KiB a browser compiles on a page's main thread. */
export function attentionModules(memory: { maxPages: number; shared: boolean }): Uint8Array<ArrayBuffer>[] {
  return [attentionForward(), attentionBackward()].map((k) => encodeModule([k], { minPages: 1, ...memory }));
}

const engines = new WeakMap<Arena, WasmAttention>();

/** The attention kernels on an arena's memory, one engine per arena. */
export function wasmAttention(arena: Arena): WasmAttention {
  let e = engines.get(arena);
  if (!e) engines.set(arena, (e = new WasmAttention(arena)));
  return e;
}
