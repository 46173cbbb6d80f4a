// Micro-benchmarks of the transformer step's elementwise work on the CPU backend, float32: both
// GELUs forward and backward on [32, 64, 256], softmax forward and backward over [32, 4, 64, 64],
// and the causal mask through maskedFill. Prints the median of each in ms; run it on two
// commits to compare (`npx tsx bench/elementwise-kernels.ts`). The CPU backend is synchronous,
// so a result is complete when the op returns: nothing is read back (copying 2 MB out of the
// module's memory would cost more than most of these kernels).
import { type Tensor, grad, manualSeed, ones, randn, scope } from '../src/index.js';

manualSeed(0);
const reps = Number(process.env['REPS'] ?? 30);

function time(name: string, f: () => void): void {
  for (let i = 0; i < 3; i++) scope(f);
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    scope(f);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(`${name.padEnd(34)} ${ms[ms.length >> 1]!.toFixed(3)} ms`);
}

const x = randn([32, 64, 256]).requiresGrad_();
const g = randn([32, 64, 256]);
const scores = randn([32, 4, 64, 64]).requiresGrad_();
const gs = randn([32, 4, 64, 64]);
const causal = ones([64, 64]).tril().eq(0);
const read = (t: Tensor) => t.shape;

for (const approximate of ['none', 'tanh'] as const) {
  time(`gelu ${approximate} forward`, () => read(x.gelu({ approximate })));
  time(`gelu ${approximate} forward+backward`, () => read(grad(x.gelu({ approximate }).mul(g).sum(), [x])[0]!));
}
time('erf forward', () => read(x.erf()));
time('tanh forward', () => read(x.tanh()));
time('softmax forward', () => read(scores.softmax(-1)));
time('softmax forward+backward', () => read(grad(scores.softmax(-1).mul(gs).sum(), [scores])[0]!));
time('maskedFill causal', () => read(scores.maskedFill(causal, -Infinity)));
time('scores.lt(0)', () => read(scores.lt(0)));
