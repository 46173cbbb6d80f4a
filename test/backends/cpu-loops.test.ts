// The CPU backend's compiled strided loops (elementwise maps, reductions, arg-reductions) on
// non-contiguous, offset and broadcast views, against element-by-element definitions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import type { View } from '../../src/core/backend.js';
import { type DType, type TypedArray, typedArrayFor } from '../../src/core/dtype.js';

const backend = new CpuBackend();

/** A view of `shape` stored in a random dim order with padding, an offset and some stride-0 dims. */
function viewArb(shape: number[], dtype: DType, value: fc.Arbitrary<number>): fc.Arbitrary<View<TypedArray>> {
  const rank = shape.length;
  return fc
    .record({
      order: fc.shuffledSubarray([...Array(rank).keys()], { minLength: rank, maxLength: rank }),
      pad: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: rank, maxLength: rank }),
      broadcast: fc.array(fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }), { minLength: rank, maxLength: rank }),
      offset: fc.integer({ min: 0, max: 3 }),
    })
    .chain(({ order, pad, broadcast, offset }) => {
      const strides = new Array<number>(rank).fill(0);
      let step = 1;
      for (let i = rank - 1; i >= 0; i--) {
        const d = order[i]!;
        strides[d] = broadcast[d] ? 0 : step;
        if (!broadcast[d]) step *= shape[d]! + pad[d]!;
      }
      const length = offset + shape.reduce((s, n, d) => s + Math.max(0, n - 1) * strides[d]!, 0) + 1;
      return fc.array(value, { minLength: length, maxLength: length }).map((values) => {
        const storage = typedArrayFor(dtype, length);
        storage.set(values);
        return { storage, shape, strides, offset, dtype } as View<TypedArray>;
      });
    });
}

function at(v: View<TypedArray>, idx: readonly number[]): number {
  return v.storage[idx.reduce((o, i, d) => o + i * v.strides[d]!, v.offset)]!;
}

/** Every index of `shape` in row-major order. */
function indices(shape: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const n of shape) out = out.flatMap((p) => Array.from({ length: n }, (_, i) => [...p, i]));
  return out;
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 });
const dtypeArb = fc.constantFrom<DType>('float32', 'float64', 'int32');
/** Small integers (exact in every dtype), with NaN now and then for the float dtypes. */
const valueArb = (dtype: DType) =>
  dtype === 'int32' ? fc.integer({ min: -9, max: 9 }) : fc.oneof({ weight: 9, arbitrary: fc.integer({ min: -9, max: 9 }) }, { weight: 1, arbitrary: fc.constant(NaN) });

describe('cpu strided loops', () => {
  it('binary maps read strided and broadcast operands', () => {
    const arb = fc.tuple(shapeArb, dtypeArb, fc.constantFrom('add', 'mul', 'maximum', 'lt') as fc.Arbitrary<'add' | 'mul' | 'maximum' | 'lt'>).chain(([shape, dtype, op]) =>
      fc.tuple(viewArb(shape, dtype, valueArb(dtype)), viewArb(shape, dtype, valueArb(dtype)), fc.constant(op)));
    const define = { add: (a: number, b: number) => a + b, mul: (a: number, b: number) => a * b, maximum: (a: number, b: number) => (a > b || Number.isNaN(a) ? a : b), lt: (a: number, b: number) => (a < b ? 1 : 0) };
    fc.assert(
      fc.property(arb, ([a, b, op]) => {
        const got = backend.binary(op, a, b);
        // Stored through the output's typed array, as the backend stores it (int32 has no -0).
        const want = typedArrayFor(op === 'lt' ? 'int32' : a.dtype, got.length);
        want.set(indices(a.shape).map((i) => define[op](at(a, i), at(b, i))));
        expect(got).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  it('reductions over any set of axes match the definition, NaN included', () => {
    const arb = fc.tuple(shapeArb, dtypeArb, fc.constantFrom('sum', 'max', 'min') as fc.Arbitrary<'sum' | 'max' | 'min'>).chain(([shape, dtype, op]) =>
      fc.tuple(viewArb(shape, dtype, valueArb(dtype)), fc.subarray([...shape.keys()]), fc.constant(op)));
    fc.assert(
      fc.property(arb, ([x, axes, op]) => {
        const keep = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
        const want = indices(keep.map((d) => x.shape[d]!)).map((ko) => {
          const block = indices(axes.map((d) => x.shape[d]!)).map((ro) => {
            const full = new Array<number>(x.shape.length);
            keep.forEach((d, i) => (full[d] = ko[i]!));
            axes.forEach((d, i) => (full[d] = ro[i]!));
            return at(x, full);
          });
          if (block.some((v) => Number.isNaN(v)) && op !== 'sum') return NaN;
          if (op === 'sum') return block.reduce((s, v) => s + v, 0);
          const r = op === 'max' ? Math.max(...block) : Math.min(...block);
          return x.dtype === 'int32' && !Number.isFinite(r) ? 0 : r; // ±Infinity of an empty int32 block stores as 0
        });
        expect(Array.from(backend.reduce(op, x, axes))).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it('arg-reductions return the first best index, or the first NaN', () => {
    const arb = fc.tuple(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), dtypeArb, fc.constantFrom('argmax', 'argmin') as fc.Arbitrary<'argmax' | 'argmin'>)
      .chain(([shape, dtype, op]) => fc.tuple(viewArb(shape, dtype, valueArb(dtype)), fc.integer({ min: 0, max: shape.length - 1 }), fc.constant(op)));
    fc.assert(
      fc.property(arb, ([x, axis, op]) => {
        const keepShape = x.shape.filter((_, d) => d !== axis);
        const want = indices(keepShape).map((ko) => {
          const line = Array.from({ length: x.shape[axis]! }, (_, i) => at(x, [...ko.slice(0, axis), i, ...ko.slice(axis)]));
          const nan = line.findIndex((v) => Number.isNaN(v));
          if (nan >= 0) return nan;
          const best = op === 'argmax' ? Math.max(...line) : Math.min(...line);
          return line.indexOf(best);
        });
        expect(Array.from(backend.argReduce(op, x, axis))).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it('reads non-contiguous views back in row-major order', () => {
    fc.assert(
      fc.property(
        shapeArb.chain((shape) => viewArb(shape, 'float32', fc.integer({ min: -9, max: 9 }))),
        (x) => {
          expect(Array.from(backend.readSync(x))).toEqual(indices(x.shape).map((i) => at(x, i)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
