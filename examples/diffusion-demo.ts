// npm run demo:diffusion [-- --seed 0 --backend cpu|webgpu|gpujs --quick --out out/demo-diffusion
//   --classifier-steps N --pretrain-steps N --adapt-steps N --samples N --sampling-steps N
//   --base out/demo-diffusion/base/model.safetensors (adapt a saved pretrained base)]
// A small DDPM pretrained on MNIST digits 0–7 and adapted to 8 and 9 four ways: see
// examples/diffusion/demo.ts.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runDemo } from './diffusion/demo.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'cpu' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: 'out/demo-diffusion' },
    base: { type: 'string' },
    'pretrain-steps': { type: 'string' },
    'adapt-steps': { type: 'string' },
    'classifier-steps': { type: 'string' },
    samples: { type: 'string' },
    'sampling-steps': { type: 'string' },
  },
});
const seed = Number(values.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
if (!['cpu', 'webgpu', 'gpujs'].includes(values.backend!)) throw new Error(`--backend must be cpu, webgpu or gpujs, got ${values.backend}`);
type Count = 'classifier-steps' | 'pretrain-steps' | 'adapt-steps' | 'samples' | 'sampling-steps';
const count = (name: Count, least = 1): number | undefined => {
  if (values[name] === undefined) return undefined;
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < least) throw new Error(`--${name} must be an integer of at least ${least}, got ${values[name]}`);
  return n;
};
const overrides = Object.fromEntries(Object.entries({
  classifierSteps: count('classifier-steps'), pretrainSteps: count('pretrain-steps'), adaptSteps: count('adapt-steps'),
  samples: count('samples'), samplingSteps: count('sampling-steps', 2),
}).filter(([, v]) => v !== undefined));
if (values.base !== undefined && !existsSync(values.base)) throw new Error(`--base must name a pretrained base's model.safetensors (a run's out/…/base/), got ${values.base}, which does not exist`);
await runDemo({ seed, backend: values.backend!, quick: values.quick!, out: values.out!, base: values.base, overrides });
process.exit(0);
