// What the WebGPU backend is given: narrow typed arrays, tensors too large for the device, and
// its options. Skipped loudly without a driver; a failure under CI.
import { describe, expect, it } from 'vitest';
import { TsgradError, getBackendInfo, initBackend, nn, tensor, zeros } from '../../src/index.js';
import { backendBeforeAll } from '../backendAvailable.js';


async function rejection(p: () => Promise<unknown>): Promise<TsgradError> {
  try {
    await p();
  } catch (e) {
    if (!(e instanceof TsgradError)) throw new Error(`expected a TsgradError, got ${(e as Error).name}: ${(e as Error).message}`);
    return e;
  }
  throw new Error('expected a TsgradError, but the call succeeded');
}

describe('webgpu inputs', () => {
  const available = backendBeforeAll('webgpu', 'input tests');
  const test = (name: string, fn: () => Promise<void>) =>
    it(name, async (ctx) => {
      if (!available()) return ctx.skip();
      await fn();
    });

  test('1- and 2-byte typed arrays become int32 tensors and read back whole', async () => {
    for (const data of [new Uint8Array([1, 2, 255]), new Int8Array([-1, 2, 3]), new Uint16Array([1, 65535, 3]), new Int16Array([-300, 2, 3])]) {
      const t = tensor(data, { backend: 'webgpu' });
      expect(t.dtype).toBe('int32');
      expect(Array.from(await t.data())).toEqual(Array.from(data));
      t.copy_(tensor([300, 70000, -5], { backend: 'webgpu', dtype: 'int32' }));
      expect(Array.from(await t.data())).toEqual([300, 70000, -5]);
    }
  });

  test('plain-array indices and class targets out of range are refused by the call, before the device runs', async () => {
    const table = zeros([3, 2], { backend: 'webgpu' });
    expect(() => nn.functional.embedding([1, 3], table)).toThrow(/^embedding: index 3 is out of range for a table of 3 rows/);
    const logits = zeros([2, 4], { backend: 'webgpu' });
    expect(() => nn.functional.crossEntropy(logits, [0, 4])).toThrow(/^crossEntropy: target 4 is out of range for 4 classes/);
    expect(() => nn.functional.nllLoss(logits, [-1, 0])).toThrow(/^nllLoss: target -1 is out of range/);
    expect(Array.from(await nn.functional.crossEntropy(logits, [-100, 1], { ignoreIndex: -100 }).data())).toHaveLength(1);
  });

  test('a tensor larger than the largest buffer is refused when created, not when read', async () => {
    const limits = getBackendInfo('webgpu')['limits'] as Record<string, number>;
    const maxBytes = Math.min(limits['maxBufferSize']!, limits['maxStorageBufferBindingSize']!);
    const n = Math.floor(maxBytes / 4) + 1;
    if (n > 2 ** 31 - 1) return; // this device holds anything a tensor can
    expect(() => zeros([n], { backend: 'webgpu' })).toThrow(/^webgpu: a tensor of \d+ elements needs a \d+-byte buffer, more than this device's largest/);
  });

  test('checked mode: an out-of-range index makes the next read throw, naming it; later reads are clean', async () => {
    const table = tensor([[1, 2], [3, 4], [5, 6]], { backend: 'webgpu' });
    const bad = table.indexSelect(0, tensor([0, 7], { backend: 'webgpu', dtype: 'int32' }));
    await expect(bad.data()).rejects.toThrow(/^gather: index 7 is out of range for an axis of size 3 \(found by the webgpu backend's checked mode/);
    const good = table.indexSelect(0, tensor([2, 0], { backend: 'webgpu', dtype: 'int32' }));
    expect(Array.from(await good.data())).toEqual([5, 6, 1, 2]);
    const emb = nn.functional.embedding(tensor([[1, -1]], { backend: 'webgpu', dtype: 'int32' }), table);
    await expect(emb.data()).rejects.toThrow(/^gather: index -1 is out of range for an axis of size 3/);
    expect(Array.from(await table.data())).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('unknown options and values are refused, as is a second setBackend asking for others', async () => {
    expect((await rejection(() => initBackend('webgpu', { powerPref: 'low-power' } as never))).message).toBe("setBackend: unknown webgpu option 'powerPref'; known: device, powerPreference, dawnBackend, checkIndices");
    expect((await rejection(() => initBackend('webgpu', { dawnBackend: 'metal' } as never))).message).toMatch(/^setBackend: webgpu option 'dawnBackend' must be 'auto' or 'native' or 'opengles', got string 'metal'/);
    expect((await rejection(() => initBackend('webgpu', { device: {} }))).message).toMatch(/^setBackend: webgpu option 'device' must be a GPUDevice/);
    expect((await rejection(() => initBackend('webgpu', { powerPreference: 'low-power' }))).message)
      .toBe("setBackend: backend 'webgpu' is already initialized with options {}, not { powerPreference: 'low-power' }; call removeBackend('webgpu') first to create it again");
    await initBackend('webgpu', {});
    await initBackend('webgpu');
  });
});
