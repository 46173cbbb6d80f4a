// The core suite's cases in jax-js (@jax-js/jax) on its WebAssembly device: matmuls, and the
// single-layer training steps (LoRA r4 and full fine-tuning with Adam, the MLP with SGD), each
// step one jit-compiled function of loss, gradient and update. Run directly, it measures them
// itself and prints JSON: the core suite runs it so in a child process without relaxed SIMD
// (jax-js's fused multiply-add path), which the suite's own process has.
import { type Array as JaxArray, defaultDevice, init, jit, nn, numpy as np, random, tree, valueAndGrad } from '@jax-js/jax';

type Tree = Record<string, JaxArray>;
export interface JaxCase { run: () => number | Promise<number>; dispose: () => void }

let seed = 0;
/** N(0, scale²) from jax-js's own generator, a fresh key each call. */
export const randn = (shape: number[], scale = 1): JaxArray => random.normal(random.key(++seed), shape).mul(scale);

/**
 * Reads a result's first value back: synchronously on WebAssembly, and through `data()` on WebGPU,
 * where `dataSync()` read zeros without waiting for the GPU (jax-js 0.1.25 in Chromium).
 */
export let readBack: (a: JaxArray) => number | Promise<number> = (a) => a.dataSync()[0]!;

/** Starts a jax-js device and makes it the default: WebAssembly, the only one it offers in Node, or WebGPU in a browser. */
export async function initJax(device: 'wasm' | 'webgpu' = 'wasm'): Promise<void> {
  const ready = await init(device);
  if (!ready.includes(device)) throw new Error(`jax-js could not start its ${device} device`);
  defaultDevice(device);
  readBack = device === 'webgpu' ? async (a) => (await a.data())[0]! : (a) => a.dataSync()[0]!;
}

/** An m×k by k×n matmul, jit-compiled, read back. */
export function jaxMatmul(m: number, k: number, n: number): JaxCase {
  const a = randn([m, k]), b = randn([k, n]);
  const f = jit((x: JaxArray, y: JaxArray) => np.matmul(x, y));
  return { run: () => readBack(f(a.ref, b.ref)), dispose: () => (a.dispose(), b.dispose()) };
}

/**
 * Adam over a tree with torch's betas and eps; with `weightDecay`, AdamW's decoupled decay as
 * torch.optim.AdamW. c1, c2 are 1/(1-β1ᵗ), 1/(1-β2ᵗ), passed in so one compiled step serves every t.
 */
export function adam(params: Tree, grads: Tree, m: Tree, v: Tree, c1: JaxArray, c2: JaxArray, lr: number, weightDecay = 0): [Tree, Tree, Tree] {
  const p2: Tree = {}, m2: Tree = {}, v2: Tree = {};
  for (const k of Object.keys(params)) {
    const g = grads[k]!;
    m2[k] = m[k]!.mul(0.9).add(g.ref.mul(0.1));
    v2[k] = v[k]!.mul(0.999).add(g.ref.mul(g).mul(0.001));
    const p = weightDecay ? params[k]!.mul(1 - lr * weightDecay) : params[k]!;
    p2[k] = p.sub(m2[k]!.ref.mul(c1.ref).div(np.sqrt(v2[k]!.ref.mul(c2.ref)).add(1e-8)).mul(lr));
  }
  c1.dispose();
  c2.dispose();
  return [p2, m2, v2];
}

type AdamStep = (trained: Tree, frozen: Tree, m: Tree, v: Tree, c1: JaxArray, c2: JaxArray, x: JaxArray, target: JaxArray) => [JaxArray, Tree, Tree, Tree];

/** MSE on y = x·W0ᵀ + b0 (+ (alpha/r)·x·Aᵀ·Bᵀ), x [64,768], W 768×768, Adam on the trained tensors. */
export function jaxLinearStep(mode: 'LoRA r4' | 'full fine-tuning', d = 768, batch = 64, rank = 4, alpha = 8): JaxCase {
  const x = randn([batch, d]), target = randn([batch, d]);
  const base: Tree = { w: randn([d, d], 0.03), b: np.zeros([d]) };
  const lora = mode === 'LoRA r4';
  let trained: Tree = lora ? { a: randn([rank, d], 0.03), bl: np.zeros([d, rank]) } : base;
  const frozen: Tree = lora ? base : {};
  const zeros = (t: Tree): Tree => Object.fromEntries(Object.entries(t).map(([k, a]) => [k, np.zeros(a.shape)]));
  let m = zeros(trained), v = zeros(trained), t = 0;
  const loss = (tr: Tree, fr: Tree, xx: JaxArray, yy: JaxArray) => {
    const p = lora ? fr : tr;
    let y = np.matmul(lora ? xx.ref : xx, np.matrixTranspose(p.w!)).add(p.b!);
    if (lora) y = y.add(np.matmul(np.matmul(xx, np.matrixTranspose(tr.a!)), np.matrixTranspose(tr.bl!)).mul(alpha / rank));
    else tree.dispose(fr);
    const e = y.sub(yy);
    return e.ref.mul(e).mean();
  };
  const step = jit(((tr, fr, mm, vv, c1, c2, xx, yy) => {
    const [l, g] = valueAndGrad(loss)(tree.ref(tr), fr, xx, yy);
    return [l, ...adam(tr, g as Tree, mm, vv, c1, c2, 1e-3)];
  }) as AdamStep) as unknown as AdamStep;
  return {
    run: () => {
      t++;
      const [l, next, m2, v2] = step(tree.ref(trained), tree.ref(frozen), m, v, np.array(1 / (1 - 0.9 ** t)), np.array(1 / (1 - 0.999 ** t)), x.ref, target.ref);
      tree.dispose(trained);
      trained = next; m = m2; v = v2;
      return readBack(l);
    },
    dispose: () => {
      for (const tr of [trained, m, v, frozen]) tree.dispose(tr);
      x.dispose();
      target.dispose();
    },
  };
}

/** 784 → 256 → 10 with ReLU, batch 64, softmax cross-entropy, one SGD step (lr 0.01). */
export function jaxMlpStep(batch = 64, inF = 784, hidden = 256, classes = 10): JaxCase {
  const x = randn([batch, inF]);
  const y = nn.oneHot(np.array(Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes), { dtype: np.int32 }), classes);
  let params: Tree = { w1: randn([inF, hidden], 0.05), b1: randn([hidden], 0.01), w2: randn([hidden, classes], 0.05), b2: randn([classes], 0.01) };
  const loss = (p: Tree, xx: JaxArray, yy: JaxArray) =>
    nn.logSoftmax(np.matmul(nn.relu(np.matmul(xx, p.w1!).add(p.b1!)), p.w2!).add(p.b2!), -1).mul(yy).sum().mul(-1 / batch);
  const step = jit((p: Tree, xx: JaxArray, yy: JaxArray) => {
    const [l, g] = valueAndGrad(loss)(tree.ref(p), xx, yy);
    const next: Tree = {};
    for (const k of Object.keys(p)) next[k] = p[k]!.sub((g as Tree)[k]!.mul(0.01));
    return [l, next] as [JaxArray, Tree];
  });
  return {
    run: () => {
      const [l, next] = step(params, x.ref, y.ref) as [JaxArray, Tree];
      params = next;
      return readBack(l);
    },
    dispose: () => (tree.dispose(params), x.dispose(), y.dispose()),
  };
}

/** Every core case jax-js runs, by the core suite's case names. */
export function jaxCoreCases(): Record<string, () => JaxCase> {
  return {
    'matmul 128': () => jaxMatmul(128, 128, 128),
    'matmul 256': () => jaxMatmul(256, 256, 256),
    'matmul 512': () => jaxMatmul(512, 512, 512),
    'matmul 1024': () => jaxMatmul(1024, 1024, 1024),
    'LoRA r4 train step, x [64,768], W 768×768, Adam': () => jaxLinearStep('LoRA r4'),
    'full fine-tuning train step, x [64,768], W 768×768, Adam': () => jaxLinearStep('full fine-tuning'),
    'MLP 784-256-10 step, batch 64, SGD': () => jaxMlpStep(),
  };
}

/** Median milliseconds of `c.run` over `n` runs after three warm-up runs. */
export async function timeCase(c: JaxCase, n: number): Promise<number> {
  for (let i = 0; i < 3; i++) await c.run();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await c.run();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[n >> 1]!;
}

if (typeof process !== 'undefined' && process.argv?.[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  await initJax();
  const out: Record<string, number> = {};
  for (const [name, make] of Object.entries(jaxCoreCases())) {
    const c = make();
    out[name] = await timeCase(c, name.startsWith('matmul 1024') ? 10 : 30);
    c.dispose();
  }
  console.log(JSON.stringify(out));
}
