// npm run demo:names [-- --seed 0 --backend cpu|webgpu|gpujs --steps-scale 1 --out out/demo]
// LoRA end to end on real data: see examples/names/demo.ts.
import { parseArgs } from 'node:util';
import { runDemo } from './names/demo.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'cpu' },
    'steps-scale': { type: 'string', default: '1' },
    out: { type: 'string', default: 'out/demo' },
  },
});
const seed = Number(values.seed), stepsScale = Number(values['steps-scale']);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
if (!(stepsScale > 0)) throw new Error(`--steps-scale must be a positive number, got ${values['steps-scale']}`);
if (!['cpu', 'webgpu', 'gpujs'].includes(values.backend!)) throw new Error(`--backend must be cpu, webgpu or gpujs, got ${values.backend}`);
await runDemo({ seed, backend: values.backend!, stepsScale, out: values.out! });
process.exit(0);
