// The diffusion demo's judge: a small convolutional digit classifier trained on the real digits
// (all ten, the train split), which then labels generated samples.
import { Generator, type Tensor, fromTypedArray, nn, noGrad, optim, scope, yieldToEventLoop } from '../../src/index.js';
import { Progress } from '../shared/progress.js';
import { type Digits, PIXELS, randomBatch } from './data.js';

const F = nn.functional;

/** Two 3×3 conv + ReLU + 2×2 max-pool stages (28 → 14 → 7), then a Linear layer to 10 logits. */
export class DigitClassifier extends nn.Module {
  conv1 = new nn.Conv2d(1, 16, 3, { padding: 1 });
  conv2 = new nn.Conv2d(16, 32, 3, { padding: 1 });
  pool = new nn.MaxPool2d(2);
  fc = new nn.Linear(32 * 7 * 7, 10);

  /** Logits [N, 10] for images [N, 1, 28, 28] in [-1, 1]. */
  forward(x: Tensor): Tensor {
    const h14 = this.pool.forward(this.conv1.forward(x).relu());
    const h = this.pool.forward(this.conv2.forward(h14).relu());
    return this.fc.forward(h.reshape([x.shape[0]!, -1]));
  }
}

/** What the classifier says of some images: each one's digit and the probability it gave it. */
export interface Labels {
  digits: Int32Array;
  confidence: Float32Array;
}

/** The classifier's digit and probability for images [n·784], in batches of 200. */
export async function classify(model: DigitClassifier, images: Float32Array): Promise<Labels> {
  const n = images.length / PIXELS, digits = new Int32Array(n), confidence = new Float32Array(n);
  model.eval();
  for (let from = 0; from < n; from += 200) {
    const size = Math.min(200, n - from);
    const x = fromTypedArray(images.subarray(from * PIXELS, (from + size) * PIXELS), [size, 1, 28, 28]);
    const probs = await scope(async () => noGrad(() => model.forward(x).softmax(-1)).data());
    x.dispose();
    for (let i = 0; i < size; i++) {
      let best = 0;
      for (let d = 1; d < 10; d++) if (probs[i * 10 + d]! > probs[i * 10 + best]!) best = d;
      digits[from + i] = best;
      confidence[from + i] = probs[i * 10 + best]!;
    }
  }
  return { digits, confidence };
}

/** Options of `trainClassifier`. */
export interface ClassifierOptions {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  log?: (line: string) => void;
}

/** Trains a new classifier with Adam on random batches of `train`; returns it with its accuracy on `heldOut`. */
export async function trainClassifier(train: Digits, heldOut: Digits, opts: ClassifierOptions): Promise<{ model: DigitClassifier; heldOutAccuracy: number }> {
  const model = new DigitClassifier();
  const opt = new optim.Adam(model.parameters(), { lr: opts.lr });
  const g = new Generator().manualSeed(opts.seed);
  const bar = new Progress('classifier', opts.steps, { write: opts.log });
  model.train();
  for (let step = 1; step <= opts.steps; step++) {
    const loss = await scope(async () => {
      const { images, labels } = randomBatch(train, opts.batch, () => g.nextUniform());
      const l = F.crossEntropy(model.forward(fromTypedArray(images, [opts.batch, 1, 28, 28])), fromTypedArray(labels, [opts.batch]));
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l.item();
    });
    bar.update(step, loss);
    await yieldToEventLoop();
  }
  const { digits } = await classify(model, heldOut.images);
  const correct = digits.reduce((n, d, i) => n + (d === heldOut.labels[i] ? 1 : 0), 0);
  return { model, heldOutAccuracy: correct / heldOut.count };
}
