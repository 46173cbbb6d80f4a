// float16 and bfloat16 storage: the conversions bit for bit against PyTorch's c10::Half and
// c10::BFloat16 (every 16-bit pattern widened, and float32 inputs that hit every rounding case
// narrowed), published values, the tensor API (casts, creation, reading, bytes), the ops that
// take a 16-bit tensor (views, gathers, matmul with a float operand and its gradient, by finite
// differences and against the float32 product of the widened weight), and the refusal of the rest.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Tensor, TsgradError, backendStats, bfloat16Bits, bfloat16Value, float16Bits, float16Value, fromHalfBits, full, gradcheck, nn, randn, resetStats, setBackend, tensor, zeros,
} from '../../src/index.js';
import { narrowToHalf, widenHalf } from '../../src/core/half.js';
import { storageOf, storedData } from '../../src/core/seams.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('test/core/half.test.ts');

const bytes = (s: string) => Buffer.from(s, 'base64');
const u32 = (s: string) => { const b = bytes(s); return new Uint32Array(b.buffer, b.byteOffset, b.length / 4); };
const u16 = (s: string) => { const b = bytes(s); return new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)); };

/** The first index where two arrays differ, or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}

function expectThrows(f: () => unknown, op: string, pattern: RegExp): void {
  let error: unknown = null;
  try { f(); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(TsgradError);
  expect((error as TsgradError).op).toBe(op);
  expect((error as TsgradError).message).toMatch(pattern);
}

beforeAll(() => setBackend('cpu'));

describe.skipIf(skip)('conversions against PyTorch', () => {
  let ref: Record<'widen16' | 'widenbf' | 'inputs' | 'narrow16' | 'narrowbf', string>;
  beforeAll(async () => {
    ref = await runHfPython(join(import.meta.dirname, 'half_reference.py'));
  });

  it('widens all 65,536 patterns of each format bit-exactly', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    for (const [dtype, key] of [['float16', 'widen16'], ['bfloat16', 'widenbf']] as const) {
      const ours = new Uint32Array(widenHalf(all, dtype).buffer);
      const want = u32(ref[key]);
      const bad = firstDiff(ours, want);
      expect(bad, `${dtype} pattern 0x${bad.toString(16)}: ours 0x${ours[bad]?.toString(16)}, torch 0x${want[bad]?.toString(16)}`).toBe(-1);
    }
  });

  it('narrows float32 values at, between and beside every representable value as torch does (nearest, ties to even)', () => {
    const inputs = new Float32Array(u32(ref.inputs).slice().buffer);
    expect(inputs.length).toBeGreaterThan(500_000);
    // Any NaN pattern counts as the same bfloat16 NaN: torch's vectorized kernel writes 0xffff,
    // its scalar c10::BFloat16 (and tsgrad) 0x7fc0.
    const bfNaN = (h: number) => ((h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0 ? 0x7fc0 : h);
    for (const [dtype, key] of [['float16', 'narrow16'], ['bfloat16', 'narrowbf']] as const) {
      let ours = narrowToHalf(inputs, dtype), want = u16(ref[key]);
      if (dtype === 'bfloat16') [ours, want] = [ours.map(bfNaN), want.map(bfNaN)];
      const bad = firstDiff(ours, want);
      expect(bad, `${dtype} of ${inputs[bad]}: ours 0x${ours[bad]?.toString(16)}, torch 0x${want[bad]?.toString(16)}`).toBe(-1);
    }
  });
});

describe('conversions at published values', () => {
  it('float16 (IEEE 754 binary16)', () => {
    const cases: [number, number][] = [[0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0x0400, 2 ** -14], [0x0001, 2 ** -24], [0x03ff, 2 ** -14 - 2 ** -24],
      [0x3555, 0.333251953125], [0x7c00, Infinity], [0xfc00, -Infinity], [0x8000, -0]];
    for (const [h, v] of cases) {
      expect(float16Value(h)).toBe(v);
      expect(float16Bits(v)).toBe(h);
    }
    expect(float16Value(0x7e00)).toBeNaN();
    expect(float16Bits(NaN)).toBe(0x7e00);
    expect(float16Value(0x7c01)).toBeNaN();
    expect(float16Bits(65519)).toBe(0x7bff);
    expect(float16Bits(65520)).toBe(0x7c00);
    expect(float16Bits(2 ** -25)).toBe(0);
    expect(float16Bits(2 ** -25 * 1.0001)).toBe(1);
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('bfloat16 (the top half of a float32)', () => {
    const cases: [number, number][] = [[0x3f80, 1], [0xc000, -2], [0x7f7f, 3.3895313892515355e38], [0x0001, 9.183549615799121e-41], [0x7f80, Infinity], [0x3eab, 0.333984375]];
    for (const [h, v] of cases) {
      expect(bfloat16Value(h)).toBe(v);
      expect(bfloat16Bits(v)).toBe(h);
    }
    expect(bfloat16Bits(NaN)).toBe(0x7fc0);
    expect(bfloat16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(bfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });
});

describe('16-bit tensors', () => {
  it('cast, read as float32 values, and take 2 bytes per element', async () => {
    // The scalar conversions are PyTorch's (checked above): the tensor casts must agree with them.
    const values = [1, 1 / 3, 70000, -3e-8, 0.1];
    const as16 = values.map((v) => float16Value(float16Bits(v))), asBf = values.map((v) => bfloat16Value(bfloat16Bits(v)));
    const x = tensor(values);
    const h = x.half(), b = x.bfloat16();
    expect([h.dtype, b.dtype]).toEqual(['float16', 'bfloat16']);
    expect(h.dataSync()).toBeInstanceOf(Float32Array);
    expect([...h.dataSync()]).toEqual(as16);
    expect(as16.slice(2, 4)).toEqual([Infinity, -(2 ** -24)]);
    expect([...b.dataSync()]).toEqual(asBf);
    expect([...(await h.data())]).toEqual(as16);
    expect(h.float().dtype).toBe('float32');
    expect([...h.float().dataSync()]).toEqual(as16);
    expect([...h.cast('float64').dataSync()]).toEqual(as16);
    expect([...h.cast('int32').dataSync()]).toEqual([1, 0, 0, 0, 0]);
    expect([...h.bfloat16().dataSync()]).toEqual(as16.map((v) => bfloat16Value(bfloat16Bits(v))));
    expect([...(await (await x.to({ dtype: 'bfloat16' })).data())]).toEqual(asBf);
    expect(storageOf(h, 'test').bytes).toBe(10);
    expect([...(await storedData(h))]).toEqual(values.map(float16Bits));
  });

  it('are initialised in place by nn.init, rounded once', () => {
    const w = zeros([2000], { dtype: 'bfloat16' });
    nn.init.normal_(w, 0, 1);
    const v = [...w.dataSync()];
    expect(v.every((x) => bfloat16Value(bfloat16Bits(x)) === x)).toBe(true);
    const mean = v.reduce((a, b) => a + b) / v.length, variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(variance - 1)).toBeLessThan(0.15);
  });

  it('are created with { dtype } and from bits', () => {
    expect([...zeros([3], { dtype: 'float16' }).dataSync()]).toEqual([0, 0, 0]);
    expect([...full([2], 1 / 3, { dtype: 'bfloat16' }).dataSync()]).toEqual([0.333984375, 0.333984375]);
    expect([...tensor([[0.1, 2]], { dtype: 'float16' }).dataSync()]).toEqual([0.0999755859375, 2]);
    expect(randn([4], { dtype: 'bfloat16' }).dtype).toBe('bfloat16');
    expect(fromHalfBits(Uint16Array.of(0x3c00, 0xc000), [2], { dtype: 'float16' }).arraySync()).toEqual([1, -2]);
  });

  it('view, copy and gather without converting', () => {
    const w = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float16' });
    expect(w.transpose(0, 1).contiguous().arraySync()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(w.reshape([3, 2]).permute([1, 0]).arraySync()).toEqual([[1, 3, 5], [2, 4, 6]]);
    expect(w.slice([[1, 2], [0, 3]]).clone().dtype).toBe('float16');
    const idx = tensor(Int32Array.from([1, 1, 0]), { shape: [3] });
    expect(w.gather(0, idx.reshape([3, 1]).expand([3, 3])).arraySync()).toEqual([[4, 5, 6], [4, 5, 6], [1, 2, 3]]);
  });

  it('refuse every other op, naming it and saying to cast with .float()', () => {
    const h = tensor([1, 2, 3], { dtype: 'float16' });
    const f = tensor([1, 2, 3]);
    expectThrows(() => h.add(1), 'add', /float16.*t\.float\(\)/);
    expectThrows(() => f.mul(h), 'mul', /float16.*t\.float\(\)/);
    expectThrows(() => h.sum(), 'sum', /float16.*t\.float\(\)/);
    expectThrows(() => h.exp(), 'exp', /float16.*t\.float\(\)/);
    expectThrows(() => h.softmax(-1), 'softmax', /float16.*t\.float\(\)/);
    expectThrows(() => h.bfloat16().neg(), 'neg', /bfloat16.*t\.float\(\)/);
    expectThrows(() => h.argmax(0), 'argmax', /float16/);
    expectThrows(() => h.reshape([3, 1]).matmul(h.reshape([1, 3])), 'matmul', /float16 by float16.*t\.float\(\)/);
    expectThrows(() => h.requiresGrad_(), 'requiresGrad', /frozen/);
    expectThrows(() => tensor([1], { dtype: 'bfloat16', requiresGrad: true }), 'tensor', /frozen/);
    expectThrows(() => tensor([1], { requiresGrad: true }).half(), 'half', /frozen.*detach/);
  });
});

describe('matmul with a 16-bit operand', () => {
  for (const dtype of ['float16', 'bfloat16'] as const) {
    it(`float32 · ${dtype} equals float32 · the widened weight, forward and backward`, () => {
      const w = randn([37, 21]).cast(dtype), wide = w.float();
      for (const [x, other] of [
        [randn([2, 5, 21]), (t: Tensor) => t.transpose(0, 1)],
        [randn([5, 37]), (t: Tensor) => t],
      ] as const) {
        const xs = x.detach().requiresGrad_();
        const y = xs.matmul(other(w));
        expect(y.dtype).toBe('float32');
        const c = randn(y.shape);
        y.mul(c).sum().backward();
        const xr = x.detach().requiresGrad_();
        const yr = xr.matmul(other(wide));
        yr.mul(c).sum().backward();
        expect([...y.dataSync()].every((v, i) => Math.abs(v - yr.dataSync()[i]!) <= 1e-5 * (1 + Math.abs(v)))).toBe(true);
        expect([...xs.grad!.dataSync()].every((v, i) => Math.abs(v - xr.grad!.dataSync()[i]!) <= 1e-5 * (1 + Math.abs(v)))).toBe(true);
      }
      // The 16-bit operand on the left takes core's composed path.
      const z = w.matmul(randn([21, 3]));
      expect(z.dtype).toBe('float32');
    });
  }

  it('runs the CPU\'s fused kernel on a weight, never widening it whole', () => {
    const w = randn([300, 40]).half(), x = randn([2, 3, 40]);
    resetStats('cpu');
    const y = x.matmul(w.transpose(0, 1));
    const ops = backendStats('cpu').byOp;
    // The tiles' float32 products run inside the kernel; no cast and no matmul primitive ran.
    expect([ops.get('fused:halfMatmul'), ops.get('cast'), ops.get('matmul')]).toEqual([1, undefined, undefined]);
    expect(y.shape).toEqual([2, 3, 300]);
  });

  it('has the gradient of finite differences (float64 input, float16 weight)', () => {
    const w = randn([6, 4]).half();
    expect(gradcheck((x) => x.matmul(w.transpose(0, 1)).tanh(), [randn([3, 4], { dtype: 'float64', requiresGrad: true })]).ok).toBe(true);
  });

  it('trains LoRA adapters over a bfloat16 base: gradients of x, A and B by finite differences', () => {
    const w = randn([5, 4]).bfloat16(), bias = randn([5]).bfloat16();
    const inputs = [randn([3, 4]), randn([2, 4]), randn([5, 2])].map((t) => t.cast('float64').requiresGrad_());
    const lora = (x: Tensor, a: Tensor, b: Tensor) => nn.functional.loraLinear(x, w, bias, a, b, 2).tanh();
    expect(gradcheck(lora, inputs).ok).toBe(true);
  });
});
