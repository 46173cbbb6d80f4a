// The diffusion demo's data: the 10,000 MNIST digits of the `mnist` package (about 1,000 of each
// digit, 28×28, ink in [0, 1]), split once and for all: the last 100 of each digit are held out.
import { createRequire } from 'node:module';

/** Images of each digit held out (the last ones of the package's list). */
export const HELD_OUT_PER_DIGIT = 100;

/** Pixels of one 28×28 image. */
export const PIXELS = 784;

/** Images as one flat array (pixels scaled to [-1, 1], background -1) with their digits. */
export interface Digits {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

interface MnistDigit {
  raw: number[];
  length: number;
}

let cache: MnistDigit[] | null = null;

function mnist(): MnistDigit[] {
  // The package is CommonJS and reads its JSON files with require.
  cache ??= createRequire(import.meta.url)('mnist') as MnistDigit[];
  return cache;
}

/** The `split` images of the given digits, in digit order (shuffling is the batcher's job). */
export function digits(which: readonly number[], split: 'train' | 'heldOut'): Digits {
  const parts = which.map((d) => {
    const { raw, length } = mnist()[d]!;
    const [from, to] = split === 'train' ? [0, length - HELD_OUT_PER_DIGIT] : [length - HELD_OUT_PER_DIGIT, length];
    return { d, pixels: raw.slice(from * PIXELS, to * PIXELS), count: to - from };
  });
  const count = parts.reduce((n, p) => n + p.count, 0);
  const images = new Float32Array(count * PIXELS), labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    for (let i = 0; i < p.pixels.length; i++) images[at * PIXELS + i] = 2 * p.pixels[i]! - 1;
    labels.fill(p.d, at, at + p.count);
    at += p.count;
  }
  return { images, labels, count };
}

/** A random batch (with replacement) of `size` images: their pixels and digits. */
export function randomBatch(data: Digits, size: number, uniform: () => number): { images: Float32Array; labels: Int32Array } {
  const images = new Float32Array(size * PIXELS), labels = new Int32Array(size);
  for (let b = 0; b < size; b++) {
    const i = Math.floor(uniform() * data.count);
    images.set(data.images.subarray(i * PIXELS, (i + 1) * PIXELS), b * PIXELS);
    labels[b] = data.labels[i]!;
  }
  return { images, labels };
}
