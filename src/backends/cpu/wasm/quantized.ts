import { type Code, Fn, encodeModule, f32, forLoop, i32 } from './emitter.js';
import type { Arena } from './arena.js';
import { ownModule } from './ownModule.js';

/*
 * Dequantizes a tile of a block-quantized matrix (core/quant.ts) inside the module's memory:
 * out[e] = table[q(e)] · scale[block(e)], where q(e) is a nibble (NF4, high nibble first) or a
 * byte (int8) of the packed codes. The product with the tile then runs on the SIMD matmul kernel
 * (gemm.ts), so the full-precision weight exists one tile at a time. A module of its own,
 * instantiated on the runtime's memory when first used.
 */

/** The integer instructions this kernel adds to the emitter's set, named as in the text format. */
const op = {
  load8_u: (offset = 0): Code => [0x2d, 0, offset],
  and: [0x71], xor: [0x73], shl: [0x74], shr_u: [0x76],
} as const;
const f32mul: Code = [0x94];

/**
 * dequant(codes, table, scales, out, start, end, shift, log2Block): for e in [start, end),
 * with addresses already offset so that element e's byte is codes + (e >> shift), its scale at
 * scales + 4·(e >> log2Block) and its output at out + 4·e. `shift` is 1 for NF4 (two codes a
 * byte), 0 for int8.
 */
function dequantFunction(): { fn: Fn; body: Code } {
  const fn = new Fn('dequant', ['codes', 'table', 'scales', 'out', 'start', 'end', 'shift', 'log2Block']).locals('i32', 'e', 'byte', 'q', 'mask');
  const g = (n: string) => fn.get(n);
  const body: Code = [
    // mask = shift ? 15 : 255
    ...fn.set('mask', i32.const(255), g('shift'), i32.const(2), op.shl, op.shr_u),
    ...forLoop(fn, 'e', g('start'), g('end'), 1, [
      ...fn.set('byte', g('codes'), g('e'), g('shift'), op.shr_u, i32.add, op.load8_u()),
      // The high nibble for an even element: shift by 4·(~e & shift).
      ...fn.set('q', g('byte'), g('e'), i32.const(-1), op.xor, g('shift'), op.and, i32.const(2), op.shl, op.shr_u, g('mask'), op.and),
      ...g('out'), ...g('e'), ...i32.const(2), ...op.shl, ...i32.add,
      ...g('table'), ...g('q'), ...i32.const(2), ...op.shl, ...i32.add, ...f32.load(),
      ...g('scales'), ...g('e'), ...g('log2Block'), ...op.shr_u, ...i32.const(2), ...op.shl, ...i32.add, ...f32.load(),
      ...f32mul,
      ...f32.store(),
    ]),
  ];
  return { fn, body };
}

type Dequant = (codes: number, table: number, scales: number, out: number, start: number, end: number, shift: number, log2Block: number) => void;

/** The module's `dequant` on the runtime's memory, or null where it does not validate. */
const dequantOn = ownModule<{ dequant: Dequant }>((memory) => encodeModule([dequantFunction()], { minPages: 1, ...memory }));

/** One tile to dequantize: elements [start, end) of the matrix, its packed codes and its blocks' scales. */
export interface DequantTile {
  /** The packed codes, int32 words (their bytes in order). */
  codes: Int32Array;
  /** The code table. */
  table: Float32Array;
  /** The scale of each block the tile touches, from block `firstBlock`. */
  scales: Float32Array;
  firstBlock: number;
  start: number;
  end: number;
  /** 1 for NF4, 0 for int8. */
  shift: number;
  blockSize: number;
}

/**
 * Dequantizes a tile in WebAssembly into a new float32 storage (in the module's memory where
 * storages live there), or returns null to leave it to JavaScript.
 */
export function dequantizeTile(arena: Arena, t: DequantTile): Float32Array | null {
  const fn = dequantOn(arena)?.dequant;
  if (!fn) return null;
  const n = t.end - t.start;
  const firstByte = t.start >> t.shift, lastByte = (t.end - 1) >> t.shift;
  const codeBytes = lastByte - firstByte + 1;
  const pad = (b: number) => Math.ceil(b / 16) * 16;
  const out = arena.float32(n);
  const outBytes = out ? 0 : pad(n * 4);
  const base = arena.scratch(pad(t.table.length * 4) + pad(t.scales.length * 4) + pad(codeBytes) + outBytes);
  if (base < 0) {
    if (out) arena.release(out);
    return null;
  }
  const buffer = arena.rt.memory.buffer;
  const tableAt = base, scalesAt = tableAt + pad(t.table.length * 4), codesAt = scalesAt + pad(t.scales.length * 4);
  const outAt = out ? out.byteOffset : codesAt + pad(codeBytes);
  new Float32Array(buffer, tableAt, t.table.length).set(t.table);
  new Float32Array(buffer, scalesAt, t.scales.length).set(t.scales);
  new Uint8Array(buffer, codesAt, codeBytes).set(new Uint8Array(t.codes.buffer, t.codes.byteOffset + firstByte, codeBytes));
  const log2Block = Math.log2(t.blockSize);
  // Addresses shifted so the kernel indexes by the element's place in the whole matrix.
  fn(codesAt - firstByte, tableAt, scalesAt - t.firstBlock * 4, outAt - t.start * 4, t.start, t.end, t.shift, log2Block);
  return out ?? new Float32Array(arena.rt.memory.buffer.slice(outAt, outAt + n * 4));
}
