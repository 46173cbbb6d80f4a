// The GPT training steps (bench/cases/gpt.ts) on WebGPU in Node, tsgrad's webgpu backend beside
// jax-js's WebGPU device on the same Dawn adapter (bench/peers/jaxDawn.ts gives jax-js Dawn's
// `navigator.gpu`). Without a GPU that adapter is Mesa's llvmpipe through OpenGL ES, so the figures
// compare the libraries' kernels on a CPU rasterizer, not what a GPU does; on a machine with one,
// Dawn picks it for both. Rounds interleave the libraries, one step each in turn, so load hits both alike.
import { cpus, loadavg } from 'node:os';
import { getBackendInfo, setBackend } from '../src/index.js';
import { GPT_SHAPE, gptStep } from './cases/gpt.js';
import { type BenchRow, save } from './harness.js';
import { initJax, jaxGptStep } from './peers/gptJax.js';
import { dawnNavigatorFor } from './peers/jaxDawn.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3), STEPS = 3;
const loadAtStart = loadavg()[0]!;
await setBackend('webgpu');
const info = getBackendInfo('webgpu');
await dawnNavigatorFor(info);
await initJax('webgpu');

const CASES = { full: 'GPT train step, full fine-tuning', lora: 'GPT train step, LoRA r4 on c_attn' } as const;
type Step = () => Promise<number>;
const rows: BenchRow[] = [];
const firstLosses: string[] = [];
for (const mode of ['full', 'lora'] as const) {
  const ours = gptStep(mode), jax = jaxGptStep(GPT_SHAPE, mode);
  const impls: [string, Step][] = [['tsgrad/webgpu', () => ours.run()], ['jax-js/webgpu', async () => jax.step()]];
  // The first step compiles every kernel; both libraries start from GPT-2's initialisation, so their first losses are near ln 96.
  for (const [name, step] of impls) firstLosses.push(`${name}, ${mode}: ${(await step()).toFixed(4)}`);
  for (const [, step] of impls) await step();
  const perRound = new Map<string, number[]>(impls.map(([name]) => [name, []]));
  const all = new Map<string, number[]>(impls.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const times = new Map<string, number[]>(impls.map(([name]) => [name, []]));
    for (let s = 0; s < STEPS; s++) {
      for (const [name, step] of impls) {
        const t0 = performance.now();
        await step();
        times.get(name)!.push(performance.now() - t0);
      }
    }
    for (const [name, ts] of times) {
      perRound.get(name)!.push(median(ts));
      all.get(name)!.push(...ts);
    }
    console.log(`${CASES[mode]}, round ${round + 1}/${ROUNDS}: ${[...times].map(([n, ts]) => `${n} ${median(ts).toFixed(0)} ms`).join(', ')}`);
  }
  for (const [name, medians] of perRound) {
    const ts = all.get(name)!;
    rows.push({ suite: 'gpt-webgpu', case: CASES[mode], impl: name, meanMs: ts.reduce((a, b) => a + b, 0) / ts.length, medianMs: median(medians), rmePercent: 0, samples: ts.length, roundMediansMs: medians });
  }
  ours.dispose();
  jax.dispose();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const ms = (impl: string, c: string) => rows.find((r) => r.impl === impl && r.case === c)!;
/** jax-js's time over tsgrad's, the median over rounds of the ratio within a round. */
const speedUp = (c: string) => median(ms('jax-js/webgpu', c).roundMediansMs!.map((j, i) => j / ms('tsgrad/webgpu', c).roundMediansMs![i]!));
const notes = [
  `# gpt-webgpu: a small GPT's training step on WebGPU in Node, tsgrad/webgpu and jax-js/webgpu on one Dawn adapter, float32`,
  `Node ${process.versions.node}, @jax-js/jax 0.1.25, \`npm run bench -- gpt-webgpu\`; adapter: ${info.device || info.description} ` +
    `(Dawn ${info.backendType}, ${info.featureLevel} feature level${info.description ? `, ${info.description}` : ''}), the same for both libraries. ` +
    `${ROUNDS} rounds of ${STEPS} steps each, the libraries taking turns step by step after two untimed steps each; each row is the median of its ` +
    'per-round medians, and "jax-js ÷ tsgrad" the median over rounds of the ratio within a round (above 1×: tsgrad is faster). The model is ' +
    'bench/cases/gpt.ts\'s (2 GPT-2 blocks, width 64, 4 heads, context 64, 96 symbols, batch 32, AdamW; LoRA r4, alpha 8 on c_attn); each step ' +
    'reads its loss back. jax-js runs one jit-compiled function per step (bench/peers/gptJax.ts: composed attention and one-hot embeddings, ' +
    'as in the CPU suite) on its WebGPU device, which gets Dawn\'s `navigator.gpu` (bench/peers/jaxDawn.ts).',
  '',
  '| step | tsgrad/webgpu | jax-js/webgpu | jax-js ÷ tsgrad |',
  '|---|---:|---:|---:|',
  ...Object.values(CASES).map((c) => `| ${c} | ${ms('tsgrad/webgpu', c).medianMs!.toFixed(0)} ms | ${ms('jax-js/webgpu', c).medianMs!.toFixed(0)} ms | ${speedUp(c).toFixed(2)}× |`),
  '',
  `First losses (ln 96 = 4.56): ${firstLosses.join('; ')}.`,
  `1-minute load average ${loadAtStart.toFixed(1)} at start and ${loadavg()[0]!.toFixed(1)} at end, on ${cpus().length} cores.`,
  '',
];
for (const n of notes) console.log(n);
save('gpt-webgpu', rows, notes);
process.exit(0);
