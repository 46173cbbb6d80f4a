import type { View } from '../../core/backend.js';
import type { TypedArray } from '../../core/dtype.js';

// gather and scatterAdd when the index names whole rows: it is constant along the last dim (an
// embedding's row index broadcast over the row, stride 0) and the rows are contiguous. Then
// each index is read once per row instead of once per element, and the row moves in one
// tight loop; the general element-by-element walk stays for every other layout.

/** True when `index` is broadcast along its last dim (not the gathered axis) and `rows` has unit stride there. */
function byRows(rows: View<TypedArray>, axis: number, index: View<TypedArray>): boolean {
  const last = index.shape.length - 1;
  return last >= 1 && axis !== last && index.strides[last] === 0 && rows.strides[last] === 1;
}

/** Walks the outer (all but last) dims of `index`, giving each row's number, its index value and its outer position. */
function forEachRow(index: View<TypedArray>, visit: (row: number, j: number, idx: readonly number[]) => void): void {
  const last = index.shape.length - 1;
  const idx = new Array<number>(last).fill(0);
  let rows = 1;
  for (let d = 0; d < last; d++) rows *= index.shape[d]!;
  for (let r = 0; r < rows; r++) {
    let io = index.offset;
    for (let d = 0; d < last; d++) io += idx[d]! * index.strides[d]!;
    visit(r, index.storage[io]!, idx);
    for (let d = last - 1; d >= 0; d--) {
      if (++idx[d]! < index.shape[d]!) break;
      idx[d] = 0;
    }
  }
}

/** gather(x, axis, index) into `out` row by row; false (nothing written) when the index does not name rows. */
export function gatherRows(x: View<TypedArray>, axis: number, index: View<TypedArray>, out: TypedArray): boolean {
  if (!byRows(x, axis, index)) return false;
  const last = index.shape.length - 1, len = index.shape[last]!, xs = x.storage;
  forEachRow(index, (r, j, idx) => {
    let xo = x.offset;
    for (let d = 0; d < last; d++) xo += (d === axis ? j : idx[d]!) * x.strides[d]!;
    // One set() a row: an element loop over the module's shared memory took 10 ns an element.
    out.set(xs.subarray(xo, xo + len), r * len);
  });
  return true;
}

/** out[oo..oo + len) += src[so..so + len): one row of a scatter-add, at element offsets. */
export type AddRow = (oo: number, so: number, len: number) => void;

/**
 * scatterAdd of `src` into the zeroed contiguous `out` (strides `os`) row by row, each row by
 * `addRow` when given (the caller's faster loop for these storages); false (nothing written)
 * when the index does not name rows.
 */
export function scatterAddRows(src: View<TypedArray>, axis: number, index: View<TypedArray>, out: TypedArray, os: readonly number[], addRow?: AddRow): boolean {
  if (!byRows(src, axis, index) || os[os.length - 1] !== 1) return false;
  const last = index.shape.length - 1, len = index.shape[last]!, ss = src.storage;
  const add: AddRow = addRow ?? ((oo, so, n) => {
    for (let k = 0; k < n; k++) out[oo + k] += ss[so + k]!;
  });
  forEachRow(index, (_, j, idx) => {
    let so = src.offset, oo = 0;
    for (let d = 0; d < last; d++) {
      so += idx[d]! * src.strides[d]!;
      oo += (d === axis ? j : idx[d]!) * os[d]!;
    }
    add(oo, so, len);
  });
  return true;
}
