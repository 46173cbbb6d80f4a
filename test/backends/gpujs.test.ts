// The gpu.js backend on a real GL context (headless-gl under an X display): what is particular
// to gpu.js (kernel type, textures, limits). The shared suites run from test/matrix.ts.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Backend, type Tensor, TsgradError, fromHalfBits, fromTypedArray, getBackendInfo, grad, initBackend, manualSeed, noGrad, randn, registerBackend, removeBackend, scope, tensor, zeros,
} from '../../src/index.js';
import { narrowToHalf, widenHalf } from '../../src/core/half.js';
import { storedData } from '../../src/core/seams.js';
import { type GpuJsBackend, type GpuStorage, createGpuJsBackend } from '../../src/backends/gpujs/index.js';
import { expectTimersRunDuringReads } from '../eventLoop.js';
import { GPUJS_REQUIREMENT } from '../matrix.js';
import { collectGarbage } from '../gc.js';

const GL_KERNELS = ['HeadlessGLKernel', 'WebGL2Kernel', 'WebGLKernel'];

/** Creates the backend and refuses anything but a GL kernel (gpu.js falls back silently). */
/** The backend as core hands it out (its storages counted by core), with the gpujs members. */
async function initGpuJs(): Promise<GpuJsBackend & Backend> {
  const b = (await initBackend('gpujs')) as unknown as GpuJsBackend & Backend;
  if (!GL_KERNELS.includes(b.info.kernelType)) throw new Error(`gpujs runs ${b.info.kernelType}, not a GL kernel`);
  return b;
}

/** Max |a − b| over two float arrays, NaN-aware (matching NaNs count as equal). */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] || (Number.isNaN(a[i]!) && Number.isNaN(b[i]!))) continue;
    const d = Math.abs(a[i]! - b[i]!);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

describe('gpujs backend', () => {
  let b: (GpuJsBackend & Backend) | null = null;
  beforeAll(async () => {
    try {
      b = await initGpuJs();
    } catch (e) {
      if (process.env.CI) throw new Error(`gpujs is unavailable in CI: ${(e as Error).message}`);
      console.warn(`\n*** SKIPPING the gpujs backend tests: ${(e as Error).message}\n*** ${GPUJS_REQUIREMENT}\n`);
    }
  });
  const gl = (name: string, fn: (b: GpuJsBackend & Backend) => Promise<void> | void, timeout?: number) =>
    it(name, async (ctx) => {
      if (!b) return ctx.skip();
      await fn(b);
    }, timeout);

  gl('reports the gpu.js kernel it runs and its limits', (b) => {
    expect(GL_KERNELS).toContain(b.info.kernelType);
    expect(getBackendInfo('gpujs')).toMatchObject({ name: 'gpujs', kernelType: b.info.kernelType });
    expect(b.info.mode).toBe('gpu');
    expect(b.info.maxTextureSize).toBeGreaterThanOrEqual(2048);
    expect(b.info.maxElements).toBe(2 ** 24);
    expect(b.dtypes).toEqual(['float32', 'int32', 'float16', 'bfloat16']);
  });

  gl('lets the event loop turn while a loop awaits reads', async () => {
    const x = randn([64, 64], { backend: 'gpujs' });
    await expectTimersRunDuringReads(() => x.matmul(x).sum());
    x.dispose();
  });

  gl('keeps intermediate results as GL textures; read() is the readback', async () => {
    const rows = [[1, 2, 3], [4, 5, 6]];
    const x = tensor(rows, { backend: 'gpujs' });
    const y = x.transpose(0, 1).mul(2).add(1).sum(0);
    const stored = (y._view('test').storage as GpuStorage).data;
    expect(stored).not.toBeInstanceOf(Float32Array);
    expect(typeof (stored as { toArray?: unknown }).toArray).toBe('function');
    const c = tensor(rows, { backend: 'cpu' }).transpose(0, 1).mul(2).add(1).sum(0);
    expect(await y.toArray()).toEqual(c.arraySync());
    for (const t of [x, y, c]) t.dispose();
  });

  gl('frees textures on dispose() and at the end of scope()', async (b) => {
    // Storages earlier tests left to the garbage collector must not be freed midway through the count.
    await collectGarbage();
    const before = b.memory();
    const texBefore = b.glTextures!;
    const x = randn([33, 17], { backend: 'gpujs' });
    expect(b.memory().buffers).toBe(before.buffers + 1);
    expect(b.memory().bytes).toBe(before.bytes + 33 * 17 * 4);
    const kept = scope(() => x.exp().matmul(x.transpose(0, 1)).sum(1).relu());
    expect(b.memory().buffers).toBe(before.buffers + 2);
    await kept.data();
    x.dispose();
    kept.dispose();
    expect(b.memory()).toEqual(before);
    // Each cached kernel keeps one output texture of its own; storages hold none after dispose.
    const texAfter = b.glTextures!;
    const y = randn([33, 17], { backend: 'gpujs' });
    scope(() => y.exp().matmul(y.transpose(0, 1)).sum(1).relu());
    y.dispose();
    expect(b.glTextures).toBe(texAfter);
    expect(texAfter).toBeGreaterThanOrEqual(texBefore);
  });

  gl('refuses to mix backends with an actionable error', async () => {
    const g = tensor([1, 2, 3], { backend: 'gpujs' });
    const c = tensor([1, 2, 3], { backend: 'cpu' });
    expect(() => g.add(c)).toThrow(TsgradError);
    expect(() => g.add(c)).toThrow(/different backends.*to\('gpujs'\)/);
    const moved = await c.to('gpujs');
    expect(await g.add(moved).data()).toEqual(new Float32Array([2, 4, 6]));
  });

  gl('stores int32 exactly up to 2^24 and converts like an Int32Array', async () => {
    const big = [2 ** 24, -(2 ** 24 - 1), 2 ** 24 - 1, 123456789 & 0xffffff];
    const t = tensor(big, { dtype: 'int32', backend: 'gpujs' });
    expect(Array.from(await t.data())).toEqual(big);
    expect(Array.from(await t.sub(1).data())).toEqual(big.map((v) => v - 1));
    const f = tensor([2.7, -2.7, NaN, Infinity, -0.5], { backend: 'gpujs' });
    const cpu = tensor([2.7, -2.7, NaN, Infinity, -0.5], { backend: 'cpu' });
    expect(Array.from(await f.cast('int32').data())).toEqual(Array.from(await cpu.cast('int32').data()));
    const a = tensor([7, -7, 9, 1], { dtype: 'int32', backend: 'gpujs' });
    const d = tensor([2, 2, 0, 3], { dtype: 'int32', backend: 'gpujs' });
    const ac = tensor([7, -7, 9, 1], { dtype: 'int32', backend: 'cpu' });
    const dc = tensor([2, 2, 0, 3], { dtype: 'int32', backend: 'cpu' });
    expect(Array.from(await a.div(d).data())).toEqual(Array.from(await ac.div(dc).data()));
  });

  gl('keeps the 16-bit floats\' patterns exactly in float texels and converts them on the host', async () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const t = fromHalfBits(all, [256, 256], { dtype, backend: 'gpujs' });
      // Patterns survive a strided copy and a gather, bit for bit, NaN payloads included.
      const moved = t.transpose(0, 1).contiguous().transpose(0, 1).indexSelect(0, tensor([255, 0, 7], { dtype: 'int32', backend: 'gpujs' }));
      expect(Array.from(await storedData(moved))).toEqual([255, 0, 7].flatMap((r) => Array.from(all.subarray(r * 256, r * 256 + 256))));
      const wide = new Uint32Array((await t.float().data() as Float32Array).buffer);
      expect(wide).toEqual(new Uint32Array(widenHalf(all, dtype).buffer));
      const v = Float32Array.from({ length: 1000 }, (_, i) => Math.fround((i - 500) * 1.37e-3 * (i % 7 === 0 ? 1e5 : 1)));
      expect(await storedData(tensor(v, { backend: 'gpujs' }).cast(dtype))).toEqual(narrowToHalf(v, dtype));
    }
  });

  gl('propagates NaN through max, argmax and pow as the CPU backend does', async () => {
    const vals = [[1, NaN, 3], [-2, -1, -4]];
    const g = tensor(vals, { backend: 'gpujs' });
    const c = tensor(vals, { backend: 'cpu' });
    expect(maxDiff(await g.max(1).data(), await c.max(1).data())).toBe(0);
    expect(Array.from(await g.argmax(1).data())).toEqual(Array.from(await c.argmax(1).data()));
    expect(Array.from(await g.argmin(0).data())).toEqual(Array.from(await c.argmin(0).data()));
    const base = [-2, -2, -8, 0, 0, NaN, 2];
    const exps = [3, 2, 1 / 3, 0, -1, 0, NaN];
    const pg = tensor(base, { backend: 'gpujs' }).pow(tensor(exps, { backend: 'gpujs' }));
    const pc = tensor(base, { backend: 'cpu' }).pow(tensor(exps, { backend: 'cpu' }));
    expect(maxDiff(await pg.data(), await pc.data())).toBeLessThan(1e-5);
  });

  gl('gives NaN for an out-of-range gather index rather than a neighbour', async (b) => {
    // Core checks index values only on synchronous backends, so gpujs must guard on its own.
    const x = tensor([[1, 2], [3, 4]], { backend: 'gpujs' });
    const idx = tensor([[0, 2], [-1, 1]], { dtype: 'int32', backend: 'gpujs' });
    expect(b.synchronous).toBe(false);
    const out = Array.from(await x.gather(1, idx).data());
    expect(out[0]).toBe(1);
    expect(out[1]).toBeNaN();
    expect(out[2]).toBeNaN();
    expect(out[3]).toBe(4);
  });

  gl('indexes exactly beyond 2^21 elements (float index arithmetic)', async () => {
    manualSeed(3);
    const c = randn([1536, 2047], { backend: 'cpu' });
    const g = await c.to('gpujs');
    // A transposed copy and a strided reduction read every element through divided indices.
    const tc = c.transpose(0, 1).contiguous().slice([[2000, 2047]]);
    const tg = g.transpose(0, 1).contiguous().slice([[2000, 2047]]);
    expect(maxDiff(await tg.data(), await tc.data())).toBe(0);
    expect(maxDiff(await g.transpose(0, 1).max(1).data(), await c.max(0).data())).toBe(0);
    g.dispose(); tg.dispose();
  }, 120_000);

  gl('refuses tensors over 2^24 elements, naming the limit', () => {
    expect(() => zeros([4097, 4097], { backend: 'gpujs' })).toThrow(TsgradError);
    expect(() => zeros([4097, 4097], { backend: 'gpujs' })).toThrow(/2\^24/);
  });

  gl('copy_ writes through a strided view and every view of the storage sees it', async () => {
    const base = tensor([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]], { backend: 'gpujs' });
    const view = base.transpose(0, 1).slice([[1, 3], [0, 2]]); // base[0:2, 1:3] transposed
    const alias = base.reshape([12]);
    view.copy_(tensor([[100, 101], [102, 103]], { backend: 'gpujs' }));
    expect(await base.toArray()).toEqual([[0, 100, 102, 3], [4, 101, 103, 7], [8, 9, 10, 11]]);
    expect(Array.from(await alias.data())).toEqual([0, 100, 102, 3, 4, 101, 103, 7, 8, 9, 10, 11]);
    // Source and destination on one storage: reads happen before writes.
    base.slice([[1, 3]]).copy_(base.slice([[0, 2]]));
    expect(await base.toArray()).toEqual([[0, 100, 102, 3], [0, 100, 102, 3], [4, 101, 103, 7]]);
  });

  gl('a LoRA training step matches the CPU backend', async () => {
    manualSeed(11);
    const [batch, din, dout, r, s, lr] = [6, 10, 7, 3, 0.5, 0.1];
    const init = [randn([dout, din]), randn([r, din]).mul(0.3), randn([dout, r]).mul(0.3), randn([batch, din]), randn([batch, dout])].map((t) => t.dataSync());
    const run = async (backend: string) => {
      const [W0, A, B, x, target] = init.map((d, i) =>
        fromTypedArray(Float32Array.from(d), [[dout, din], [r, din], [dout, r], [batch, din], [batch, dout]][i]!, { backend }));
      A!.requiresGrad = true;
      B!.requiresGrad = true;
      const losses: number[] = [];
      for (let step = 0; step < 3; step++) {
        const loss = x!.matmul(W0!.transpose(0, 1)).add(x!.matmul(A!.transpose(0, 1)).matmul(B!.transpose(0, 1)).mul(s)).sub(target!).pow(2).mean();
        loss.backward();
        losses.push(await loss.item());
        noGrad(() => {
          for (const p of [A!, B!]) {
            p.copy_(p.sub(p.grad!.mul(lr)));
            p.grad!.dispose();
            p.grad = null;
          }
        });
      }
      return { losses, A: await A!.data(), B: await B!.data() };
    };
    const cpu = await run('cpu');
    const g = await run('gpujs');
    expect(maxDiff(g.losses, cpu.losses)).toBeLessThan(1e-4 * Math.max(1, cpu.losses[0]!));
    expect(maxDiff(g.A, cpu.A)).toBeLessThan(1e-4);
    expect(maxDiff(g.B, cpu.B)).toBeLessThan(1e-4);
    expect(cpu.losses[2]).toBeLessThan(cpu.losses[0]!);
  });

  gl('hundreds of training steps in scope() do not grow storages or GL textures', async (b) => {
    manualSeed(5);
    const W0 = randn([8, 12], { backend: 'gpujs' });
    const A = randn([2, 12], { backend: 'gpujs' }).mul(0.1);
    const B = zeros([8, 2], { backend: 'gpujs' });
    const x = randn([4, 12], { backend: 'gpujs' });
    const target = randn([4, 8], { backend: 'gpujs' });
    A.requiresGrad = true;
    B.requiresGrad = true;
    const step = () =>
      scope(() => {
        const loss = x.matmul(W0.transpose(0, 1)).add(x.matmul(A.transpose(0, 1)).matmul(B.transpose(0, 1))).sub(target).pow(2).mean();
        const [gA, gB] = grad(loss, [A, B]);
        noGrad(() => {
          A.copy_(A.sub(gA!.mul(0.05)));
          B.copy_(B.sub(gB!.mul(0.05)));
        });
        return loss;
      });
    const first = step();
    const l0 = await first.item();
    first.dispose();
    for (let i = 0; i < 10; i++) step().dispose();
    await collectGarbage();
    const mem = b.memory();
    const tex = b.glTextures;
    let last: Tensor | null = null;
    for (let i = 0; i < 290; i++) {
      last?.dispose();
      last = step();
    }
    const l1 = await last!.item();
    last!.dispose();
    expect(b.memory()).toEqual(mem);
    expect(b.glTextures).toBe(tex);
    expect(l1).toBeLessThan(l0);
  }, 120_000);

  // Last: it tears the shared instance down.
  gl('destroy() releases the context; a new instance works after it', async (b) => {
    const t = tensor([1, 2, 3], { backend: 'gpujs' });
    removeBackend('gpujs');
    expect(b.memory()).toEqual({ buffers: 0, bytes: 0 });
    expect(() => t.add(1)).toThrow(/destroyed/);
    t.dispose();
    expect(b.memory()).toEqual({ buffers: 0, bytes: 0 });
    const fresh = await initGpuJs();
    expect(fresh).not.toBe(b);
    expect(Array.from(await tensor([1, 2, 3], { backend: 'gpujs' }).mul(2).data())).toEqual([2, 4, 6]);
  });
});

describe("gpujs { mode: 'webasm' }", () => {
  it('runs a training-style graph like the CPU backend', async () => {
    registerBackend('gpujs-webasm', () => createGpuJsBackend({ mode: 'webasm' }));
    const b = (await initBackend('gpujs-webasm')) as unknown as GpuJsBackend;
    expect(b.info.kernelType).toBe('WebAssemblyKernel');
    manualSeed(9);
    const xs = [randn([5, 6]), randn([6, 4])];
    const labels = [[1], [3], [0], [2], [1]];
    const run = async (backend: string) => {
      const [x, w] = await Promise.all(xs.map(async (t) => (await t.to(backend)).requiresGrad_()));
      const logits = x!.matmul(w!).tanh();
      const picked = logits.logSoftmax(1).gather(1, tensor(labels, { dtype: 'int32', backend }));
      picked.sum().backward();
      return [await logits.data(), await x!.grad!.data(), await w!.grad!.data()];
    };
    const [cpu, wasm] = [await run('cpu'), await run('gpujs-webasm')];
    cpu.forEach((c, i) => expect(maxDiff(wasm[i]!, c)).toBeLessThan(1e-5));
    removeBackend('gpujs-webasm');
  }, 60_000);
});

describe('gpujs without a GL context', () => {
  const script = (mode?: string) => `
    import { initBackend } from './src/index.ts';
    try {
      const b = await initBackend('gpujs'${mode ? `, { mode: '${mode}' }` : ''});
      console.log(JSON.stringify({ ok: b.info.kernelType }));
    } catch (e) {
      console.log(JSON.stringify({ name: e.name, message: e.message }));
    }`;
  const runWithoutDisplay = (mode?: string) => {
    const env = { ...process.env };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const out = execFileSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script(mode)], { env, encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!) as { ok?: string; name?: string; message?: string };
  };

  it('fails the default GPU path with instructions instead of falling back', () => {
    const r = runWithoutDisplay();
    expect(r.ok).toBeUndefined();
    expect(r.name).toBe('TsgradError');
    expect(r.message).toMatch(/DISPLAY/);
    expect(r.message).toMatch(/Xvfb/);
    expect(r.message).toMatch(/libxi-dev libx11-dev libxext-dev pkg-config/);
  }, 60_000);

  it("runs gpu.js's CPU kernels when { mode: 'cpu' } is asked for", () => {
    expect(runWithoutDisplay('cpu').ok).toBe('CPUKernel');
  }, 60_000);
});
