import type { View, Window2d } from '../../core/backend.js';
import type { TypedArray } from '../../core/dtype.js';

// im2col and col2im (see core/ops/unfold.ts) as direct loops over the windows, one row of
// OW windows at a time. Core's composed forms cost a generic strided copy (im2col) and, for
// col2im, one add into a new storage and one copy back per kernel tap; these make one pass.

/** Copies every window of `x` [N, C, H, W] (any strides) into `out`, contiguous [N, C, kh, kw, OH, OW]. */
export function im2colJs(x: View<TypedArray>, w: Window2d, out: TypedArray): void {
  const [n, c] = x.shape as [number, number];
  const [sn, sc, sh, sw] = x.strides as [number, number, number, number];
  const [kh, kw] = w.kernel, [oh, ow] = w.out;
  const di = w.dilation[0] * sh, dj = w.dilation[1] * sw, sy = w.stride[0] * sh, sx = w.stride[1] * sw;
  const src = x.storage;
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const plane = x.offset + b * sn + ch * sc;
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          for (let y = 0, row = plane + i * di + j * dj; y < oh; y++, row += sy) {
            for (let xo = 0, at = row; xo < ow; xo++, at += sx) out[o++] = src[at]!;
          }
        }
      }
    }
  }
}

/**
 * Sums the windows `cols` [N, C, kh, kw, OH, OW] (any strides) into `out`, contiguous
 * [N, C, H, W] of `size` and zero on entry; each pixel gets its taps in kernel order (i, then j).
 */
export function col2imJs(cols: View<TypedArray>, size: readonly [number, number], w: Window2d, out: TypedArray): void {
  const [n, c] = cols.shape as [number, number];
  const [cn, cc, ci, cj, cy, cx] = cols.strides as [number, number, number, number, number, number];
  const [h, wd] = size;
  const [kh, kw] = w.kernel, [oh, ow] = w.out;
  const di = w.dilation[0] * wd, dj = w.dilation[1], sy = w.stride[0] * wd, sx = w.stride[1];
  const src = cols.storage;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const plane = (b * c + ch) * h * wd, from = cols.offset + b * cn + ch * cc;
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const tap = from + i * ci + j * cj;
          for (let y = 0, row = plane + i * di + j * dj; y < oh; y++, row += sy) {
            for (let xo = 0, at = row, k = tap + y * cy; xo < ow; xo++, at += sx, k += cx) out[at] = out[at]! + src[k]!;
          }
        }
      }
    }
  }
}
