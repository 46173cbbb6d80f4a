// Fused attention on the cpu backend against core's composed path, in one process:
// 1. the time of a forward + backward at the GPT's shape ([32, 4, 64, 16], causal), rounds
//    interleaved so that load hits both alike, and the ratio per round;
// 2. memoryReport's activations of one attention layer (a qkv projection, attention, a sum) over
//    T = 64…1024: the fused op keeps q, k, v, its output and a row logsumexp (O(T)), while the
//    same attention written as separate ops (q·kᵀ, softmax, ·v) keeps the [B, H, T, T] weights.
// Run: npx tsx bench/attention.ts
import { performance } from 'node:perf_hooks';
import { CpuBackend } from '../src/backends/cpu/index.js';
import { installBackend } from '../src/core/backend.js';
import { type FusedKernels, type Tensor, type TypedArray, grad, manualSeed, memoryReport, nn, ones, randn, scope, setBackend } from '../src/index.js';

/** The cpu backend without fused kernels: core's composed attention. */
class ComposedCpu extends CpuBackend {
  override readonly fused: FusedKernels<TypedArray> = {};
}
installBackend('cpu-composed', new ComposedCpu());
await setBackend('cpu');
manualSeed(0);

const sdpa = nn.functional.scaledDotProductAttention;

/** One forward + backward of causal attention on `backend`, in ms. */
function step(backend: string, shape: number[]): number {
  return scope(() => {
    const [q, k, v] = [0, 1, 2].map(() => randn(shape, { backend, requiresGrad: true })) as [Tensor, Tensor, Tensor];
    const w = randn(shape, { backend });
    const t0 = performance.now();
    const out = sdpa(q, k, v, { isCausal: true });
    const gs = grad(out.mul(w).sum(), [q, k, v]);
    gs.forEach((g) => g!.dataSync());
    return performance.now() - t0;
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const SHAPE = [32, 4, 64, 16];
for (let i = 0; i < 5; i++) [step('cpu', SHAPE), step('cpu-composed', SHAPE)];
const fused: number[] = [], composed: number[] = [], ratios: number[] = [];
for (let r = 0; r < 30; r++) {
  const f = step('cpu', SHAPE), c = step('cpu-composed', SHAPE);
  fused.push(f);
  composed.push(c);
  ratios.push(c / f);
}
console.log(`attention forward + backward, [${SHAPE}] causal, cpu (median of 30 interleaved rounds):`);
console.log(`  fused ${median(fused).toFixed(2)} ms, composed ${median(composed).toFixed(2)} ms, composed / fused ${median(ratios).toFixed(2)}×\n`);

/** Activations (KiB) that memoryReport counts for one attention layer over [B, T, C]. */
function activations(T: number, fusedOp: boolean): number {
  const B = 2, H = 4, C = 64;
  return scope(() => {
    const proj = new nn.Linear(C, 3 * C);
    const x = randn([B, T, C]);
    const [q, k, v] = proj.forward(x).reshape([B, T, 3, H, C / H]).permute([2, 0, 3, 1, 4]).chunk(3, 0).map((t) => t.squeeze(0)) as [Tensor, Tensor, Tensor];
    const y = fusedOp
      ? sdpa(q, k, v, { isCausal: true })
      : q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(C / H)).maskedFill(ones([T, T], { dtype: 'int32' }).triu(1), -Infinity).softmax(-1).matmul(v);
    return memoryReport(proj, null, { output: y.sum() }).activations.bytes / 1024;
  });
}

console.log('activations of one attention layer (B = 2, H = 4, head dim 16), memoryReport, KiB:');
console.log('| T | fused op | ratio to T/2 | separate ops (q·kᵀ, softmax, ·v) | ratio to T/2 |');
console.log('|---:|---:|---:|---:|---:|');
let prev: [number, number] | null = null;
for (const T of [64, 128, 256, 512, 1024]) {
  const a = activations(T, true), b = activations(T, false);
  const r = (x: number, p: number | undefined) => (p ? `${(x / p).toFixed(2)}×` : '');
  console.log(`| ${T} | ${a.toFixed(0)} | ${r(a, prev?.[0])} | ${b.toFixed(0)} | ${r(b, prev?.[1])} |`);
  prev = [a, b];
}
