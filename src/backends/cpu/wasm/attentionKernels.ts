import type { TypedArray } from '../../../core/dtype.js';
import { sizeOf } from '../../../core/shape.js';
import { type AttentionBackwardArgs, batchOffsets } from '../attention.js';
import type { AttentionArgs, View } from '../../../core/backend.js';
import { TILE, attentionBackward, attentionForward } from './attention.js';
import { encodeModule } from './emitter.js';
import { span } from './kernels.js';
import type { Arena, Span } from './arena.js';

type Args = AttentionArgs<TypedArray>;

interface AttentionExports {
  attn_fwd(...args: number[]): void;
  attn_bwd(...args: number[]): void;
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
 * module (about 3 KiB, under the 4 KiB a browser compiles synchronously), compiled on first use
 * and instantiated on the runtime's memory. Operands outside the memory (an int32
 * mask, a float32 one where storages cannot live there) are copied into the scratch; the
 * results are new storages in the memory. Anything else (float64, E or Ev not a multiple of 4,
 * strided rows, no room) is left to the JavaScript kernels: the methods return null.
 */
export class WasmAttention {
  private exports: AttentionExports | null = null;

  constructor(private readonly arena: Arena) {}

  private kernels(): AttentionExports {
    if (!this.exports) {
      const { rt } = this.arena;
      const bytes = encodeModule([attentionForward(), attentionBackward()], { minPages: 1, maxPages: rt.maxBytes / 65536, shared: rt.shared });
      this.exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: rt.memory } }).exports as unknown as AttentionExports;
    }
    return this.exports;
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

  /** New zeroed float32 storages in the memory, or null (then none is kept). */
  private outputs(sizes: number[]): Float32Array[] | null {
    const out: Float32Array[] = [];
    for (const n of sizes) {
      const a = this.arena.float32(n);
      if (!a) {
        for (const b of out) this.arena.release(b);
        return null;
      }
      out.push(a.fill(0));
    }
    return out;
  }

  /** The parameters both kernels share, for batch entry t. */
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
    // The scratch: the row stats (max, sum) of every row, then the tile's scores and the row's accumulator.
    const statsBytes = batches * L * 8;
    const s = this.stage([x.query, x.key, x.value, x.mask, x.dropout], statsBytes + (TILE + Ev) * 4);
    if (!s) {
      outs.forEach((o) => this.arena.release(o));
      return null;
    }
    const [q, k, v, m, d] = s.placed as [Placed, Placed, Placed, Placed | null, Placed | null];
    const { attn_fwd } = this.kernels();
    const outAt = this.arena.addressOf(out);
    for (let t = 0; t < batches; t++) {
      attn_fwd(q.at[t]!, k.at[t]!, v.at[t]!, outAt + t * L * Ev * 4, s.extraAt + t * L * 8, ...this.shared(x, m, d, t, s.extraAt + statsBytes));
    }
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
    const outs = this.outputs([batches * L * E, batches * S * E, batches * S * Ev]);
    if (!outs) return null;
    const [dq, dk, dv] = outs as [Float32Array, Float32Array, Float32Array];
    const lseView = { ...x.logsumexp, shape: [...x.logsumexp.shape, 1], strides: [...x.logsumexp.strides, 1] };
    const s = this.stage([x.query, x.key, x.value, x.out, x.grad, lseView, x.mask, x.dropout], TILE * 4);
    if (!s) {
      outs.forEach((o) => this.arena.release(o));
      return null;
    }
    const [q, k, v, o, g, lse, m, d] = s.placed as [Placed, Placed, Placed, Placed, Placed, Placed, Placed | null, Placed | null];
    const { attn_bwd } = this.kernels();
    const [dqAt, dkAt, dvAt] = outs.map((a) => this.arena.addressOf(a)) as [number, number, number];
    for (let t = 0; t < batches; t++) {
      attn_bwd(
        q.at[t]!, k.at[t]!, v.at[t]!, o.at[t]!, g.at[t]!, lse.at[t]!,
        dqAt + t * L * E * 4, dkAt + t * S * E * 4, dvAt + t * S * Ev * 4, o.row, g.row,
        ...this.shared(x, m, d, t, s.extraAt),
      );
    }
    return { query: dq, key: dk, value: dv };
  }
}

const engines = new WeakMap<Arena, WasmAttention>();

/** The attention kernels on an arena's memory, one engine per arena. */
export function wasmAttention(arena: Arena): WasmAttention {
  let e = engines.get(arena);
  if (!e) engines.set(arena, (e = new WasmAttention(arena)));
  return e;
}
