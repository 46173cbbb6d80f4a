// nn.quantize against bitsandbytes' published semantics, transcribed into torch in
// quantize_reference.py (bitsandbytes itself is not installable here): the NF4 and dynamic code
// tables, the packed bytes, the absmaxes (double-quantized too) and the dequantized weights,
// exactly; then the quantized matmul against a float64 matmul with the dequantized weight, its
// input gradient by finite differences, and the bytes memoryReport measures.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, io, manualSeed, nn, randn, tensor } from '../../src/index.js';
import { DYNAMIC_CODE, NF4_CODE } from '../../src/core/quant.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('test/nn/quantize.test.ts');

type Case = [rows: number, cols: number, format: 'int8' | 'nf4', blockSize: number, doubleQuant: boolean, conv1d: boolean];

/** Bytes of a packed int32 tensor, the first `n`. */
function bytesOf(t: Tensor, n: number): number[] {
  const words = Int32Array.from(t.dataSync());
  return [...new Uint8Array(words.buffer).subarray(0, n)];
}

/** A one-layer model holding `w` as a Linear ([out, in]) or Conv1D ([in, out]) weight. */
function layerOf(w: Tensor, rows: number, cols: number, conv1d: boolean): nn.Sequential {
  const layer = conv1d ? new nn.Conv1D(rows, cols) : new nn.Linear(cols, rows);
  layer.weight.copy_(w);
  return new nn.Sequential(layer);
}

describe.skipIf(skip)('nn.quantize against bitsandbytes (transcribed)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-quantize-'));
  let ref: { cases: Record<string, Case>; nf4: number[]; dynamic: number[] };
  let weights: Record<string, Tensor>;
  let expected: Record<string, Tensor>;
  beforeAll(async () => {
    ref = await runHfPython(join(import.meta.dirname, 'quantize_reference.py'), [dir]);
    weights = io.loadSafetensors(join(dir, 'weights.safetensors')).tensors;
    expected = io.loadSafetensors(join(dir, 'ref.safetensors')).tensors;
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has the NF4 table and the 8-bit dynamic map bit for bit', () => {
    expect([...NF4_CODE]).toEqual(ref.nf4);
    expect([...DYNAMIC_CODE]).toEqual(ref.dynamic);
  });

  it('packs the codes and scales as bitsandbytes and dequantizes exactly', () => {
    for (const [name, [rows, cols, format, blockSize, doubleQuant, conv1d]] of Object.entries(ref.cases)) {
      const model = layerOf(weights[name]!, rows, cols, conv1d);
      const report = nn.quantize(model, { format, blockSize, targets: ['0'], doubleQuant });
      expect(report.replaced).toEqual(['0']);
      const q = model.at(0) as nn.QuantizedLinear;
      const packed = [...expected[`${name}.packed`]!.dataSync()];
      expect(bytesOf(q.qweight, packed.length), name).toEqual(packed);
      if (doubleQuant) {
        const qabs = [...expected[`${name}.qabsmax`]!.dataSync()];
        expect(bytesOf(q.absmax, qabs.length), name).toEqual(qabs);
        expect([...q.nestedAbsmax!.dataSync()], name).toEqual([...expected[`${name}.absmax2`]!.dataSync()]);
        expect(q.nestedOffset, name).toBe(expected[`${name}.offset`]!.dataSync()[0]);
      } else {
        expect([...q.absmax.dataSync()], name).toEqual([...expected[`${name}.absmax`]!.dataSync()]);
      }
      const deq = expected[`${name}.dequantized`]!;
      const mine = q.dequantize();
      expect(mine.shape).toEqual(conv1d ? [cols, rows] : [rows, cols]);
      expect([...(conv1d ? mine.transpose(0, 1).contiguous() : mine).dataSync()], name).toEqual([...deq.dataSync()]);
    }
  });
});

describe('the quantized matmul', () => {
  const cases: [string, 'int8' | 'nf4', boolean][] = [['nf4', 'nf4', false], ['nf4 double', 'nf4', true], ['int8', 'int8', false]];
  it.each(cases)('%s: x·Wᵀ and g·W equal float64 products with the dequantized weight', (_, format, doubleQuant) => {
    manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(70, 45)); // 3150 values: a partial block
    nn.quantize(model, { format, targets: ['0'], doubleQuant });
    const q = model.at(0) as nn.QuantizedLinear;
    const w = q.dequantize().cast('float64');
    const x = randn([3, 5, 70]);
    const y = q.forward(x);
    const want = x.cast('float64').matmul(w.transpose(0, 1)).add(q.bias!.cast('float64'));
    expect(y.shape).toEqual([3, 5, 45]);
    expect(y.cast('float64').sub(want).abs().max().itemSync()).toBeLessThan(1e-5);
    const xr = x.clone().requiresGrad_();
    const g = randn([3, 5, 45]);
    q.forward(xr).mul(g).sum().backward();
    const gradWant = g.cast('float64').matmul(w);
    expect(xr.grad!.cast('float64').sub(gradWant).abs().max().itemSync()).toBeLessThan(1e-5);
    expect(q.qweight.grad).toBeNull();
  });
});
