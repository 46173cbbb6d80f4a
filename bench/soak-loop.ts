// The soak loop: trains the benchmark's LoRA layer for many steps on one backend and samples
// what a leak would grow (live backend storages and bytes, process RSS) every `every` steps.
import { getBackend, initBackend, manualSeed, nn, optim, randn, scope, setBackend, type Tensor } from '../src/index.js';
import { collectGarbage } from './gc.js';

export interface SoakSample {
  step: number;
  /** Storages the backend holds (each live tensor that owns memory). */
  buffers: number;
  bytes: number;
  rssMiB: number;
  loss: number;
}

export interface SoakOptions {
  backend: string;
  steps: number;
  every: number;
  /** Features of the LoRALinear (in = out), its rank and the batch. */
  dim: number;
  rank: number;
  batch: number;
  /** AdamW (the benchmark's) by default; SGD with momentum dispatches fewer kernels per step. */
  optimizer?: 'adamw' | 'sgd';
}

/** Flat means: no storage or byte growth after the first sample, and RSS within `rssSlackMiB`. */
export interface SoakBound {
  rssSlackMiB: number;
}

export async function soak(o: SoakOptions): Promise<SoakSample[]> {
  await initBackend(o.backend);
  await setBackend(o.backend);
  manualSeed(0);
  const layer = new nn.LoRALinear(o.dim, o.dim, { rank: o.rank, alpha: 2 * o.rank });
  const opt = o.optimizer === 'sgd' ? new optim.SGD(layer.parameters(), { lr: 1e-2, momentum: 0.9 }) : new optim.AdamW(layer.parameters(), { lr: 1e-3 });
  const x = randn([o.batch, o.dim]), target = randn([o.batch, o.dim]);
  const be = getBackend();
  const samples: SoakSample[] = [];
  for (let step = 1; step <= o.steps; step++) {
    const loss: Tensor = scope(() => {
      const l = nn.functional.mseLoss(layer.forward(x), target);
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l;
    });
    // Reading the loss every step keeps a GPU queue from running ahead of the host.
    const value = (await loss.data())[0]!;
    loss.dispose();
    // Backends that read back at once would otherwise never let the event loop run.
    if (step % 50 === 0) await new Promise((r) => setTimeout(r, 0));
    if (step % o.every === 0) {
      // RSS counts garbage not yet collected, and how much of it there is depends on when the
      // collector ran (later on a loaded machine): a leak is what survives a full collection.
      await collectGarbage();
      const m = be.memory();
      samples.push({ step, buffers: m.buffers, bytes: m.bytes, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20), loss: value });
    }
  }
  return samples;
}

/** Why `samples` are not flat within `bound`, or null when they are. */
export function notFlat(samples: SoakSample[], bound: SoakBound): string | null {
  const first = samples[0];
  if (!first) return 'no samples';
  for (const s of samples) {
    if (s.buffers > first.buffers) return `live storages grew from ${first.buffers} at step ${first.step} to ${s.buffers} at step ${s.step}`;
    if (s.bytes > first.bytes) return `backend bytes grew from ${first.bytes} at step ${first.step} to ${s.bytes} at step ${s.step}`;
    if (s.rssMiB > first.rssMiB + bound.rssSlackMiB) return `RSS grew from ${first.rssMiB} MiB at step ${first.step} to ${s.rssMiB} MiB at step ${s.step} (bound +${bound.rssSlackMiB} MiB)`;
  }
  return null;
}
