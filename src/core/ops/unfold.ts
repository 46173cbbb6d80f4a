import { record } from '../autograd.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './operands.js';

/** A sliding window over the last two dims: kernel size, dilation, stride, and the window count along each. */
export interface Window2d {
  kernel: readonly [number, number];
  dilation: readonly [number, number];
  stride: readonly [number, number];
  /** Windows along H and W (the output's spatial size). */
  out: readonly [number, number];
}

/**
 * im2col: every window of `x` [N, C, H, W] as one contiguous [N, C, kh, kw, OH, OW] tensor.
 * One strided view of `x` (the windows overlap, so the view repeats elements) copied once; its
 * backward is `col2im`, which sums the overlaps back.
 */
export function im2col(x: Tensor, w: Window2d): Tensor {
  const [n, c] = x.shape as [number, number];
  const [sn, sc, sh, sw] = x.strides as [number, number, number, number];
  const shape = [n, c, w.kernel[0], w.kernel[1], w.out[0], w.out[1]];
  const strides = [sn, sc, w.dilation[0] * sh, w.dilation[1] * sw, w.stride[0] * sh, w.stride[1] * sw];
  const b = x._backend;
  const out = wrap(b, b.fill(sizeOf(shape), x.dtype, 0), shape, x.dtype);
  if (out.size > 0) {
    const windows = x._viewAs(shape, strides, x.offset);
    b.copy(windows._view('im2col'), out._view('im2col'));
    windows.dispose();
  }
  const size = [x.shape[2]!, x.shape[3]!] as const;
  return record('im2col', [x], out, [], (g) => [col2im(g, size, w)]);
}

/**
 * col2im: the windows `cols` [N, C, kh, kw, OH, OW] summed into an [N, C, H, W] image (where
 * windows overlap, their values add): one scatterAdd along the flattened H·W with an index
 * computed once on the host. Its backward is `im2col`.
 */
export function col2im(cols: Tensor, size: readonly [number, number], w: Window2d): Tensor {
  const [n, c] = cols.shape as [number, number];
  const [h, wd] = size;
  const [kh, kw] = w.kernel, [oh, ow] = w.out;
  const k = kh * kw * oh * ow;
  const positions = new Int32Array(k);
  let p = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let y = 0; y < oh; y++) {
        const row = (i * w.dilation[0] + y * w.stride[0]) * wd + j * w.dilation[1];
        for (let x = 0; x < ow; x++) positions[p++] = row + x * w.stride[1];
      }
    }
  }
  const b = cols._backend;
  const flat = cols.reshape([n, c, k]);
  const index = wrap(b, b.upload(positions), [k], 'int32');
  const spread = index._viewAs([n, c, k], [0, 0, 1], 0);
  const out = wrap(b, b.scatterAdd(flat._view('col2im'), 2, spread._view('col2im'), [n, c, h * wd]), [n, c, h, wd], cols.dtype);
  spread.dispose();
  index.dispose();
  if (flat !== cols) flat.dispose();
  return record('col2im', [cols], out, [], (g) => [im2col(g, w)]);
}
