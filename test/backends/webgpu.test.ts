// The WebGPU backend: what is specific to a GPU backend (device discovery, buffer pooling and its
// hazards, dispatch limits, memory over a training loop). The shared suites run from test/matrix.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Backend, type Tensor, backendStats, fromTypedArray, getBackendInfo, grad, initBackend, manualSeed, noGrad, optim, randn, removeBackend, resetStats, scope, tensor, zeros,
} from '../../src/index.js';
import { installBackend } from '../../src/core/backend.js';
import { WebGPUBackend, createWebGPUBackend, webgpuInfo } from '../../src/backends/webgpu/index.js';
import { expectTimersRunDuringReads } from '../eventLoop.js';
import { collectGarbage } from '../gc.js';
import { WEBGPU_REQUIREMENT } from '../matrix.js';


/** Largest |a − b| allowed relative to the magnitude of b, for float32 against float32/64. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol = 1e-5, rtol = 1e-4): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const ok = Object.is(got[i], want[i]) || Math.abs(got[i]! - want[i]!) <= atol + rtol * Math.abs(want[i]!);
    if (!ok) expect.fail(`element ${i}: got ${got[i]}, want ${want[i]}`);
  }
}

describe('webgpu backend', () => {
  let be: Backend;
  let gpu: WebGPUBackend;
  let available = false;
  beforeAll(async () => {
    try {
      be = await initBackend('webgpu');
      gpu = be as unknown as WebGPUBackend;
      available = true;
    } catch (e) {
      if (process.env.CI) throw new Error(`the webgpu backend is unavailable in CI: ${(e as Error).message}`);
      console.warn(`\n*** SKIPPING the webgpu backend tests: ${(e as Error).message}\n*** ${WEBGPU_REQUIREMENT}\n`);
    }
  });
  const test = (name: string, fn: () => Promise<void>, timeout?: number) =>
    it(name, async (ctx) => {
      if (!available) return ctx.skip();
      await fn();
    }, timeout);

  test('reports the adapter, Dawn backend, feature level and the limits it asked for', async () => {
    const info = webgpuInfo();
    expect(getBackendInfo('webgpu')).toMatchObject({ name: 'webgpu', backendType: info.backendType, featureLevel: info.featureLevel });
    expect(['vulkan', 'metal', 'd3d12', 'opengles', 'browser', 'user-device']).toContain(info.backendType);
    expect(info.featureLevel).toBe(info.backendType === 'opengles' ? 'compatibility' : 'core');
    expect(`${info.device}${info.description}${info.vendor}`.length).toBeGreaterThan(0);
    expect(info.limits['maxComputeInvocationsPerWorkgroup']).toBeGreaterThanOrEqual(256);
    expect(info.limits['maxStorageBuffersPerShaderStage']).toBeGreaterThanOrEqual(4);
    expect(info.limits['maxComputeWorkgroupsPerDimension']).toBe(gpu.device.limits.maxComputeWorkgroupsPerDimension);
  });

  test('lets the event loop turn while a loop awaits reads', async () => {
    const x = randn([64, 64], { backend: 'webgpu' });
    // The first read compiles the kernels (on llvmpipe with a cold shader cache, seconds for the
    // 32×32 matmul block): the loop below is about reads, so it starts with them compiled.
    await scope(async () => void (await x.matmul(x).sum().data()));
    await expectTimersRunDuringReads(() => x.matmul(x).sum());
    x.dispose();
  });

  test('the native-only path either finds a GPU or says what to install', async () => {
    try {
      const b = (await createWebGPUBackend({ dawnBackend: 'native' })) as WebGPUBackend;
      expect(b.info.backendType).not.toBe('opengles');
      b.destroy();
    } catch (e) {
      expect((e as Error).message).toMatch(/libegl-mesa0 libgles2 mesa-vulkan-drivers/);
      expect((e as Error).message).toMatch(/EGL_PLATFORM=surfaceless/);
    }
  });

  test('rejects float64 tensors and mixing backends with clear errors', async () => {
    expect(() => tensor([1, 2], { dtype: 'float64', backend: 'webgpu' })).toThrow(/webgpu.*float64/);
    const g = tensor([1, 2], { backend: 'webgpu' });
    const c = tensor([1, 2], { backend: 'cpu' });
    expect(() => g.add(c)).toThrow(/different backends/);
    expect(() => g.cast('float64')).toThrow(/float64/);
  });

  test('reduces rows and columns by each strategy (a loop or a workgroup per output) as the CPU does', async () => {
    manualSeed(12);
    // Short rows, long rows, columns few and many, short and long: every branch of reduce's choice, and softmax's.
    for (const shape of [[2048, 64], [40, 3000], [3000, 70], [300, 30], [5000, 8], [2, 9000]]) {
      const x = randn(shape);
      const g = await x.to('webgpu');
      for (const axis of [0, 1]) {
        expectClose(await g.sum(axis).data(), x.sum(axis).dataSync(), 1e-3, 1e-4);
        expectClose(await g.max(axis).data(), x.max(axis).dataSync(), 0, 0);
        expectClose(await g.min(axis).data(), x.min(axis).dataSync(), 0, 0);
      }
      expectClose(await g.softmax(-1).data(), x.softmax(-1).dataSync());
      g.dispose();
    }
  });

  test('moves tensors to the CPU and back', async () => {
    const data = Float32Array.from({ length: 37 }, (_, i) => i * 0.5 - 3);
    const g = fromTypedArray(data, [37], { backend: 'webgpu' });
    const c = await g.to('cpu');
    expect(c.backend).toBe('cpu');
    expect(Array.from(c.dataSync())).toEqual(Array.from(data));
    const back = await c.to('webgpu');
    expect(back.backend).toBe('webgpu');
    expect(Array.from(await back.data())).toEqual(Array.from(data));
    const ints = tensor([[1, -2], [3, 2147483647]], { dtype: 'int32', backend: 'webgpu' });
    expect(await (await ints.to('cpu')).toArray()).toEqual([[1, -2], [3, 2147483647]]);
  });

  test('reuses freed buffers from the pool and compiles one pipeline per rank, not per shape', async () => {
    await gpu.sync();
    const x = zeros([1000], { backend: 'webgpu' });
    const live = be.memory().buffers;
    x.dispose();
    expect(be.memory().buffers).toBe(live - 1);
    const pooled = gpu.poolMemory().buffers;
    expect(pooled).toBeGreaterThan(0);
    const y = zeros([1000], { backend: 'webgpu' });
    expect(gpu.poolMemory().buffers).toBe(pooled - 1);
    y.dispose();

    const a = randn([3, 5], { backend: 'webgpu' }), b = randn([3, 5], { backend: 'webgpu' });
    a.add(b).dispose();
    const compiled = gpu.compiledPipelines;
    const c = randn([7, 11], { backend: 'webgpu' }), d = randn([7, 11], { backend: 'webgpu' });
    a.add(b).dispose();
    c.add(d).dispose();
    expect(gpu.compiledPipelines).toBe(compiled);
  });

  test('a buffer freed before its batch is submitted is not overwritten under a pending reader', async () => {
    await gpu.sync();
    const n = 4096;
    const a = fromTypedArray(Float32Array.from({ length: n }, (_, i) => i), [n], { backend: 'webgpu' });
    const doubled = a.mul(2); // recorded, not yet submitted
    a.dispose(); // a's buffer must not be handed out before the multiply has been submitted
    const other = fromTypedArray(new Float32Array(n).fill(-1), [n], { backend: 'webgpu' }); // writeBuffer runs at once
    expectClose(await doubled.data(), Float32Array.from({ length: n }, (_, i) => 2 * i), 0, 0);
    expect((await other.data())[0]).toBe(-1);
  });

  test('handles empty tensors, 0-d tensors and sizes that do not divide the tiles', async () => {
    const e = zeros([0, 3], { backend: 'webgpu' });
    expect(await e.add(1).toArray()).toEqual([]);
    expect(await e.sum(0).toArray()).toEqual([0, 0, 0]);
    expect(await zeros([2, 0], { backend: 'webgpu' }).matmul(zeros([0, 3], { backend: 'webgpu' })).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(await tensor(5, { backend: 'webgpu' }).mul(3).item()).toBe(15);
    manualSeed(1);
    const a = randn([67, 131]), b = randn([131, 29]);
    const ga = await a.to('webgpu'), gb = await b.to('webgpu');
    expectClose(await ga.matmul(gb).data(), a.matmul(b).dataSync(), 1e-4, 1e-4);
    expectClose(await gb.transpose(0, 1).matmul(ga.transpose(0, 1)).data(), b.transpose(0, 1).matmul(a.transpose(0, 1)).dataSync(), 1e-4, 1e-4);
    // Large tiles and the vec4 loads of row-major operands (k, n multiples of 4), batched and sliced.
    const c = randn([2, 132, 68]), d = randn([68, 140]);
    const gc = await c.to('webgpu'), gd = await d.to('webgpu');
    expectClose(await gc.matmul(gd).data(), c.matmul(d).dataSync(), 1e-4, 1e-4);
    expectClose(await gc.slice([[1, 2], [4, 132]]).matmul(gd.slice([[0, 68], [4, 140]])).data(), c.slice([[1, 2], [4, 132]]).matmul(d.slice([[0, 68], [4, 140]])).dataSync(), 1e-4, 1e-4);
    expectClose(await gd.transpose(0, 1).matmul(gc.transpose(1, 2)).data(), d.transpose(0, 1).matmul(c.transpose(1, 2)).dataSync(), 1e-4, 1e-4);
  });

  test('the direct matmul (software adapters) and the tiled one: every layout of A and B, ragged edges, batches', async () => {
    // The same device as a hardware adapter would be driven: the tiled kernel for every product.
    const tiled = 'webgpu-tiled';
    const onError = gpu.device.onuncapturederror;
    const hardware = new WebGPUBackend(gpu.device, { ...webgpuInfo(), software: false }, false);
    gpu.device.onuncapturederror = onError;
    installBackend(tiled, hardware);
    manualSeed(3);
    const products: [string, (a: Tensor, b: Tensor, bt: Tensor, at: Tensor) => Tensor][] = [
      // Small blocks: m = 20 rows (ragged against 8 per invocation), n = 44 (ragged against
      // 16); large ones: m = 40, n = 44 and 36 (ragged against 32). n = 30 goes to the tiled kernel.
      ['A·B', (a, b) => a.matmul(b)],
      ['A·Bᵀ', (a, _b, bt) => a.matmul(bt.transpose(1, 2))],
      ['Aᵀ·B', (_a, b, _bt, at) => at.transpose(0, 1).matmul(b)],
      ['Aᵀ·Bᵀ', (_a, _b, bt, at) => at.transpose(0, 1).matmul(bt.transpose(1, 2))],
      // The direct kernel needs m % 4 == 0 for Aᵀ, n % 4 == 0, k % 4 == 0 and aligned
      // offsets: these go to the tiled kernel on every adapter.
      ['Aᵀ with m = 18', (_a, b, _bt, at) => at.slice([[0, 36], [0, 18]]).transpose(0, 1).matmul(b)],
      ['n = 42', (a, b) => a.matmul(b.slice([[0, 36], [0, 42]]))],
      ['k = 34', (a, b) => a.slice([[0, 3], [0, 20], [0, 34]]).matmul(b.slice([[0, 34], [0, 44]]))],
      ['offset 1', (a, b) => a.slice([[0, 3], [0, 20], [1, 33]]).matmul(b.slice([[0, 32], [0, 44]]))],
    ];
    for (const [m, nt] of [[20, 30], [40, 36]] as const) {
      const a = randn([3, m, 36]), b = randn([36, 44]), bt = randn([3, nt, 36]), at = randn([36, m]);
      for (const backend of ['webgpu', tiled]) {
        const inputs = await Promise.all([a, b, bt, at].map((t) => t.to(backend)));
        const [ga, gb, gbt, gat] = inputs as [Tensor, Tensor, Tensor, Tensor];
        for (const [name, f] of products) {
          const out = f(ga, gb, gbt, gat);
          const want = f(a, b, bt, at).dataSync(), got = await out.data();
          out.dispose();
          expect(got.length, `${backend} ${name}, m = ${m}`).toBe(want.length);
          expectClose(got, want, 1e-4, 1e-4);
        }
        for (const t of inputs) t.dispose();
      }
    }
    removeBackend(tiled);
  });

  test('splits dispatches over the 65535-workgroup limit into a 2-D grid', async () => {
    const limit = gpu.device.limits.maxComputeWorkgroupsPerDimension;
    const n = 256 * limit + 1000; // elementwise: one 256-thread workgroup per 256 elements
    const data = Float32Array.from({ length: n }, (_, i) => i % 1009);
    const out = await fromTypedArray(data, [n], { backend: 'webgpu' }).add(1).data();
    for (const i of [0, 1, 256 * limit - 1, 256 * limit, n - 1]) expect(out[i]).toBe((i % 1009) + 1);
    // matmul: one workgroup per batch entry.
    const batches = limit + 17;
    const a = fromTypedArray(Float32Array.from({ length: batches }, (_, i) => i % 7), [batches, 1, 1], { backend: 'webgpu' });
    const prod = await a.matmul(a).data();
    for (const i of [0, limit - 1, limit, batches - 1]) expect(prod[i]).toBe((i % 7) ** 2);
  }, 60_000);

  test('reductions with large blocks and many outputs match the CPU', async () => {
    manualSeed(2);
    const x = randn([3, 40000]);
    const g = await x.to('webgpu');
    expectClose(await g.sum(1).data(), x.sum(1).dataSync(), 1e-2, 1e-4);
    expectClose(await g.max(1).data(), x.max(1).dataSync(), 0, 0);
    const y = randn([20000, 3]);
    const gy = await y.to('webgpu');
    expectClose(await gy.sum(1).data(), y.sum(1).dataSync(), 1e-5, 1e-5);
    expectClose(await gy.transpose(0, 1).min(0).data(), y.min(1).dataSync(), 0, 0);
    expect(Array.from(await gy.argmax(1).data())).toEqual(Array.from(y.argmax(1).dataSync()));
  });

  test('an out-of-range gather index yields NaN instead of another element (checked mode off)', async () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], { backend: 'webgpu' });
    const idx = tensor([[0, 3], [-1, 2]], { dtype: 'int32', backend: 'webgpu' });
    gpu.checkIndices = false;
    try {
      const out = await x.gather(1, idx).data();
      expect(out[0]).toBe(1);
      expect(out[1]).toBeNaN();
      expect(out[2]).toBeNaN();
      expect(out[3]).toBe(6);
    } finally {
      gpu.checkIndices = true;
    }
  });

  test('keeps the js column semantics for NaN and special values', async () => {
    const on = (v: number[]) => tensor(v, { backend: 'webgpu' });
    const cpu = (v: number[]) => tensor(v, { backend: 'cpu' });
    const a = [NaN, 1, 3, -2, 0, -0.5], b = [1, NaN, 2, 3, -1, 0.5];
    for (const f of [(x: Tensor, y: Tensor) => x.maximum(y), (x: Tensor, y: Tensor) => x.minimum(y), (x: Tensor, y: Tensor) => x.pow(y), (x: Tensor, y: Tensor) => x.eq(y), (x: Tensor, y: Tensor) => x.ne(y)]) {
      expectClose(await f(on(a), on(b)).data(), f(cpu(a), cpu(b)).dataSync());
    }
    const u = [NaN, -3, -0.5, 0, 0.5, 3, 12, -12, 40];
    for (const f of [(x: Tensor) => x.relu(), (x: Tensor) => x.sign(), (x: Tensor) => x.tanh(), (x: Tensor) => x.erf(), (x: Tensor) => x.sigmoid(), (x: Tensor) => x.cast('int32')]) {
      expectClose(await f(on(u)).data(), f(cpu(u)).dataSync(), 1e-6, 1e-5);
    }
    expectClose(await on([-2, -2, 0, 4, 1]).pow(on([3, 0.5, -1, 0.5, Infinity])).data(), [-8, NaN, Infinity, 2, NaN], 1e-5, 1e-5);
    expect(await on([1, NaN, 3]).max().item()).toBeNaN();
  });

  test('fused Adam matches the composed update on the CPU', async () => {
    manualSeed(3);
    const p0 = randn([33, 7]);
    const grads = [randn([33, 7]), randn([33, 7]), randn([33, 7])];
    const run = async (backend: string) => {
      const p = (await p0.to(backend)).requiresGrad_();
      const opt = new optim.Adam([p], { lr: 0.05, weightDecay: 0.1 });
      for (const g of grads) {
        p.grad = await g.to(backend);
        opt.step();
      }
      return p.data();
    };
    resetStats('webgpu');
    const got = await run('webgpu');
    expect(backendStats('webgpu').byOp.get('fused:adam')).toBe(3);
    expectClose(got, await run('cpu'), 1e-5, 1e-4);
  });

  /** softmax or logSoftmax of `x` on webgpu (float32) against the CPU composed ops in float64. */
  async function expectSoftmaxLikeCpu(x: Tensor, f: (t: Tensor) => Tensor, atol = 1e-6, rtol = 1e-5): Promise<void> {
    const want = f(x.cast('float64')).dataSync();
    expectClose(await f(await x.to('webgpu')).data(), want, atol, rtol);
  }
  const softmaxes = [(t: Tensor) => t.softmax(-1), (t: Tensor) => t.logSoftmax(-1)];

  test('softmax and logSoftmax run forward as one fused dispatch', async () => {
    const x = await randn([4, 10]).to('webgpu');
    for (const f of [(t: Tensor) => t.softmax(1), (t: Tensor) => t.logSoftmax(1)]) {
      resetStats('webgpu');
      const y = f(x);
      expect(backendStats('webgpu').kernels).toBe(1);
      expect(backendStats('webgpu').byOp.get('fused:softmax')).toBe(1);
      await y.data();
    }
  });

  test('fused softmax: large logits stay finite, -Infinity gets 0, NaN spreads over its row', async () => {
    const x = tensor([[1000, 1001, 999], [-1000, -1001, -999], [0, -Infinity, 1], [NaN, 1, 2]]);
    for (const f of softmaxes) await expectSoftmaxLikeCpu(x, f);
    const g = await x.to('webgpu');
    const p = (await g.softmax(1).toArray()) as number[][];
    expect(p[0]!.every(Number.isFinite)).toBe(true);
    expect(p[2]![1]).toBe(0);
    expect(p[3]!.every(Number.isNaN)).toBe(true);
    expect(((await g.logSoftmax(1).toArray()) as number[][])[2]![1]).toBe(-Infinity);
  });

  test('fused softmax: rows longer than the workgroup, rows of length 1, odd sizes and many rows', async () => {
    manualSeed(5);
    // Short rows take the loop-per-row kernel, long ones the workgroup-per-row kernel.
    for (const shape of [[3, 1001], [2, 257], [9000, 513], [5, 1], [1, 7], [7], [9000, 33]]) {
      for (const f of softmaxes) await expectSoftmaxLikeCpu(randn(shape).mul(4), f);
    }
    // The longest rows a loop sums serially (as the reduce kernel does), so rounding grows with them.
    for (const f of softmaxes) await expectSoftmaxLikeCpu(randn([9000, 512]).mul(4), f, 1e-5, 1e-4);
  }, 60_000);

  test('fused softmax splits more rows than one grid dimension holds into a 2-D grid', async () => {
    const limit = gpu.device.limits.maxComputeWorkgroupsPerDimension;
    // A loop per row, 256 rows per workgroup: rows of one element, each softmax exactly 1.
    const rows = 256 * limit + 1000;
    const ones = await fromTypedArray(Float32Array.from({ length: rows }, (_, i) => i % 1009), [rows, 1], { backend: 'webgpu' }).softmax(1).data();
    for (const r of [0, 256 * limit - 1, 256 * limit, rows - 1]) expect(ones[r]).toBe(1);
    // A workgroup per row needs rows longer than 512 here, so a device whose storage bindings
    // hold 128 MiB (llvmpipe) cannot have more than 65535 of them; larger GPUs run this part.
    const long = limit + 10, len = 513;
    if (long * len * 4 * 1.25 > gpu.device.limits.maxStorageBufferBindingSize) return;
    const data = new Float32Array(long * len);
    for (let r = 0; r < long; r++) data[r * len] = r % 7;
    const out = await fromTypedArray(data, [long, len], { backend: 'webgpu' }).softmax(1).data();
    for (const r of [0, 1, limit - 1, limit, long - 1]) {
      const ea = Math.exp(r % 7), total = ea + len - 1;
      expectClose([out[r * len]!, out[r * len + 1]!], [ea / total, 1 / total], 1e-7, 1e-5);
    }
  }, 60_000);

  test('fused softmax reads strided inputs: other axes, transposed and sliced views', async () => {
    manualSeed(6);
    const x = randn([37, 53]).mul(3);
    for (const f of [(t: Tensor) => t.softmax(0), (t: Tensor) => t.logSoftmax(0)]) await expectSoftmaxLikeCpu(x, f);
    for (const f of softmaxes) {
      await expectSoftmaxLikeCpu(x, (t) => f(t.transpose(0, 1)));
      await expectSoftmaxLikeCpu(x, (t) => f(t.slice([[3, 30], [5, 50]])));
    }
    await expectSoftmaxLikeCpu(randn([4, 300, 5]), (t) => t.softmax(1));
    await expectSoftmaxLikeCpu(randn([4, 300, 5]), (t) => t.logSoftmax(1).transpose(0, 2));
  });

  test('second-order gradients through the fused softmax match the CPU in float64', async () => {
    manualSeed(7);
    const x0 = randn([4, 7]);
    for (const f of [(t: Tensor) => t.softmax(1), (t: Tensor) => t.logSoftmax(1).exp().mul(t), (t: Tensor) => t.transpose(0, 1).softmax(0)]) {
      const run = async (backend: string, dtype: 'float32' | 'float64') => {
        const x = (await x0.cast(dtype).to(backend)).requiresGrad_();
        const [g] = grad(f(x).pow(2).sum(), [x], { createGraph: true });
        const [gg] = grad(g!.sum(), [x]);
        return [await g!.data(), await gg!.data()] as const;
      };
      resetStats('webgpu');
      const [g, gg] = await run('webgpu', 'float32');
      expect(backendStats('webgpu').byOp.get('fused:softmax')).toBe(1);
      const [wantG, wantGG] = await run('cpu', 'float64');
      expectClose(g, wantG, 1e-5, 1e-4);
      expectClose(gg, wantGG, 1e-5, 1e-4);
    }
  });

  // A LoRA layer trained by hand: y = x·W0ᵀ + s·(x·Aᵀ)·Bᵀ, MSE, SGD through copy_.
  function loraSetup(backendTensors: (t: Tensor) => Promise<Tensor>) {
    manualSeed(4);
    const [inF, outF, r, batch] = [24, 12, 4, 10];
    const init = { W0: randn([outF, inF]).mul(0.2), A: randn([r, inF]).mul(0.2), B: randn([outF, r]).mul(0.2), x: randn([batch, inF]), y: randn([batch, outF]) };
    return Promise.all(Object.entries(init).map(async ([k, v]) => [k, await backendTensors(v)] as const)).then((e) => Object.fromEntries(e) as Record<keyof typeof init, Tensor>);
  }
  function loraStep(t: Record<'W0' | 'A' | 'B' | 'x' | 'y', Tensor>, lr: number): Tensor {
    return scope(() => {
      const h = t.x.matmul(t.W0.transpose(0, 1)).add(t.x.matmul(t.A.transpose(0, 1)).matmul(t.B.transpose(0, 1)).mul(2));
      const loss = h.sub(t.y).pow(2).mean();
      const [gA, gB] = grad(loss, [t.A, t.B]);
      noGrad(() => {
        t.A.copy_(t.A.sub(gA!.mul(lr)));
        t.B.copy_(t.B.sub(gB!.mul(lr)));
      });
      return loss;
    });
  }

  test('LoRA training steps match the CPU', async () => {
    const onGpu = await loraSetup(async (v) => (await v.to('webgpu')).requiresGrad_());
    const onCpu = await loraSetup(async (v) => v.requiresGrad_());
    for (let i = 0; i < 5; i++) {
      const lg = loraStep(onGpu, 0.05), lc = loraStep(onCpu, 0.05);
      expect(Math.abs((await lg.item()) - lc.itemSync())).toBeLessThanOrEqual(1e-4 * Math.abs(lc.itemSync()) + 1e-5);
      lg.dispose();
      lc.dispose();
    }
    expectClose(await onGpu.A.data(), onCpu.A.dataSync(), 1e-5, 1e-4);
    expectClose(await onGpu.B.data(), onCpu.B.dataSync(), 1e-5, 1e-4);
  });

  test('a LoRA training loop holds a constant number of live buffers', async () => {
    const t = await loraSetup(async (v) => (await v.to('webgpu')).requiresGrad_());
    let afterWarmup = -1;
    let first = NaN;
    for (let step = 1; step <= 200; step++) {
      const loss = loraStep(t, 0.02);
      if (step === 1) first = await loss.item();
      loss.dispose();
      // Earlier tests' garbage is collected first, so only this loop's buffers are counted.
      if (step === 10) {
        await collectGarbage();
        afterWarmup = be.memory().buffers;
      }
    }
    await gpu.sync();
    await collectGarbage();
    expect(be.memory().buffers).toBe(afterWarmup);
    const last = loraStep(t, 0.02);
    expect(await last.item()).toBeLessThan(first);
    last.dispose();
  }, 60_000);

  test('a lost device gives a clear error instead of hanging', async () => {
    const b = (await createWebGPUBackend()) as WebGPUBackend;
    const s = b.upload(new Float32Array([1, 2, 3]));
    const view = { storage: s, shape: [3], strides: [1], offset: 0, dtype: 'float32' as const };
    b.device.destroy();
    await expect(b.read(view)).rejects.toThrow(/lost|destroyed/);
    expect(() => b.unary('exp', view)).toThrow(/setBackend\('webgpu'\)/);
  });
});
