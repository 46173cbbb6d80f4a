// float16 and bfloat16 on the WebGPU backend: the WGSL conversions (wgsl/half.ts) bit for bit
// against core's JavaScript ones, which test/core/half.test.ts checks bit for bit against
// PyTorch; the packing of two patterns per u32 word at odd offsets, odd lengths and strided
// writes; and the fused matmul that widens the weight tile by tile. The shared 16-bit cases run
// on webgpu from test/conformance/half.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { backendStats, fromHalfBits, full, initBackend, manualSeed, models, nn, optim, randn, resetStats, scope, tensor, zeros } from '../../src/index.js';
import { float16Bits, bfloat16Bits, narrowToHalf, widenHalf } from '../../src/core/half.js';
import { storedData } from '../../src/core/seams.js';
import { WEBGPU_REQUIREMENT } from '../matrix.js';

const backend = 'webgpu';
const HALVES = ['float16', 'bfloat16'] as const;

/** The first index where two arrays differ, or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}

function expectSameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const bad = firstDiff(got, want);
  expect(bad, `${what} at ${bad}: got 0x${got[bad]?.toString(16)}, want 0x${want[bad]?.toString(16)}`).toBe(-1);
}

/**
 * float32 values that hit every rounding case of `dtype`: each finite pattern's value, the
 * midpoint to the next one, and the float32 neighbours of that midpoint; then the specials.
 */
function roundingInputs(dtype: (typeof HALVES)[number]): Float32Array {
  const value = (h: number) => widenHalf(Uint16Array.of(h), dtype)[0]!;
  const out: number[] = [];
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const beside = (x: number, d: number) => { f[0] = x; u[0]! += d; return f[0]!; };
  for (const sign of [0, 0x8000]) {
    for (let h = 0; h < 0x7fff; h++) {
      const a = value(sign | h), b = value(sign | (h + 1));
      if (!Number.isFinite(a) || Number.isNaN(b)) continue;
      const mid = Number.isFinite(b) ? Math.fround((a + b) / 2) : Math.fround(a * 1.0005);
      out.push(a, mid, beside(mid, 1), beside(mid, -1));
    }
  }
  out.push(NaN, -NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 65504, 65519.99, 65520, 1e-8, 2 ** -25, 2 ** -24, 5.96e-8, -0);
  return Float32Array.from(out);
}

describe('webgpu: float16 and bfloat16', () => {
  let available = false;
  beforeAll(async () => {
    try {
      await initBackend(backend);
      available = true;
    } catch (e) {
      if (process.env.CI) throw new Error(`the webgpu backend is unavailable in CI: ${(e as Error).message}`);
      console.warn(`\n*** SKIPPING the webgpu half tests: ${(e as Error).message}\n*** ${WEBGPU_REQUIREMENT}\n`);
    }
  });
  const test = (name: string, fn: () => Promise<void>) =>
    it(name, async (ctx) => {
      if (!available) return ctx.skip();
      await scope(fn);
    });

  for (const dtype of HALVES) {
    test(`${dtype}: widens all 65,536 patterns bit for bit in WGSL`, async () => {
      const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
      const got = new Uint32Array((await fromHalfBits(all, [65536], { dtype, backend }).float().data() as Float32Array).buffer);
      // NaN payloads included: the kernel writes the widened bits, no float arithmetic touches them.
      expectSameBits(got, new Uint32Array(widenHalf(all, dtype).buffer), `${dtype} → float32`);
    });

    test(`${dtype}: narrows every rounding case as core does (nearest, ties to even)`, async () => {
      const inputs = roundingInputs(dtype);
      expect(inputs.length).toBeGreaterThan(200_000);
      const got = await storedData(tensor(inputs, { backend }).cast(dtype));
      expectSameBits(got, narrowToHalf(inputs, dtype), `float32 → ${dtype}`);
      // And between the formats, through float32.
      const other = dtype === 'float16' ? 'bfloat16' : 'float16';
      const bits = narrowToHalf(inputs, other);
      const viaOther = await storedData(fromHalfBits(bits, [bits.length], { dtype: other, backend }).cast(dtype));
      expectSameBits(viaOther, narrowToHalf(widenHalf(bits, other), dtype), `${other} → ${dtype}`);
    });
  }

  test('packs two patterns a word: odd lengths, odd offsets, strided writes, large fills', async () => {
    const v = [1, -2, 0.5, 3, 65504, -0.25, 7];
    const odd = tensor(v, { dtype: 'float16', backend });
    expect(Array.from(await odd.data())).toEqual(v);
    // A view starting mid-word, read directly and through a strided copy.
    expect(Array.from(await odd.slice([[1, 6]]).data())).toEqual(v.slice(1, 6));
    expect(Array.from(await odd.reshape([7, 1]).slice([[3, 7]]).transpose(0, 1).contiguous().data())).toEqual(v.slice(3));
    // copy_ into every other element: neighbouring halves of each word must survive.
    const dst = zeros([4, 3], { dtype: 'bfloat16', backend });
    dst.slice([[0, 4], [1, 2]]).copy_(tensor([[1.5], [2.5], [-3.5], [1e10]], { backend }));
    const want = [0, 1.5, 0, 0, 2.5, 0, 0, -3.5, 0, 0, 9999220736, 0];
    expect(Array.from(await dst.data())).toEqual(want);
    // Fills past 64 KiB run a kernel that writes both halves of each word.
    for (const dtype of HALVES) {
      const n = 40_001, value = 1 / 3;
      const bits = await storedData(full([n], value, { dtype, backend }));
      const expected = dtype === 'float16' ? float16Bits(value) : bfloat16Bits(value);
      expect(bits.length).toBe(n);
      expect(bits.every((b) => b === expected), `${dtype} fill`).toBe(true);
    }
  });

  test('multiplies by a 16-bit weight in one kernel, never widening it whole', async () => {
    const w = randn([300, 40], { backend }).half(), x = randn([2, 3, 40], { backend });
    resetStats(backend);
    const y = x.matmul(w.transpose(0, 1));
    const ops = backendStats(backend).byOp;
    expect([ops.get('fused:halfMatmul'), ops.get('cast'), ops.get('matmul')]).toEqual([1, undefined, undefined]);
    const ref = x.matmul(w.float().transpose(0, 1));
    const [got, want] = [await y.data(), await ref.data()];
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(want[i]!));
  });

  test('runs a float16 GPT-2 with LoRA as the CPU backend does', async () => {
    const config = { nLayer: 2, nEmbd: 32, nHead: 4, vocabSize: 50, nPositions: 16 };
    const ids = [[1, 5, 9, 2, 7, 3, 8, 4], [6, 2, 2, 9, 1, 4, 7, 5]];
    const targets = ids.flatMap((r) => [...r.slice(1), 0]);
    const losses: Record<string, number[]> = {};
    for (const backend of ['cpu', 'webgpu']) {
      manualSeed(3);
      const model = new models.GPT2LMHeadModel(config);
      await model.to({ dtype: 'float16' });
      await model.to(backend);
      // 2 bytes a value; webgpu's pooled buffers round each up to a size class (256 bytes at least, else within a quarter).
      const exact = model.parameters().reduce((n, p) => n + 2 * p.shape.reduce((a, d) => a * d, 1), 0);
      const frozen = nn.memoryReport(model).frozenParams.bytes;
      if (backend === 'cpu') expect(frozen).toBe(exact);
      else expect(frozen).toBeLessThanOrEqual(exact * 1.25 + 256 * model.parameters().length);
      nn.applyLoRA(model, { targets: ['c_attn'], rank: 4, alpha: 8 });
      const opt = new optim.AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-2 });
      losses[backend] = [];
      for (let step = 0; step < 3; step++) {
        const loss = await scope(async () => {
          const l = nn.functional.crossEntropy(model.forward(ids).reshape([-1, config.vocabSize]), targets);
          l.backward();
          opt.step();
          opt.zeroGrad();
          return l.item();
        });
        losses[backend]!.push(loss);
      }
    }
    for (let i = 0; i < 3; i++) expect(Math.abs(losses.webgpu![i]! - losses.cpu![i]!)).toBeLessThan(1e-4);
    expect(losses.cpu![2]).toBeLessThan(losses.cpu![0]!);
  });
});
