// npm run demo:diffusion [-- --seed 0 --backend cpu|webgpu|gpujs --quick --out out/demo-diffusion --pretrain-steps N --adapt-steps N]
// A small DDPM pretrained on MNIST digits 0–7 and adapted to 8 and 9 four ways: see
// examples/diffusion/demo.ts.
import { parseArgs } from 'node:util';
import { runDemo } from './diffusion/demo.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'cpu' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: 'out/demo-diffusion' },
    'pretrain-steps': { type: 'string' },
    'adapt-steps': { type: 'string' },
  },
});
const seed = Number(values.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
if (!['cpu', 'webgpu', 'gpujs'].includes(values.backend!)) throw new Error(`--backend must be cpu, webgpu or gpujs, got ${values.backend}`);
const steps = (name: 'pretrain-steps' | 'adapt-steps'): number | undefined => {
  if (values[name] === undefined) return undefined;
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${values[name]}`);
  return n;
};
const overrides = Object.fromEntries(Object.entries({ pretrainSteps: steps('pretrain-steps'), adaptSteps: steps('adapt-steps') }).filter(([, v]) => v !== undefined));
await runDemo({ seed, backend: values.backend!, quick: values.quick!, out: values.out!, overrides });
process.exit(0);
