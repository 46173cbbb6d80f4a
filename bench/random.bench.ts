// Random draws on the CPU: randn and rand of 524,288 float32 values through the backend's
// WebAssembly kernels, through the generator's JavaScript loops (the same bits; what every
// draw took before the kernels), and in PyTorch on one thread, in interleaved rounds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fastFills } from '../src/backends/cpu/wasm/random.js';
import { Arena } from '../src/backends/cpu/wasm/arena.js';
import { startWasm } from '../src/backends/cpu/wasm/runtime.js';
import { setFastFills } from '../src/core/random.js';
import { manualSeed, noGrad, rand, randn, scope, setBackend } from '../src/index.js';
import { type BenchRow, medianMs, save } from './harness.js';

const N = 524_288, ROUNDS = 5, RUNS = 40;
const loadAtStart = loadavg()[0]!;
await setBackend('cpu');
const fills = fastFills(new Arena(startWasm()!));
if (!fills) throw new Error('the WebAssembly random kernels did not compile here');
manualSeed(0);

const here = dirname(fileURLToPath(import.meta.url));
const python = process.env['TSGRAD_BENCH_PYTHON'] ?? join(here, '..', '.venv-hf', 'bin', 'python');
if (!existsSync(python)) throw new Error(`no Python with torch at ${python}: run scripts/hf-venv.sh or set TSGRAD_BENCH_PYTHON`);

const draws = { randn: () => noGrad(() => scope(() => void randn([N]))), rand: () => noGrad(() => scope(() => void rand([N]))) };
type Case = keyof typeof draws;
const IMPLS = ['tsgrad/cpu (WebAssembly kernels)', 'tsgrad/cpu (JavaScript loops)', 'pytorch 1 thread'] as const;
const perRound: Record<string, number[]> = {};
let versions = '';
for (let round = 0; round < ROUNDS; round++) {
  for (const c of Object.keys(draws) as Case[]) {
    setFastFills(fills);
    (perRound[`${c}|${IMPLS[0]}`] ??= []).push(medianMs(draws[c], RUNS, 5));
    setFastFills(null);
    (perRound[`${c}|${IMPLS[1]}`] ??= []).push(medianMs(draws[c], RUNS, 5));
  }
  setFastFills(fills);
  const run = spawnSync(python, [join(here, 'peers', 'random_torch.py'), JSON.stringify({ n: N, runs: RUNS })], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the PyTorch peer failed:\n${run.stderr}`);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; cpu: string; rows: Record<Case, number> };
  versions = `torch ${out.torch} (its CPU kernels: ${out.cpu})`;
  for (const c of Object.keys(draws) as Case[]) (perRound[`${c}|${IMPLS[2]}`] ??= []).push(out.rows[c]);
  console.log(`round ${round + 1}/${ROUNDS}: ${Object.entries(perRound).map(([k, v]) => `${k} ${v.at(-1)!.toFixed(2)} ms`).join('; ')}`);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows: BenchRow[] = Object.entries(perRound).map(([k, ms]) => {
  const [c, impl] = k.split('|') as [string, string];
  return { suite: 'random', case: `${c} ${N.toLocaleString('en-US')} float32`, impl, meanMs: med(ms), medianMs: med(ms), rmePercent: 0, samples: ROUNDS * RUNS, roundMediansMs: ms };
});
const ratio = (c: Case, impl: string) => med(perRound[`${c}|${impl}`]!.map((ms, i) => ms / perRound[`${c}|${IMPLS[2]}`]![i]!)).toFixed(2);
const notes = [
  `# random: rand and randn on the CPU backend against PyTorch, float32`,
  `Node ${process.versions.node}, ${versions}, \`npm run bench -- random\`, ${cpus().length} cores, 1-minute load average ${loadAtStart.toFixed(1)} at start and ${loadavg()[0]!.toFixed(1)} at end. ` +
    `${ROUNDS} interleaved rounds, each the median of ${RUNS} calls; the table holds the medians over rounds. The WebAssembly kernels and the JavaScript loops give the same bits ` +
    '(test/backends/cpu-wasm-random.test.ts); PyTorch has its own generator (different numbers, the same distributions).',
  // One note, so the table's rows stay together (save() puts a blank line between notes).
  [
    '| case | tsgrad, WebAssembly | tsgrad, JavaScript loop | PyTorch, 1 thread | WebAssembly ÷ PyTorch |',
    '|---|---:|---:|---:|---:|',
    ...(Object.keys(draws) as Case[]).map((c) => `| ${c} ${N.toLocaleString('en-US')} | ${med(perRound[`${c}|${IMPLS[0]}`]!).toFixed(2)} ms | ${med(perRound[`${c}|${IMPLS[1]}`]!).toFixed(2)} ms | ${med(perRound[`${c}|${IMPLS[2]}`]!).toFixed(2)} ms | ${ratio(c, IMPLS[0])}× |`),
  ].join('\n'),
];
for (const n of notes) console.log(n);
save('random', rows, notes);
