// safetensors with float16 and bfloat16: written as F16/BF16 bit for bit, widened to float32 on
// read by default (as before), kept as stored with { keepHalf: true }; the bytes are the IEEE and
// bfloat16 patterns of the values (published encodings), little-endian.
import { describe, expect, it } from 'vitest';
import { io, tensor } from '../../src/index.js';
import { storedData } from '../../src/core/seams.js';

describe('safetensors F16 and BF16', () => {
  it('writes the 16-bit patterns, reads them widened by default and kept with keepHalf', async () => {
    const h = tensor([1, -2, 65504, 0.5], { dtype: 'float16' }), b = tensor([1, -2, 3.3895313892515355e38, 0.5], { dtype: 'bfloat16' });
    const bytes = await io.encodeSafetensors({ h, b });
    expect(io.safetensorsHeader(bytes).tensors.map((t) => [t.name, t.dtype])).toEqual([['b', 'BF16'], ['h', 'F16']]);
    // The data follows the header: b's 8 bytes, then h's.
    const data = bytes.subarray(bytes.length - 16);
    expect(Array.from(new Uint16Array(data.slice().buffer))).toEqual([0x3f80, 0xc000, 0x7f7f, 0x3f00, 0x3c00, 0xc000, 0x7bff, 0x3800]);

    const widened = io.decodeSafetensors(bytes).tensors;
    expect([widened.h!.dtype, widened.b!.dtype]).toEqual(['float32', 'float32']);
    expect(Array.from(widened.h!.dataSync())).toEqual([1, -2, 65504, 0.5]);

    const kept = io.decodeSafetensors(bytes, { keepHalf: true }).tensors;
    expect([kept.h!.dtype, kept.b!.dtype]).toEqual(['float16', 'bfloat16']);
    expect(Array.from(await storedData(kept.b!))).toEqual(Array.from(await storedData(b)));
    expect(Array.from(kept.b!.dataSync())).toEqual([1, -2, 3.3895313892515355e38, 0.5]);
  });

  it('refuses a bad keepHalf', () => {
    expect(() => io.decodeSafetensors(new Uint8Array(16), { keepHalf: 'yes' as never })).toThrow(/^decodeSafetensors: options must be an object such as \{ backend: 'cpu', keepHalf: true \}/);
  });
});
