// The makemore names MLP written the way its PyTorch original reads (docs/from-pytorch.md shows
// the two side by side): a model of nn layers, model.to(device), a DataLoader over a
// TensorDataset with randomSplit, Adam with a cosine schedule, save and load, and sampling with
// multinomial from a Generator. Run it with `npx tsx examples/names-pytorch-style.ts [cpu|webgpu]`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, data, initBackend, io, manualSeed, multinomial, nn, noGrad, optim, scope, tensor } from '../src/index.js';
import { CONTEXT, SYMBOLS, examples, maleNames } from './names/data.js';

const F = nn.functional;

export interface PytorchStyleOptions {
  device: 'cpu' | 'webgpu' | 'gpujs';
  steps: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface PytorchStyleResult {
  /** Validation loss (nats per character) before training, after, and after save + load. */
  initialLoss: number;
  finalLoss: number;
  reloadedLoss: number;
  /** The learning rate after each step, as the scheduler set it. */
  lrs: number[];
  samples: string[];
}

function makeModel(): nn.Sequential {
  return new nn.Sequential(
    new nn.Embedding(SYMBOLS.length, 10),
    new nn.Flatten(),
    new nn.Linear(CONTEXT * 10, 200), new nn.Tanh(),
    new nn.Linear(200, SYMBOLS.length),
  );
}

/** Mean cross-entropy over a whole dataset, batch by batch, without a graph. */
async function evaluate(model: nn.Module, loader: data.DataLoader): Promise<number> {
  let total = 0, count = 0;
  for await (const [xb, yb] of loader) {
    const loss = noGrad(() => scope(() => F.crossEntropy(model.forward(xb!), yb!, { reduction: 'sum' })));
    total += await loss.item();
    count += xb!.shape[0]!;
    for (const t of [loss, xb!, yb!]) t.dispose();
  }
  return total / count;
}

export async function trainPytorchStyle(opts: PytorchStyleOptions): Promise<PytorchStyleResult> {
  const { device, steps } = opts;
  const log = opts.log ?? (() => {});
  manualSeed(opts.seed ?? 42);
  await initBackend(device);

  const { contexts: X, targets: Y } = examples(maleNames());
  const [trainSet, valSet] = data.randomSplit(new data.TensorDataset(X, Y), [0.9, 0.1]);
  const trainLoader = new data.DataLoader(trainSet!, { batchSize: 64, shuffle: true, dropLast: true, backend: device });
  const valLoader = new data.DataLoader(valSet!, { batchSize: 1024, backend: device });

  const model = makeModel();
  await model.to(device);
  const optimizer = new optim.Adam(model, { lr: 1e-2 });
  const scheduler = new optim.CosineAnnealingLR(optimizer, { tMax: steps, etaMin: 1e-4 });

  const initialLoss = await evaluate(model, valLoader);
  const lrs: number[] = [];
  let step = 0;
  while (step < steps) {
    for (const [xb, yb] of trainLoader) {
      scope(() => {
        const loss = F.crossEntropy(model.forward(xb!), yb!);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        scheduler.step();
      });
      xb!.dispose();
      yb!.dispose();
      lrs.push(scheduler.getLastLr()[0]!);
      if (++step === steps) break;
    }
  }
  const finalLoss = await evaluate(model, valLoader);
  log(`${device}: validation loss ${initialLoss.toFixed(3)} -> ${finalLoss.toFixed(3)} after ${steps} steps`);

  const path = join(mkdtempSync(join(tmpdir(), 'tsgrad-names-')), 'model.safetensors');
  await io.saveStateDict(path, model);
  const reloaded = makeModel();
  await reloaded.to(device);
  io.loadStateDict(path, reloaded);
  const reloadedLoss = await evaluate(reloaded, valLoader);

  const g = new Generator().manualSeed(2147483647);
  const samples: string[] = [];
  for (let i = 0; i < 5; i++) {
    const context = new Array<number>(CONTEXT).fill(0);
    let name = '';
    while (name.length < 20) {
      const ix = await noGrad(() => scope(() => {
        const probs = reloaded.forward(tensor([context], { dtype: 'int32', backend: device })).softmax(1);
        return multinomial(probs, 1, { generator: g });
      })).item();
      if (ix === 0) break;
      name += SYMBOLS[ix];
      context.shift();
      context.push(ix);
    }
    samples.push(name);
  }
  log(`samples: ${samples.join(', ')}`);
  return { initialLoss, finalLoss, reloadedLoss, lrs, samples };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const device = (process.argv[2] ?? 'cpu') as PytorchStyleOptions['device'];
  await trainPytorchStyle({ device, steps: 3000, log: console.log });
}
