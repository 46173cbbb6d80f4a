// nn.quantize on embedding tables: the rows a lookup dequantizes against bitsandbytes' published
// semantics (quantize_reference.py, the transcription test/nn/quantize.test.ts checks), exactly,
// through the CPU's fused kernel and through core's composed fallback; GPT-2's head tied to its
// quantized table against a float64 product with the dequantized table; refusals that leave the
// model as it was; and the shared storage counted once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, TsgradError, fromTypedArray, initBackend, io, manualSeed, memoryReport, models, nn, noGrad, randn, registerBackend, tensor } from '../../src/index.js';
import { NF4_CODE } from '../../src/core/quant.js';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import { errorOf } from '../errorOf.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const skip = hfUnavailable('test/nn/quantized-embedding.test.ts');

type Case = [rows: number, cols: number, format: 'int8' | 'nf4', blockSize: number, doubleQuant: boolean, conv1d: boolean];

// The CPU backend without its fused kernel: lookups take core's composed path.
registerBackend('cpu-composed', () => {
  const b = Object.assign(new CpuBackend(), { name: 'cpu-composed' });
  delete (b.fused as Record<string, unknown>).quantizedEmbedding;
  return b;
});

const maxDiff = (a: Tensor, b: Tensor) => {
  const [x, y] = [a.dataSync(), b.dataSync()];
  return Array.from(x).reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
};

describe.skipIf(skip)('a quantized embedding against bitsandbytes (transcribed)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-quantized-embedding-'));
  let ref: { cases: Record<string, Case> };
  let weights: Record<string, Tensor>;
  let expected: Record<string, Tensor>;
  beforeAll(async () => {
    await initBackend('cpu-composed');
    ref = await runHfPython(join(import.meta.dirname, 'quantize_reference.py'), [dir]);
    weights = io.loadSafetensors(join(dir, 'weights.safetensors')).tensors;
    expected = io.loadSafetensors(join(dir, 'ref.safetensors')).tensors;
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('looks up exactly the dequantized rows, fused and composed', async () => {
    const cases = Object.entries(ref.cases).filter(([, [, cols, , blockSize, , conv1d]]) => !conv1d && cols % blockSize === 0);
    expect(cases.map(([name]) => name)).toEqual(['nf4_double', 'nf4_rows', 'nf4_rows_double', 'int8_rows', 'int8_rows_double']);
    for (const [name, [rows, cols, format, blockSize, doubleQuant]] of cases) {
      const table = new nn.Embedding(rows, cols);
      table.weight.copy_(weights[name]!);
      const model = new nn.Sequential(table);
      expect(nn.quantize(model, { format, blockSize, targets: ['0'], doubleQuant }).replaced).toEqual(['0']);
      const q = model.at(0) as nn.QuantizedEmbedding;
      expect(q).toBeInstanceOf(nn.QuantizedEmbedding);
      const packed = expected[`${name}.packed`]!;
      expect(Array.from(new Uint8Array(Int32Array.from(q.qweight.dataSync()).buffer)).slice(0, packed.size), name).toEqual([...packed.dataSync()]);
      const ids = [[rows - 1, 0, 3 % rows], [rows - 1, 1, rows >> 1]];
      const want = expected[`${name}.dequantized`]!.indexSelect(0, tensor(ids.flat(), { dtype: 'int32' })).reshape([2, 3, cols]);
      const fused = q.forward(ids);
      expect(fused.shape).toEqual([2, 3, cols]);
      expect([...fused.dataSync()], name).toEqual([...want.dataSync()]);
      expect([...q.dequantize().dataSync()], name).toEqual([...expected[`${name}.dequantized`]!.dataSync()]);
      await model.to('cpu-composed');
      expect([...(await q.forward(ids).data())], `${name} composed`).toEqual([...want.dataSync()]);
    }
  });
});

describe('the composed lookup', () => {
  it('unpacks words at the edges of int32 exactly as the fused kernel and a plain decoder', async () => {
    await initBackend('cpu-composed');
    // The signs' extremes, words whose float32 value rounds across a multiple of 65536 (0x4000ffff
    // becomes 0x40010000), and pseudo-random ones.
    const edges = [-(2 ** 31), 2 ** 31 - 1, -1, 0, 65535, 65536, -65536, -65537, 2 ** 24 - 1, 2 ** 24, -(2 ** 24), 0x7f7f7f7f, 0x80808080 | 0,
      0x00ff00ff, 0xff00ff00 | 0, 0x12345678, 0x89abcdef | 0, 0x7fff0000, 0x7fffff80, 0x7fffffc0 | 0, -(2 ** 31) + 64, 0xffff0000 | 0, 0x0000ffff, 0x01000000,
      0x4000ffff, 0xbfffffff | 0, 0x7ffeffff, 0xc000ffff | 0];
    let seed = 12345;
    const words = Int32Array.from({ length: 64 }, (_, i) => edges[i] ?? ((seed = (Math.imul(seed, 1103515245) + 12345) | 0), seed));
    const rows = 16, cols = 32; // 4 words and one block of 32 a row
    const parts = (on: string) => ({
      format: 'nf4' as const, blockSize: 32, numEmbeddings: rows, embeddingDim: cols, nested: null,
      qweight: nn.Parameter.from(fromTypedArray(words, [words.length], { backend: on }), false),
      absmax: nn.Parameter.from(fromTypedArray(Float32Array.from({ length: rows }, (_, r) => 0.5 + r), [rows], { backend: on }), false),
    });
    const want = Float32Array.from({ length: rows * cols }, (_, i) => {
      const byte = (words[i >> 3]! >>> (((i >> 1) & 3) * 8)) & 255;
      return Math.fround(NF4_CODE[i & 1 ? byte & 15 : byte >> 4]! * (0.5 + Math.floor(i / cols)));
    });
    const ids = Array.from({ length: rows }, (_, r) => rows - 1 - r);
    const order = (v: ArrayLike<number>) => ids.flatMap((r) => Array.from(want.subarray(r * cols, (r + 1) * cols))).map((x, i) => [x, v[i]]);
    const fused = new nn.QuantizedEmbedding(parts('cpu')).forward([ids]);
    const composed = await new nn.QuantizedEmbedding(parts('cpu-composed')).forward([ids]).data();
    for (const [w, got] of order(fused.dataSync())) expect(got).toBe(w);
    for (const [w, got] of order(composed)) expect(got).toBe(w);
  });
});

describe("GPT-2's head tied to a quantized wte", () => {
  const config = { nLayer: 1, nEmbd: 64, nHead: 4, vocabSize: 101, nPositions: 16 };
  const ids = [[1, 5, 100, 2], [0, 0, 7, 99]];

  it.each([['nf4', true], ['nf4', false], ['int8', false]] as const)('%s (double quantization %s) reads one packed table for lookups and logits', async (format, doubleQuant) => {
    await initBackend('cpu-composed');
    manualSeed(3);
    const model = new models.GPT2LMHeadModel(config).eval();
    const tableBytes = config.vocabSize * config.nEmbd * 4;
    const trainableBefore = memoryReport(model).trainableParams.bytes;
    const report = nn.quantize(model, { format, targets: ['wte'], doubleQuant });
    expect(report.replaced).toEqual(['transformer.wte', 'lm_head']);
    expect(report.bytesBefore).toBe(tableBytes);
    const wte = model.transformer.wte as unknown as nn.QuantizedEmbedding, head = model.lm_head as unknown as nn.QuantizedLinear;
    expect([wte, head].map((m) => m.constructor.name)).toEqual(['QuantizedEmbedding', 'QuantizedLinear']);
    expect([head.qweight, head.absmax, head.nestedAbsmax]).toEqual([wte.qweight, wte.absmax, wte.nestedAbsmax]);
    expect(head.qweight).toBe(wte.qweight);

    // The packed table counted once: it is all the frozen memory, and the float table left trainable's.
    const mem = memoryReport(model);
    expect(mem.frozenParams.bytes).toBe(report.bytesAfter);
    expect(mem.frozenParams.buffers).toBe(doubleQuant ? 3 : 2);
    expect(mem.trainableParams.bytes).toBe(trainableBefore - tableBytes);
    expect(Object.keys(model.stateDict()).filter((k) => !k.includes('.h.'))).toEqual(
      ['transformer.wte.qweight', 'transformer.wte.absmax', ...(doubleQuant ? ['transformer.wte.nestedAbsmax'] : []), 'transformer.wpe.weight', 'transformer.ln_f.weight', 'transformer.ln_f.bias']);

    // Logits: the hidden states times the dequantized table, in float64.
    const table = wte.dequantize();
    expect(maxDiff(head.dequantize(), table)).toBe(0);
    const hidden = noGrad(() => model.transformer.forward(ids));
    const logits = noGrad(() => model.forward(ids));
    const want = hidden.cast('float64').matmul(table.cast('float64').transpose(0, 1));
    expect(logits.shape).toEqual([2, 4, config.vocabSize]);
    expect(maxDiff(logits.cast('float64'), want)).toBeLessThan(1e-5);
    expect(maxDiff(wte.forward(ids), table.indexSelect(0, tensor(ids.flat(), { dtype: 'int32' })).reshape([2, 4, 64]))).toBe(0);

    // Gradients reach the head's input, as g·W; none reach the table.
    const x = randn([2, 4, 64]).requiresGrad_();
    const g = randn([2, 4, config.vocabSize]);
    head.forward(x).mul(g).sum().backward();
    expect(maxDiff(x.grad!.cast('float64'), g.cast('float64').matmul(table.cast('float64')))).toBeLessThan(1e-5);
    expect([wte.qweight, wte.absmax].map((p) => [p.requiresGrad, p.grad])).toEqual([[false, null], [false, null]]);

    // Core's composed lookup gives the same model the same logits.
    await model.to('cpu-composed');
    expect([...(await noGrad(() => model.forward(ids)).data())]).toEqual([...logits.dataSync()]);
  });

  it('quantizes the same when the head is named too', () => {
    manualSeed(3);
    const a = new models.GPT2LMHeadModel(config).eval();
    manualSeed(3);
    const b = new models.GPT2LMHeadModel(config).eval();
    expect(nn.quantize(a, { format: 'nf4', targets: ['wte'] }).replaced).toEqual(nn.quantize(b, { format: 'nf4', targets: ['lm_head', 'wte'] }).replaced);
    expect((b.lm_head as unknown as nn.QuantizedLinear).qweight).toBe((b.transformer.wte as unknown as nn.QuantizedEmbedding).qweight);
    expect(maxDiff(noGrad(() => a.forward(ids)), noGrad(() => b.forward(ids)))).toBe(0);
  });

  it('generates as the float32 model holding the dequantized table', async () => {
    manualSeed(4);
    const model = new models.GPT2LMHeadModel(config).eval();
    manualSeed(4);
    const dense = new models.GPT2LMHeadModel(config).eval();
    nn.quantize(model, { format: 'nf4', targets: ['wte'], doubleQuant: true });
    noGrad(() => dense.transformer.wte.weight.copy_((model.transformer.wte as unknown as nn.QuantizedEmbedding).dequantize()));
    const [got, want] = await Promise.all([model, dense].map((m) => m.generate([[1, 5, 9]], { maxNewTokens: 6 })));
    expect(got!.arraySync()).toEqual(want!.arraySync());
  });
});

describe('nn.quantize on an embedding refuses, changing nothing', () => {
  const config = { nLayer: 1, nEmbd: 64, nHead: 4, vocabSize: 50, nPositions: 16 };
  const cases: [string, (m: models.GPT2LMHeadModel) => unknown, RegExp][] = [
    ['a tied head without its table', (m) => nn.quantize(m, { format: 'nf4', targets: ['c_attn', 'lm_head'] }),
      /'lm_head\.weight' is tied to 'transformer\.wte\.weight' \(an Embedding's table\); target 'transformer\.wte' to quantize the table and its tied head together/],
    ['rows that are not whole blocks', (m) => nn.quantize(m, { format: 'nf4', targets: ['c_attn', 'wte'], blockSize: 128 }),
      /'transformer\.wte' has rows of 64 values, not whole blocks of 128.*pick a blockSize that divides 64/],
    ['a tied head inside a LoRA layer', (m) => { nn.applyLoRA(m, { targets: ['lm_head'], rank: 2 }); return nn.quantize(m, { format: 'nf4', targets: ['c_attn', 'wte'] }); },
      /'transformer\.wte\.weight' shares its storage with 'lm_head\.base\.weight'.*inside a LoRA layer: quantize first, then applyLoRA/],
    ['a table shared with something other than a head', (m) => { m.transformer.wpe.weight = m.transformer.wte.weight; return nn.quantize(m, { format: 'nf4', targets: ['c_attn', 'wte'] }); },
      /'transformer\.wte\.weight' shares its storage with 'transformer\.wpe\.weight', which is not a Linear head of shape \[50, 64\]/],
  ];
  it.each(cases)('%s', (_, call, message) => {
    manualSeed(0);
    const m = new models.GPT2LMHeadModel(config);
    const e = errorOf(() => call(m));
    expect(e).toBeInstanceOf(TsgradError);
    expect(e.message).toMatch(message);
    const block = m.transformer.h.at(0) as models.GPT2Block;
    expect(block.attn.c_attn).toBeInstanceOf(nn.Conv1D); // the valid first target was left as it was
    expect(m.transformer.wte).toBeInstanceOf(nn.Embedding);
    expect(m.transformer.wte.weight.isDisposed).toBe(false);
    const head = m.lm_head instanceof nn.LoRALinear ? (m.lm_head as nn.LoRALinear<nn.Linear>).base : m.lm_head;
    expect(head.weight).toBe(m.transformer.wte.weight);
  });
});
