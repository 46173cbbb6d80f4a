// npm run demo:diffusion [-- --seed 0 --backend cpu|webgpu|gpujs --quick --out out/demo-diffusion]
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
  },
});
const seed = Number(values.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
if (!['cpu', 'webgpu', 'gpujs'].includes(values.backend!)) throw new Error(`--backend must be cpu, webgpu or gpujs, got ${values.backend}`);
await runDemo({ seed, backend: values.backend!, quick: values.quick!, out: values.out! });
process.exit(0);
