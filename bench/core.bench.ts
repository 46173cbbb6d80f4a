// tsgrad's CPU backend against TensorFlow.js's pure-JS CPU backend, side by side in one run:
// matmul, an elementwise chain and a small MLP training step, all float32, same shapes.
// tsgrad splits large matmuls between worker threads and tfjs's CPU backend runs on one, so the
// matmuls are also measured with tsgrad held to one thread.
// Every timed run reads its result back (dataSync) so lazy work is counted, and disposes what
// it created so neither library grows its heap between samples.
import * as tf from '@tensorflow/tfjs';
import { configureMatmulThreads } from '../src/backends/cpu/matmul.js';
import { type Tensor, getBackend, nn, noGrad, randn, scope, tensor } from '../src/index.js';
import { type BenchRow, type BenchTask, measure, save } from './harness.js';

await tf.setBackend('cpu');
const threads = configureMatmulThreads({}).threads;

const { linear, crossEntropy } = nn.functional;

// Each section builds its inputs right before it is measured: once the MLP's tfjs variables
// existed, tfjs's matmul ran about 25% slower (a JIT effect inside tfjs), so sections must not
// share a warm-up history.

function matmulTasks(): BenchTask[] {
  const tasks: BenchTask[] = [];
  for (const n of [128, 256, 512, 1024]) {
    const flops = 2 * n ** 3;
    const a = randn([n, n]), b = randn([n, n]);
    const ta = tf.randomNormal([n, n]), tb = tf.randomNormal([n, n]);
    const run = () => {
      const c = a.matmul(b);
      c.dataSync();
      c.dispose();
    };
    tasks.push({ case: `matmul ${n}`, impl: 'tsgrad/cpu', flops, run });
    if (threads > 1) {
      tasks.push({
        case: `matmul ${n}`, impl: 'tsgrad/cpu 1 thread', flops, run,
        setup: () => void configureMatmulThreads({ threads: 1 }),
        teardown: () => void configureMatmulThreads({ threads }),
      });
    }
    tasks.push({
      case: `matmul ${n}`, impl: 'tfjs/cpu', flops,
      run: () => {
        const c = tf.matMul(ta, tb);
        c.dataSync();
        c.dispose();
      },
    });
  }

  return tasks;
}

function elementwiseTasks(): BenchTask[] {
  const size = 1 << 20;
  const [a, b, c] = [randn([size]), randn([size]), randn([size])];
  const [ta, tb, tc] = [tf.randomNormal([size]), tf.randomNormal([size]), tf.randomNormal([size])];
  return [
    { case: 'a*b+c, 1M', impl: 'tsgrad/cpu', run: () => scope(() => a.mul(b).add(c).dataSync()) },
    {
      case: 'a*b+c, 1M', impl: 'tfjs/cpu',
      run: () => {
        const r = tf.tidy(() => tf.add(tf.mul(ta, tb), tc));
        r.dataSync();
        r.dispose();
      },
    },
  ];
}

/** 784 → 256 → 10 with ReLU, batch 64, softmax cross-entropy, one SGD step. */
function mlpTasks(): BenchTask[] {
  const [batch, inF, hidden, classes, lr] = [64, 784, 256, 10, 0.01];
  const labels = Array.from({ length: batch }, (_, i) => (i * 7) % classes);
  const x = randn([batch, inF]);
  const y = tensor(labels, { dtype: 'int32' });
  const params = [randn([hidden, inF]).mul(0.05), randn([hidden]).mul(0.01), randn([classes, hidden]).mul(0.05), randn([classes]).mul(0.01)];
  for (const p of params) p.requiresGrad = true;
  const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
  const ours: BenchTask = {
    case: 'MLP 784-256-10 step, batch 64', impl: 'tsgrad/cpu',
    run: () =>
      scope(() => {
        const loss = crossEntropy(linear(linear(x, w1, b1).relu(), w2, b2), y);
        loss.backward();
        noGrad(() => {
          for (const p of params) {
            p.copy_(p.sub(p.grad!.mul(lr)));
            p.grad!.dispose();
            p.grad = null;
          }
        });
        return loss.dataSync()[0];
      }),
  };

  const tx = tf.randomNormal([batch, inF]);
  const ty = tf.oneHot(tf.tensor1d(labels, 'int32'), classes);
  const tw1 = tf.variable(tf.randomNormal([inF, hidden]).mul(0.05));
  const tb1 = tf.variable(tf.randomNormal([hidden]).mul(0.01));
  const tw2 = tf.variable(tf.randomNormal([hidden, classes]).mul(0.05));
  const tb2 = tf.variable(tf.randomNormal([classes]).mul(0.01));
  const opt = tf.train.sgd(lr);
  const theirs: BenchTask = {
    case: 'MLP 784-256-10 step, batch 64', impl: 'tfjs/cpu',
    run: () => {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(ty, tf.relu(tx.matMul(tw1).add(tb1)).matMul(tw2).add(tb2)), true)!;
      const v = loss.dataSync()[0];
      loss.dispose();
      return v;
    },
  };
  return [ours, theirs];
}

const rounds = 3;
const rows: BenchRow[] = [];
for (const section of [matmulTasks, elementwiseTasks, mlpTasks]) {
  const tasks = section();
  const before = { tfjs: tf.memory().numTensors, tsgrad: getBackend().memory().buffers };
  rows.push(...(await measure('core', tasks, { rounds })));
  const leaks = { tfjs: tf.memory().numTensors - before.tfjs, tsgrad: getBackend().memory().buffers - before.tsgrad };
  if (leaks.tfjs !== 0 || leaks.tsgrad !== 0) throw new Error(`benchmark runs leaked tensors (${JSON.stringify(leaks)}); the comparison would be unfair`);
}

/**
 * tsgrad's speed over tfjs's per case (>1: tsgrad is faster), from the medians of each round:
 * the two run back to back in a round, so both see the same machine load.
 */
function ratioTable(rs: BenchRow[]): string {
  const lines = ['| case | tsgrad/tfjs speed (median of rounds) | per round | tsgrad GFLOP/s | tfjs GFLOP/s |', '|---|---:|---|---:|---:|'];
  for (const r of rs) {
    const other = rs.find((o) => o.case === r.case && o.impl === 'tfjs/cpu');
    if (!r.impl.startsWith('tsgrad/cpu') || !other) continue;
    const perRound = r.roundMediansMs!.map((ms, i) => other.roundMediansMs![i]! / ms);
    const mid = [...perRound].sort((a, b) => a - b)[perRound.length >> 1]!;
    const gf = (x: BenchRow) => (x.gflops ? x.gflops.toFixed(2) : '');
    lines.push(`| ${r.case}${r.impl === 'tsgrad/cpu' ? '' : ` (${r.impl.slice('tsgrad/cpu '.length)})`} | ${mid.toFixed(2)}× | ${perRound.map((x) => x.toFixed(2)).join(', ')} | ${gf(r)} | ${gf(other)} |`);
  }
  return lines.join('\n');
}

const notes = [
  `# core: tsgrad/cpu (matmul on ${threads} thread${threads > 1 ? 's' : ''}) vs tfjs/cpu (pure-JS backend, 1 thread), float32`,
  `Node ${process.versions.node}, tfjs ${tf.version.tfjs}, \`npm run bench -- core\`. ${rounds} interleaved rounds; every run includes ` +
    'dataSync() and disposal. GFLOP/s = 2n³ / mean time. Timings come from a shared 2-core machine: compare the ratios, which pair ' +
    'the two libraries within each round. ' +
    (threads > 1
      ? `tsgrad splits matmuls from 96³ multiply-adds between ${threads} threads (\`TSGRAD_CPU_THREADS\`), tfjs's CPU backend uses one: ` +
        'the "1 thread" rows hold tsgrad to one for a like-for-like comparison. The elementwise rows are single-threaded; in ' +
        'the MLP step the first layer\'s matmuls (forward and weight gradient) use threads.'
      : 'tsgrad ran on one thread, as tfjs does.'),
  ratioTable(rows),
];
console.log(notes[2]);
save('core', rows, notes);
