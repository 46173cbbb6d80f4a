// safetensors encoding and PEFT adapter files: layout checked byte by byte, round trips.
import { describe, expect, it } from 'vitest';
import { TsgradError, io, manualSeed, nn, noGrad, randn, tensor, type Tensor } from '../../src/index.js';

/** Parses the header the way any safetensors reader does: u64 LE length, then JSON. */
function header(bytes: Uint8Array): { len: number; json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> } {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { len, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) };
}

describe('safetensors', () => {
  it('writes the documented layout and reads it back', async () => {
    const bytes = await io.encodeSafetensors({ b: tensor([[1, 2, 3]]), a: tensor([7, 8], { dtype: 'int32' }) }, { format: 'pt' });
    const { len, json } = header(bytes);
    expect(len % 8).toBe(0);
    expect(json.__metadata__).toEqual({ format: 'pt' });
    expect(json.a).toEqual({ dtype: 'I32', shape: [2], data_offsets: [0, 8] });
    expect(json.b).toEqual({ dtype: 'F32', shape: [1, 3], data_offsets: [8, 20] });
    expect(bytes.length).toBe(8 + len + 20);
    const view = new DataView(bytes.buffer, bytes.byteOffset + 8 + len);
    expect([view.getInt32(0, true), view.getInt32(4, true), view.getFloat32(8, true), view.getFloat32(16, true)]).toEqual([7, 8, 1, 3]);
    const { tensors, metadata } = io.decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.b!.arraySync()).toEqual([[1, 2, 3]]);
    expect(tensors.a!.dtype).toBe('int32');
  });

  it('reads F16 and BF16 as float32 and rejects inconsistent offsets', () => {
    const make = (entries: Record<string, unknown>, data: number[]) => {
      const json = new TextEncoder().encode(JSON.stringify(entries));
      const out = new Uint8Array(8 + json.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(data, 8 + json.length);
      return out;
    };
    // f16 1.0 = 0x3c00, -2.0 = 0xc000; bf16 1.0 = 0x3f80, -0.5 = 0xbf00 (little-endian bytes)
    const bytes = make({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      bf: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
    }, [0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0xbf]);
    const { tensors } = io.decodeSafetensors(bytes);
    expect(Array.from(tensors.h!.dataSync())).toEqual([1, -2]);
    expect(Array.from(tensors.bf!.dataSync())).toEqual([1, -0.5]);
    const bad = make({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Array(8).fill(0));
    expect(() => io.decodeSafetensors(bad)).toThrow(TsgradError);
    expect(() => io.decodeSafetensors(bad)).toThrow(/'x' of shape \[3\] and dtype F32 needs 12 bytes/);
  });
});

class Net extends nn.Module {
  layers = [new nn.Linear(6, 5), new nn.Linear(5, 3)];
  forward(x: Tensor): Tensor {
    return this.layers[1]!.forward(this.layers[0]!.forward(x).tanh());
  }
}

describe('PEFT adapter files', () => {
  it("save in PEFT's key layout and config, and load into a fresh base model with equal outputs", async () => {
    manualSeed(0);
    const tuned = new Net();
    const base = new Net();
    base.loadStateDict(tuned.stateDict());
    nn.applyLoRA(tuned, { targets: /^layers\.0$/, rank: 2, alpha: 4 });
    nn.applyLoRA(tuned, { targets: ['1'], rank: 3, alpha: 4 });
    for (const m of tuned.modules()) if (m instanceof nn.LoRALinear) noGrad(() => m.loraB.copy_(randn(m.loraB.shape)));

    const files = await io.saveAdapter(tuned);
    const { json } = header(files['adapter_model.safetensors']);
    expect(Object.keys(json).filter((k) => k !== '__metadata__').sort()).toEqual([
      'base_model.model.layers.0.lora_A.weight', 'base_model.model.layers.0.lora_B.weight',
      'base_model.model.layers.1.lora_A.weight', 'base_model.model.layers.1.lora_B.weight',
    ]);
    expect(json['base_model.model.layers.1.lora_A.weight']!.shape).toEqual([3, 5]);
    expect(json['base_model.model.layers.1.lora_B.weight']!.shape).toEqual([3, 3]);
    const config = JSON.parse(files['adapter_config.json']);
    expect(config).toMatchObject({ peft_type: 'LORA', lora_alpha: 4, bias: 'none', use_rslora: false, target_modules: '^(?:layers\\.0|layers\\.1)$' });
    // Ranks 2 and 3: one is the default r, the other goes to rank_pattern.
    expect(config.r === 2 ? config.rank_pattern : { 'layers.0': config.r, ...config.rank_pattern }).toEqual(
      config.r === 2 ? { 'layers.1': 3 } : { 'layers.0': 2 },
    );

    io.loadAdapter(base, files);
    expect(base.layers[0]).toBeInstanceOf(nn.LoRALinear);
    expect((base.layers[1] as unknown as nn.LoRALinear).rank).toBe(3);
    expect(base.numParameters({ trainableOnly: true })).toBe(tuned.numParameters({ trainableOnly: true }));
    const x = randn([4, 6]);
    expect(noGrad(() => base.forward(x)).dataSync()).toEqual(noGrad(() => tuned.forward(x)).dataSync());
  });

  it('names what does not fit: a missing layer, a wrong shape', async () => {
    const tuned = new Net();
    nn.applyLoRA(tuned, { targets: ['0'], rank: 2 });
    const files = await io.saveAdapter(tuned);
    class Other extends nn.Module {
      proj = new nn.Linear(6, 5);
      forward(x: Tensor) { return this.proj.forward(x); }
    }
    expect(() => io.loadAdapter(new Other(), files)).toThrow(/'layers\.0'/);
    const wrong = new Net();
    nn.applyLoRA(wrong, { targets: ['0'], rank: 3 });
    expect(() => io.loadAdapter(wrong, files)).toThrow("'layers.0.lora_A.weight' has shape [2,6] but the layer needs [3,6]");
    await expect(io.saveAdapter(new Net())).rejects.toThrow(/no LoRA layers/);
  });

  it("refuses to load into a layer adapted with another alpha instead of scaling the weights wrongly", async () => {
    manualSeed(1);
    const tuned = new Net();
    nn.applyLoRA(tuned, { targets: ['0'], rank: 2, alpha: 16 });
    nn.applyLoRA(tuned, { targets: ['1'], rank: 2, alpha: 16 });
    const files = await io.saveAdapter(tuned);
    const other = new Net();
    nn.applyLoRA(other, { targets: ['0', '1'], rank: 2, alpha: 2 });
    expect(() => io.loadAdapter(other, files)).toThrow(/LoRALinear 'layers\.0' has rank 2 and scaling 1, but the adapter was trained with rank 2 and scaling 8/);
  });

  it('matches rank_pattern and alpha_pattern keys as PEFT does: the path or a dotted suffix', async () => {
    manualSeed(2);
    const tuned = new Net();
    nn.applyLoRA(tuned, { targets: ['0', '1'], rank: 2, alpha: 2 });
    const files = await io.saveAdapter(tuned);
    // Written by PEFT with a short key: "1" names layers.1, and gives it alpha 8 (scaling 4).
    const config = { ...JSON.parse(files['adapter_config.json']), alpha_pattern: { '1': 8 } };
    const weights = await io.encodeSafetensors(io.decodeSafetensors(files['adapter_model.safetensors']).tensors, { format: 'pt' });
    const fresh = new Net();
    io.loadAdapter(fresh, { 'adapter_model.safetensors': weights, 'adapter_config.json': JSON.stringify(config) });
    expect((fresh.layers[1] as unknown as nn.LoRALinear).scaling).toBe(4);
    expect((fresh.layers[0] as unknown as nn.LoRALinear).scaling).toBe(1);
  });
});
