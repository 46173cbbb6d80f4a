// The WGSL quantized matmul (Dawn; llvmpipe here) against the CPU backend: a quantized model moved
// to webgpu dequantizes exactly (plain absmaxes) or within float32 rounding (double-quantized:
// the absmax arithmetic may fuse), and its forward and input gradient match the CPU's. A quantized
// embedding takes core's composed lookup there (webgpu has no fused one and no synchronous reads):
// its rows equal the CPU's exactly, and GPT-2's tied head gives the CPU's logits.
import { describe, expect, it } from 'vitest';
import { type Tensor, backendStats, manualSeed, models, nn, noGrad, randn, resetStats, tensor } from '../../src/index.js';
import { backendBeforeAll } from '../backendAvailable.js';

async function maxDiff(a: Tensor, b: Tensor): Promise<number> {
  const [x, y] = [await a.data(), await b.data()];
  return Array.from(x).reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}

describe('quantized weights on webgpu', () => {
  const available = backendBeforeAll('webgpu', 'quantized matmul tests');

  for (const [format, doubleQuant] of [['nf4', false], ['nf4', true], ['int8', false], ['int8', true]] as const) {
    it(`${format} (double quantization ${doubleQuant}) gives the CPU's weights, outputs and input gradients`, async (ctx) => {
      if (!available()) return ctx.skip();
      manualSeed(8);
      const make = () => {
        const m = new nn.Sequential(new nn.Linear(70, 45), new nn.ReLU(), new nn.Conv1D(30, 45));
        nn.quantize(m, { format, targets: ['0', '2'], doubleQuant, blockSize: 32 });
        return m;
      };
      const cpu = make();
      manualSeed(8);
      const gpu = await make().to('webgpu');
      const x = randn([4, 70]);
      for (const i of [0, 2]) {
        const [c, g] = [cpu.at(i), gpu.at(i)] as nn.QuantizedLinear[];
        const d = await maxDiff(g!.dequantize(), c!.dequantize());
        if (doubleQuant) expect(d).toBeLessThan(1e-6);
        else expect(d).toBe(0);
      }
      resetStats('webgpu');
      const xg = (await x.to('webgpu')).requiresGrad_();
      const yg = gpu.forward(xg);
      expect(backendStats('webgpu').byOp.get('fused:quantizedMatmul')).toBe(2);
      const xc = x.clone().requiresGrad_();
      const yc = cpu.forward(xc);
      expect(await maxDiff(yg, yc)).toBeLessThan(1e-5);
      yg.sum().backward();
      yc.sum().backward();
      expect(await maxDiff(xg.grad!, xc.grad!)).toBeLessThan(1e-5);
    });
  }

  it('multiplies in large tiles (m, n ≥ 128) and with edges that no tile size divides as the CPU does', async (ctx) => {
    if (!available()) return ctx.skip();
    for (const [m, k, n] of [[130, 96, 200], [129, 33, 131]] as const) {
      for (const format of ['nf4', 'int8'] as const) {
        manualSeed(10);
        const make = () => {
          const layer = new nn.Sequential(new nn.Linear(k, n), new nn.Conv1D(k, n));
          nn.quantize(layer, { format, targets: ['0', '1'], blockSize: 64 });
          return layer;
        };
        const cpu = make();
        manualSeed(10);
        const gpu = await make().to('webgpu');
        const x = randn([m, k]);
        const want = noGrad(() => cpu.forward(x));
        const got = noGrad(() => gpu.forward(tensor(x.dataSync(), { shape: [m, k], backend: 'webgpu' })));
        expect(await maxDiff(got, want), `${format} [${m},${k}]·[${k},${n}]`).toBeLessThan(1e-4);
      }
    }
  });

  for (const [format, doubleQuant] of [['nf4', true], ['int8', false]] as const) {
    it(`a ${format} embedding (double quantization ${doubleQuant}) and its tied head give the CPU's rows and logits`, async (ctx) => {
      if (!available()) return ctx.skip();
      const config = { nLayer: 1, nEmbd: 64, nHead: 4, vocabSize: 300, nPositions: 16 };
      const make = () => {
        manualSeed(9);
        const m = new models.GPT2LMHeadModel(config).eval();
        nn.quantize(m, { format, targets: ['wte'], doubleQuant, blockSize: 32 });
        return m;
      };
      const cpu = make();
      const gpu = await make().to('webgpu');
      const ids = [[299, 0, 5, 17], [17, 150, 2, 298]];
      const cpuTable = cpu.transformer.wte as unknown as nn.QuantizedEmbedding, gpuTable = gpu.transformer.wte as unknown as nn.QuantizedEmbedding;
      resetStats('webgpu');
      const rows = gpuTable.forward(await tensor(ids, { dtype: 'int32' }).to('webgpu'));
      expect(backendStats('webgpu').byOp.get('fused:quantizedEmbedding')).toBeUndefined();
      expect(await maxDiff(rows, cpuTable.forward(ids))).toBe(0);
      expect(await maxDiff(gpuTable.dequantize(), cpuTable.dequantize())).toBe(0);
      const logits = noGrad(() => gpu.forward(ids));
      expect(await maxDiff(logits, noGrad(() => cpu.forward(ids)))).toBeLessThan(1e-4);
    });
  }
});
