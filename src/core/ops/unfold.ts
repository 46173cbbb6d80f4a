import { record } from '../autograd.js';
import type { View, Window2d } from '../backend.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './operands.js';

export type { Window2d } from '../backend.js';

/**
 * im2col: every window of `x` [N, C, H, W] as one contiguous [N, C, kh, kw, OH, OW] tensor.
 * One strided view of `x` (the windows overlap, so the view repeats elements) copied once, or the
 * backend's `fused.im2col` loop; its backward is `col2im`, which sums the overlaps back.
 */
export function im2col(x: Tensor, w: Window2d): Tensor {
  const [n, c] = x.shape as [number, number];
  const [sn, sc, sh, sw] = x.strides as [number, number, number, number];
  const shape = [n, c, w.kernel[0], w.kernel[1], w.out[0], w.out[1]];
  const strides = [sn, sc, w.dilation[0] * sh, w.dilation[1] * sw, w.stride[0] * sh, w.stride[1] * sw];
  const b = x._backend;
  const kernel = b.fused?.im2col;
  let out: Tensor;
  if (kernel && sizeOf(shape) > 0) {
    out = wrap(b, kernel(x._view('im2col'), w), shape, x.dtype);
  } else {
    out = wrap(b, b.fill(sizeOf(shape), x.dtype, 0), shape, x.dtype);
    if (out.size > 0) {
      const windows = x._viewAs(shape, strides, x.offset);
      b.copy(windows._view('im2col'), out._view('im2col'));
      windows.dispose();
    }
  }
  const size = [x.shape[2]!, x.shape[3]!] as const;
  return record('im2col', [x], out, [], (g) => [col2im(g, size, w)]);
}

/**
 * col2im: the windows `cols` [N, C, kh, kw, OH, OW] summed into an [N, C, H, W] image (where
 * windows overlap, their values add). One pass per kernel tap (kh·kw of them, never per pixel):
 * the tap's [N, C, OH, OW] slice is added into a strided view of the image, which holds each of
 * its windows once, so the cost is linear in `cols` on every backend. A backend's `fused.col2im`
 * does it in one pass, adding the taps in the same order. Its backward is `im2col`.
 */
export function col2im(cols: Tensor, size: readonly [number, number], w: Window2d): Tensor {
  const [n, c] = cols.shape as [number, number];
  const [h, wd] = size;
  const [kh, kw] = w.kernel, [oh, ow] = w.out;
  const b = cols._backend;
  const kernel = b.fused?.col2im;
  if (kernel && cols.size > 0) {
    const out = wrap(b, kernel(cols._view('col2im'), size, w), [n, c, h, wd], cols.dtype);
    return record('col2im', [cols], out, [], (g) => [im2col(g, w)]);
  }
  const out = wrap(b, b.fill(n * c * h * wd, cols.dtype, 0), [n, c, h, wd], cols.dtype);
  const [sn, sc, sh, sw] = out.strides as [number, number, number, number];
  const [cn, cc, ci, cj, cy, cx] = cols.strides as [number, number, number, number, number, number];
  for (let i = 0; i < kh && cols.size > 0; i++) {
    for (let j = 0; j < kw; j++) {
      const offset = i * w.dilation[0] * sh + j * w.dilation[1] * sw;
      const window: View = { ...out._view('col2im'), shape: [n, c, oh, ow], strides: [sn, sc, w.stride[0] * sh, w.stride[1] * sw], offset };
      const tap: View = { ...cols._view('col2im'), shape: [n, c, oh, ow], strides: [cn, cc, cy, cx], offset: cols.offset + i * ci + j * cj };
      const sum = wrap(b, b.binary('add', window, tap), window.shape, cols.dtype);
      b.copy(sum._view('col2im'), window);
      sum.dispose();
    }
  }
  return record('col2im', [cols], out, [], (g) => [im2col(g, w)]);
}
