// gpu.js has neither a quantized matmul kernel nor synchronous reads for the tile fallback, and it
// stores int32 as float (packed codes would lose bits): a quantized layer or embedding moved there
// is refused with an error naming what to do, never computed wrongly.
import { describe, expect, it } from 'vitest';
import { TsgradError, nn, randn } from '../../src/index.js';
import { backendBeforeAll } from '../backendAvailable.js';
import { errorOf } from '../errorOf.js';

describe('a quantized layer on gpujs', () => {
  const available = backendBeforeAll('gpujs', 'quantized layer test');

  it('is refused at its forward and dequantize, naming the backends that run it', async (ctx) => {
    if (!available()) return ctx.skip();
    const model = new nn.Sequential(new nn.Linear(64, 8));
    nn.quantize(model, { format: 'nf4', targets: ['0'] });
    await model.to('gpujs');
    const x = await randn([2, 64]).to('gpujs');
    for (const call of [() => model.forward(x), () => (model.at(0) as nn.QuantizedLinear).dequantize()]) {
      const e = errorOf(call);
      expect(e).toBeInstanceOf(TsgradError);
      expect(e.message).toMatch(/backend 'gpujs' has no fused quantizedMatmul and cannot be read synchronously.*move the model to 'cpu' or 'webgpu'/);
    }
  });

  it('refuses a quantized embedding at its lookup and dequantize', async (ctx) => {
    if (!available()) return ctx.skip();
    const model = new nn.Sequential(new nn.Embedding(20, 64));
    nn.quantize(model, { format: 'nf4', targets: ['0'] });
    await model.to('gpujs');
    const table = model.at(0) as nn.QuantizedEmbedding;
    for (const call of [() => table.forward([[1, 2]]), () => table.dequantize()]) {
      const e = errorOf(call);
      expect(e).toBeInstanceOf(TsgradError);
      expect(e.message).toMatch(/quantizedEmbedding: backend 'gpujs' has no fused quantizedMatmul and cannot be read synchronously.*move the model to 'cpu' or 'webgpu'/);
    }
  });
});
