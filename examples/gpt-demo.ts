// npm run demo [-- --seed 0 --backend cpu|webgpu|gpujs --quick --lora-targets c_attn --out out/demo-gpt]
// A small GPT-2 pretrained on Moby Dick and adapted to State of the Union addresses six ways:
// see examples/gpt/demo.ts.
import { parseArgs } from 'node:util';
import { runDemo } from './gpt/demo.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'cpu' },
    quick: { type: 'boolean', default: false },
    'lora-targets': { type: 'string', default: 'c_attn' },
    out: { type: 'string', default: 'out/demo-gpt' },
  },
});
const seed = Number(values.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
if (!['cpu', 'webgpu', 'gpujs'].includes(values.backend!)) throw new Error(`--backend must be cpu, webgpu or gpujs, got ${values.backend}`);
const loraTargets = values['lora-targets']!.split(',');
if (!loraTargets.every((t) => ['c_attn', 'c_proj', 'c_fc'].includes(t))) throw new Error(`--lora-targets must be a comma-separated list of c_attn, c_proj and c_fc, got ${values['lora-targets']}`);
await runDemo({ seed, backend: values.backend!, quick: values.quick!, loraTargets, out: values.out! });
process.exit(0);
