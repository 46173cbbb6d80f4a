// The core suite's single-layer cases, each written once per library and shared by
// bench/core.bench.ts (Node) and the playground's benchmark section (the browser): a matmul and
// a training step (MSE on y = x·W0ᵀ + b0, plus LoRA's scaled x·Aᵀ·Bᵀ, Adam on what trains).
// tfjs comes in as an argument, so the page loads it only when the benchmark runs.
import type * as TF from '@tensorflow/tfjs';
import { type Tensor, nn, optim, randn, scope } from '../../src/index.js';

export type StepMode = 'LoRA r4' | 'full fine-tuning';
export const LINEAR = { d: 768, batch: 64, rank: 4, alpha: 8 };

/** What a case hands the timer: one run (reading its result back) and the clean-up. */
export interface Case {
  run(): number | Promise<number>;
  dispose(): void;
}

/** Reads a tsgrad result back and disposes it. */
async function readOurs(t: Tensor): Promise<number> {
  const v = (await t.data())[0]!;
  t.dispose();
  return v;
}

/** An m×k by k×n matmul in tsgrad on the current backend. */
export function oursMatmul(m: number, k: number, n: number): Case {
  const a = randn([m, k]), b = randn([k, n]);
  return { run: () => readOurs(a.matmul(b)), dispose: () => (a.dispose(), b.dispose()) };
}

/** The training step in tsgrad on the current backend. */
export function oursLinearStep(mode: StepMode): Case {
  const { d, batch, rank, alpha } = LINEAR;
  const x = randn([batch, d]), target = randn([batch, d]);
  const model = mode === 'LoRA r4' ? new nn.LoRALinear(d, d, { rank, alpha }) : new nn.Linear(d, d);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  return {
    run: () => readOurs(scope(() => {
      const loss = nn.functional.mseLoss(model.forward(x), target);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      return loss;
    })),
    dispose: () => {
      for (const t of [...opt.stateTensors(), ...model.parameters(), x, target]) t.dispose();
    },
  };
}

/** Reads a tfjs result back and disposes it; async, as tfjs-webgpu in a page cannot read back synchronously. */
async function readTf(t: TF.Tensor): Promise<number> {
  const v = (await t.data())[0]!;
  t.dispose();
  return v;
}

/** The matmul in tfjs on its current backend; operands stored as it multiplies them (its fast path). */
export function tfMatmul(tf: typeof TF, m: number, k: number, n: number): Case {
  const a = tf.randomNormal([m, k]), b = tf.randomNormal([k, n]);
  return { run: () => readTf(tf.matMul(a, b)), dispose: () => tf.dispose([a, b]) };
}

/** The training step in tfjs on its current backend, weights stored [in, out] as its dense layers do. */
export function tfLinearStep(tf: typeof TF, mode: StepMode): Case {
  const { d, batch, rank, alpha } = LINEAR;
  const randn = (shape: number[], scale: number) => tf.tidy(() => tf.randomNormal(shape).mul(scale));
  // A variable owns its initial value, which is disposed so it is not counted twice.
  const param = (init: TF.Tensor) => {
    const v = tf.variable(init);
    init.dispose();
    return v;
  };
  const lora = mode === 'LoRA r4';
  const x = tf.randomNormal([batch, d]), target = tf.randomNormal([batch, d]);
  const w = lora ? randn([d, d], 0.03) : param(randn([d, d], 0.03));
  const b = lora ? tf.zeros([d]) : param(tf.zeros([d]));
  const a = param(randn([d, rank], 0.03)), bl = param(tf.zeros([rank, d]));
  const opt = tf.train.adam(1e-3);
  const vars = lora ? [a, bl] : [w as TF.Variable, b as TF.Variable];
  const forward = () => {
    const base = tf.add(tf.matMul(x, w), b);
    return lora ? tf.add(base, tf.mul(tf.matMul(tf.matMul(x, a), bl), alpha / rank)) : base;
  };
  return {
    run: () => readTf(opt.minimize(() => tf.losses.meanSquaredError(target, forward()) as TF.Scalar, true, vars)!),
    dispose: () => {
      opt.dispose();
      tf.dispose([x, target, w, b, a, bl]);
    },
  };
}
