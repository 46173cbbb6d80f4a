import type { View } from '../../../core/backend.js';
import type { TypedArray } from '../../../core/dtype.js';
import { coalesce } from '../../shared/strided.js';
import type { Arena } from './arena.js';
import { type ModuleMemory, ownModule } from './ownModule.js';
import { type Code, Fn, encodeModule, f32, forLoop, i32, v128 } from './emitter.js';
import { span, worthWasm } from './kernels.js';

/*
 * A strided float32 copy in WebAssembly, for the copies a transformer step makes: heads merged
 * back ([B, H, T, E] → [B, T, H, E]), and gradients of q, k and v slices written into the
 * [B, T, 3C] gradient of their projection. Both views coalesce to at most three outer dims over
 * rows that are contiguous in both, so each row moves four floats per instruction instead of
 * one element per step of the JavaScript strided loop. A small module of its own, compiled on
 * first use.
 */

/** i32.and, which the emitter's table leaves out. */
const I32_AND = [0x71];

/**
 * `copy_rows(src, dst, n0, n1, n2, s0, s1, s2, d0, d1, d2, len)`: for each (a, b, c) < (n0, n1, n2),
 * the row of `len` floats at src + a·s0 + b·s1 + c·s2 goes to dst + a·d0 + b·d1 + c·d2 (strides
 * in bytes), four floats at a time, then one at a time for the last len mod 4.
 */
function copyRows(): { fn: Fn; body: Code } {
  const f = new Fn('copy_rows', ['src', 'dst', 'n0', 'n1', 'n2', 's0', 's1', 's2', 'd0', 'd1', 'd2', 'len']);
  f.locals('i32', 'a', 'b', 'c', 'from', 'to', 'e', 'vec', 'end');
  const g = (n: string) => f.get(n);
  const at = (base: string, s0: string, s1: string, s2: string): Code => [
    ...g(base), ...g('a'), ...g(s0), ...i32.mul, ...i32.add, ...g('b'), ...g(s1), ...i32.mul, ...i32.add, ...g('c'), ...g(s2), ...i32.mul, ...i32.add,
  ];
  const row: Code = [
    ...f.set('from', at('src', 's0', 's1', 's2')),
    ...f.set('to', at('dst', 'd0', 'd1', 'd2')),
    ...forLoop(f, 'e', i32.const(0), g('vec'), 16, [...g('to'), ...g('e'), ...i32.add, ...g('from'), ...g('e'), ...i32.add, ...v128.load(), ...v128.store()]),
    ...forLoop(f, 'e', g('vec'), g('end'), 4, [...g('to'), ...g('e'), ...i32.add, ...g('from'), ...g('e'), ...i32.add, ...f32.load(), ...f32.store()]),
  ];
  const body = [
    // bytes of the row: whole vectors, then all of it
    ...f.set('end', g('len'), i32.const(4), i32.mul),
    ...f.set('vec', g('end'), i32.const(-16), I32_AND),
    ...forLoop(f, 'a', i32.const(0), g('n0'), 1, forLoop(f, 'b', i32.const(0), g('n1'), 1, forLoop(f, 'c', i32.const(0), g('n2'), 1, row))),
  ];
  return { fn: f, body };
}

/** The module's bytes (under the 4 KiB a browser compiles synchronously on a page's main thread). */
export function copyModuleBytes(memory: ModuleMemory): Uint8Array<ArrayBuffer> {
  return encodeModule([copyRows()], { minPages: 1, ...memory });
}

type CopyRows = (src: number, dst: number, n0: number, n1: number, n2: number, s0: number, s1: number, s2: number, d0: number, d1: number, d2: number, len: number) => void;
const kernels = ownModule<{ copy_rows: CopyRows }>(copyModuleBytes);

/**
 * dst = src for float32 views of one shape whose storages both live in the module's memory, in
 * WebAssembly; false, having done nothing, where the JavaScript loop should run instead: another
 * dtype or storage, a negative stride, rows not contiguous in both after coalescing, more than
 * three outer dims, overlapping views, or too little work for a call.
 */
export function copyWasm(arena: Arena, src: View<TypedArray>, dst: View<TypedArray>): boolean {
  if (src.dtype !== 'float32' || dst.dtype !== 'float32') return false;
  const sAt = arena.addressOf(src.storage), dAt = arena.addressOf(dst.storage);
  let n = 1;
  for (const d of src.shape) n *= d;
  const k = sAt >= 0 && dAt >= 0 && worthWasm(arena, n, [src.storage, dst.storage]) ? kernels(arena) : null;
  if (!k) return false;
  const [shape, [ss, ds]] = coalesce(src.shape, [src.strides, dst.strides]) as [number[], [number[], number[]]];
  const r = shape.length;
  if (r > 4 || ss[r - 1] !== 1 || ds[r - 1] !== 1) return false;
  const sSpan = span(src.offset, shape, ss), dSpan = span(dst.offset, shape, ds);
  if (!sSpan || !dSpan) return false;
  const [sFrom, sTo] = [sAt + sSpan[0] * 4, sAt + sSpan[1] * 4], [dFrom, dTo] = [dAt + dSpan[0] * 4, dAt + dSpan[1] * 4];
  if (sFrom < dTo && dFrom < sTo) return false;
  // the outer dims, padded in front to three of one element
  const outer = [1, 1, 1, ...shape.slice(0, -1)].slice(-3), so = [0, 0, 0, ...ss.slice(0, -1)].slice(-3), dso = [0, 0, 0, ...ds.slice(0, -1)].slice(-3);
  k.copy_rows(sAt + src.offset * 4, dAt + dst.offset * 4, outer[0]!, outer[1]!, outer[2]!, so[0]! * 4, so[1]! * 4, so[2]! * 4, dso[0]! * 4, dso[1]! * 4, dso[2]! * 4, shape[r - 1]!);
  return true;
}
