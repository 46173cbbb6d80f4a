// QuantizedLinear without Python: the fused CPU kernel (WebAssembly and JavaScript paths) against
// the composed tile fallback and core's host decoder, the input gradient by finite differences,
// the bytes memoryReport measures from the storages, LoRA over a quantized layer, and every
// refusal of nn.quantize leaving the model as it was.
import { afterEach, describe, expect, it } from 'vitest';
import { TsgradError, backendStats, getBackendInfo, gradcheck, manualSeed, memoryReport, nn, noGrad, optim, randn, resetStats, setBackend } from '../../src/index.js';
import { quantizedMatmul } from '../../src/core/ops/quantizedMatmul.js';
import { dequantizeRows, quantizeMatrix } from '../../src/core/quant.js';
import { errorOf } from '../errorOf.js';

afterEach(async () => {
  await setBackend('cpu', { wasm: true });
});

const quantized = (inF: number, outF: number, opts: Partial<nn.QuantizeOptions> = {}) => {
  const model = new nn.Sequential(new nn.Linear(inF, outF));
  nn.quantize(model, { format: 'nf4', targets: ['0'], ...opts });
  return model.at(0) as nn.QuantizedLinear;
};

describe('the fused CPU kernel', () => {
  it.each([['wasm', true], ['js', false]] as const)('on the %s path dequantizes exactly as core\'s decoder and runs as one fused kernel', async (path, wasm) => {
    await setBackend('cpu', { wasm });
    expect(getBackendInfo('cpu').path).toBe(path);
    manualSeed(2);
    for (const format of ['nf4', 'int8'] as const) {
      const w = randn([300, 77]); // 23100 values: blocks cross rows, the last block is partial
      const host = quantizeMatrix(w.dataSync(), 300, 77, format, 64, true);
      const want = new Float32Array(300 * 77);
      dequantizeRows(host, 0, 300, want);
      const model = new nn.Sequential(new nn.Linear(77, 300));
      (model.at(0) as nn.Linear).weight.copy_(w);
      nn.quantize(model, { format, targets: ['0'], doubleQuant: true });
      const q = model.at(0) as nn.QuantizedLinear;
      resetStats('cpu');
      const deq = q.dequantize(); // I · Wᵀ through the kernel: exact
      expect(backendStats('cpu').byOp.get('fused:quantizedMatmul')).toBe(1);
      expect(backendStats('cpu').byOp.get('matmul')).toBeUndefined();
      expect([...deq.dataSync()]).toEqual([...want]);
    }
  });

  it('agrees with the composed tile fallback (float64 input) within float32 rounding', () => {
    manualSeed(3);
    const q = quantized(200, 150, { format: 'int8' });
    const x = randn([6, 200]);
    const fused = quantizedMatmul(x, q.quantized, true);
    resetStats('cpu');
    const composed = quantizedMatmul(x.cast('float64'), q.quantized, true);
    expect(backendStats('cpu').byOp.get('fused:quantizedMatmul')).toBeUndefined();
    expect(composed.dtype).toBe('float64');
    expect(fused.cast('float64').sub(composed).abs().max().itemSync()).toBeLessThan(1e-5);
  });

  it('passes gradcheck for the input (both products, a batch of rows)', () => {
    manualSeed(4);
    const q = quantized(40, 24, { doubleQuant: true });
    const x = randn([2, 3, 40], { dtype: 'float64' }).requiresGrad_();
    expect(gradcheck((t) => quantizedMatmul(t, q.quantized, true), [x]).ok).toBe(true);
    const g = randn([5, 24], { dtype: 'float64' }).requiresGrad_();
    expect(gradcheck((t) => quantizedMatmul(t, q.quantized, false), [g]).ok).toBe(true);
  });
});

describe('memory', () => {
  it('frozen bytes, measured from the storages, fall to about 1/4 (int8) and 1/7 (NF4 with its scales)', () => {
    const bytes = (opts: Partial<nn.QuantizeOptions> | null) => {
      manualSeed(5);
      const model = new nn.Sequential(new nn.Linear(512, 512, { bias: false }), new nn.ReLU(), new nn.Linear(512, 512, { bias: false }));
      if (opts) nn.quantize(model, { format: 'nf4', targets: ['0', '2'], ...opts });
      return memoryReport(model).frozenParams.bytes;
    };
    const base = bytes({ format: 'int8' }) && bytes(null); // the float32 model's parameters are trainable
    expect(base).toBe(0);
    const float32 = 2 * 512 * 512 * 4;
    const frozen = (opts: Partial<nn.QuantizeOptions>) => bytes(opts) / float32;
    expect(frozen({ format: 'int8' })).toBeCloseTo(1 / 4 + 1 / 64, 6); // a byte a value, a float per 64
    expect(frozen({ format: 'nf4' })).toBeCloseTo(1 / 8 + 1 / 64, 6); // 1/7.1
    expect(frozen({ format: 'nf4', doubleQuant: true })).toBeCloseTo(1 / 8 + 1 / 256 + 1 / (64 * 256), 6); // 1/7.75
  });

  it('reports the bytes it replaced and the bytes that replaced them', () => {
    const model = new nn.Sequential(new nn.Linear(256, 128));
    const r = nn.quantize(model, { format: 'nf4', targets: ['0'] });
    expect(r).toEqual({ replaced: ['0'], bytesBefore: 256 * 128 * 4, bytesAfter: (256 * 128) / 2 + (256 * 128 / 64) * 4 });
  });
});

describe('LoRA over a quantized layer', () => {
  it('trains A and B only, gives the output of LoRA on the dequantized weight, refuses merge and keeps unfreeze off the codes', () => {
    manualSeed(6);
    const model = new nn.Sequential(new nn.Linear(32, 48), new nn.GELU(), new nn.Conv1D(16, 48));
    nn.quantize(model, { format: 'nf4', targets: ['0', '2'], blockSize: 32 });
    const dense = [0, 2].map((i) => (model.at(i) as nn.QuantizedLinear).dequantize());
    nn.applyLoRA(model, { targets: ['0', '2'], rank: 4, alpha: 8 });
    const [l0, l2] = [model.at(0), model.at(2)] as nn.LoRALinear<nn.QuantizedLinear>[];
    expect(l2!.fanInFanOut).toBe(true);
    noGrad(() => [l0!, l2!].forEach((l) => l.loraB.copy_(randn(l.loraB.shape).mul(0.3))));
    const x = randn([5, 32]);
    const ref = (t: typeof x, l: nn.LoRALinear<nn.QuantizedLinear>, w: typeof x, fanInFanOut: boolean) =>
      nn.functional.loraLinear(t, fanInFanOut ? w.transpose(0, 1) : w, l.base.bias, l.loraA, l.loraB, l.scaling);
    const want = ref(ref(x, l0!, dense[0]!, false).gelu(), l2!, dense[1]!, true);
    expect(model.forward(x).sub(want).abs().max().itemSync()).toBeLessThan(1e-5);

    const opt = new optim.Adam(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-2 });
    const y = model.forward(x);
    y.mul(y).sum().backward();
    opt.step();
    const trained = model.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
    expect(trained).toEqual(['0.loraA', '0.loraB', '2.loraA', '2.loraB']);
    expect(l0!.base.qweight.grad).toBeNull();
    expect(errorOf(() => l0!.merge()).message).toMatch(/the base is quantized \(nf4\)/);
    model.unfreeze();
    expect([l0!.base.qweight, l0!.base.absmax].map((p) => p.requiresGrad)).toEqual([false, false]);
    expect(l0!.base.bias!.requiresGrad).toBe(true);
  });
});

describe('QuantizedLinear', () => {
  it('refuses parts that do not fit together', () => {
    const q = quantized(10, 7); // 70 values: 35 bytes of codes in 9 words, 2 blocks
    const parts = { format: 'nf4' as const, blockSize: 64, inFeatures: 10, outFeatures: 7, fanInFanOut: false, qweight: q.qweight, absmax: q.absmax, nested: null, bias: null };
    expect(new nn.QuantizedLinear(parts).forward(randn([1, 10])).shape).toEqual([1, 7]);
    expect(errorOf(() => new nn.QuantizedLinear({ ...parts, inFeatures: 12 })).message).toMatch(/qweight must be 11 int32 words of packed nf4 codes for \[7, 12\], got int32 \[9\]/);
    expect(errorOf(() => new nn.QuantizedLinear({ ...parts, blockSize: 32 })).message).toMatch(/absmax must be 3 float32 values for 3 blocks of 32, got float32 \[2\]/);
  });
});

describe('nn.quantize refuses, changing nothing', () => {
  const fresh = () => {
    const inner = new nn.Sequential(new nn.Linear(8, 8), new nn.ReLU());
    return new nn.Sequential(new nn.Linear(8, 8), inner, new nn.Conv1D(4, 8));
  };
  const cases: [string, (m: nn.Sequential) => unknown, RegExp][] = [
    ['a target matching nothing', (m) => nn.quantize(m, { format: 'nf4', targets: ['0', 'nope'] }), /target 'nope' matches no layer; Linear, Conv1D and Embedding layers in the model: 0, 1\.0, 2/],
    ['a layer that is neither', (m) => nn.quantize(m, { format: 'nf4', targets: ['0', '1'] }), /target matched '1', a Sequential; only nn\.Linear, nn\.Conv1D and nn\.Embedding/],
    ['an unknown format', (m) => nn.quantize(m, { format: 'fp4' as 'nf4', targets: ['0'] }), /format must be 'int8' or 'nf4', got string 'fp4'/],
    ['a block size bitsandbytes lacks', (m) => nn.quantize(m, { format: 'nf4', targets: ['0'], blockSize: 48 }), /blockSize must be a power of two in \[32, 4096\].*got number 48/],
    ['a bad doubleQuant', (m) => nn.quantize(m, { format: 'nf4', targets: ['0'], doubleQuant: 1 as unknown as boolean }), /doubleQuant must be true or false/],
    ['a LoRA-wrapped layer', (m) => { nn.applyLoRA(m, { targets: ['2'], rank: 2 }); return nn.quantize(m, { format: 'nf4', targets: ['0', '2'] }); }, /'2' is a LoRALinear; quantize the base model first, then applyLoRA/],
    ['an already quantized layer', (m) => { nn.quantize(m, { format: 'int8', targets: ['2'] }); return nn.quantize(m, { format: 'nf4', targets: ['0', '2'] }); }, /'2' is already quantized \(int8\)/],
    ['a float64 weight', (m) => { (m as unknown as Record<string, nn.Module>)['0'] = new nn.Linear(8, 8, { dtype: 'float64' }); return nn.quantize(m, { format: 'nf4', targets: ['1.0', '0'] }); }, /'0' has a float64 weight/],
    ['a tied weight', (m) => { ((m.at(1) as nn.Sequential).at(0) as nn.Linear).weight = (m.at(0) as nn.Linear).weight; return nn.quantize(m, { format: 'nf4', targets: ['2', '0'] }); }, /'0\.weight' shares its storage with 1\.0\.weight \(tied weights\); leave '0' out of targets/],
  ];
  it.each(cases)('%s', (_, call, message) => {
    const m = fresh();
    const e = errorOf(() => call(m));
    expect(e).toBeInstanceOf(TsgradError);
    expect(e.message).toMatch(message);
    expect(m.at(0)).toBeInstanceOf(nn.Linear); // the valid first target was left as it was
    expect((m.at(0) as nn.Linear).weight.isDisposed).toBe(false);
  });
});
