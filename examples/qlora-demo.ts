// npm run demo:qlora [-- --dtype bfloat16|float16 --embedding nf4|16bit --rank 8 --batch 1 --context 128 --steps 3 --out out/demo-qlora]
// QLoRA at GPT-2 small's size on the CPU: the base in NF4, the tied token embedding included
// (`--embedding 16bit` keeps it in --dtype instead), 16 bits for the rest, LoRA on
// c_attn, a few training steps on random tokens, and what the weights and a step cost; see
// examples/qlora/gpt2Small.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runQLoRA } from './qlora/gpt2Small.js';

const { values } = parseArgs({
  options: {
    dtype: { type: 'string', default: 'bfloat16' },
    embedding: { type: 'string', default: 'nf4' },
    rank: { type: 'string', default: '8' },
    batch: { type: 'string', default: '1' },
    context: { type: 'string', default: '128' },
    steps: { type: 'string', default: '3' },
    out: { type: 'string', default: 'out/demo-qlora' },
  },
});
const int = (name: 'rank' | 'batch' | 'context' | 'steps') => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${values[name]}`);
  return n;
};
if (values.dtype !== 'bfloat16' && values.dtype !== 'float16') throw new Error(`--dtype must be bfloat16 or float16, got ${values.dtype}`);
if (values.embedding !== 'nf4' && values.embedding !== '16bit') throw new Error(`--embedding must be nf4 or 16bit, got ${values.embedding}`);
const result = await runQLoRA({ dtype: values.dtype, quantizeEmbedding: values.embedding === 'nf4', rank: int('rank'), batch: int('batch'), context: int('context'), steps: int('steps') });
mkdirSync(values.out!, { recursive: true });
writeFileSync(join(values.out!, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
process.exit(0);
