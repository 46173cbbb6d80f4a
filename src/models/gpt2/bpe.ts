// Byte-pair encoding of one word: its bytes start as one token each, then the adjacent pair with the
// lowest merge rank is merged (leftmost first on ties), again and again, until no pair has a rank.
// A heap keeps that linear-logarithmic on long words, as Hugging Face tokenizers' BPE does; stale
// heap entries are skipped when popped, by the same test tokenizers uses, so odd merge files agree
// with it too. A cache remembers the ids of recent words, as encoder.py's does.
import { TsgradError } from '../../core/errors.js';
import { BYTE_TO_CHAR, utf8Bytes } from './byteLevel.js';

/** The BPE model's settings beyond vocabulary and merges (Hugging Face's `BPE` fields). */
export interface BpeOptions {
  /** The token for a byte whose character is not in the vocabulary; without one, such text is refused. */
  unkToken?: string | null;
  /** Take a whole word's token when the vocabulary has it, before any merge (tokenizers' `ignore_merges`). */
  ignoreMerges?: boolean;
}

const CACHE_CAPACITY = 100_000;
// Longer words are rare and would crowd the cache out.
const CACHE_MAX_WORD = 256;

/** GPT-2's BPE model: a vocabulary, ranked merges, and the cache of encoded words. */
export class BytePairEncoding {
  private readonly ranks = new Map<number, number>();
  private readonly mergedId: Int32Array;
  /** Each byte's token id, -1 where the vocabulary lacks the byte's character. */
  private readonly byteIds = new Int32Array(256);
  private readonly unkId: number;
  private readonly cache = new Map<string, readonly number[]>();
  private readonly stride: number;

  /**
   * Checks that every merge names tokens of the vocabulary, and builds the rank table.
   * `where(i)` says where merge `i` came from, for error messages.
   */
  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    merges: readonly (readonly [string, string])[],
    where: (i: number) => string,
    private readonly opts: BpeOptions = {},
  ) {
    let maxId = 0;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.stride = maxId + 1;
    const id = (token: string, i: number, role: string) => {
      const found = vocab.get(token);
      if (found === undefined) throw new TsgradError('GPT2Tokenizer', `${where(i)}: the merge '${merges[i]![0]} ${merges[i]![1]}' names ${role} '${token}', which the vocabulary does not have; the vocabulary and merges must come from the same tokenizer`);
      return found;
    };
    this.mergedId = new Int32Array(merges.length);
    merges.forEach(([a, b], i) => {
      const key = id(a, i, 'the token') * this.stride + id(b, i, 'the token');
      this.mergedId[i] = id(a + b, i, 'the merged token');
      // A repeated merge takes its last rank, as both encoder.py's dict and tokenizers' map do.
      this.ranks.set(key, i);
    });
    for (let b = 0; b < 256; b++) this.byteIds[b] = vocab.get(BYTE_TO_CHAR[b]!) ?? -1;
    this.unkId = opts.unkToken == null ? -1 : (vocab.get(opts.unkToken) ?? -1);
    if (opts.unkToken != null && this.unkId < 0) throw new TsgradError('GPT2Tokenizer', `the BPE model's unk_token '${opts.unkToken}' is not in its vocabulary`);
  }

  /** Appends the token ids of `word` (one pre-split word, as text) to `out`. */
  encodeWord(word: string, out: number[]): void {
    const cached = this.cache.get(word);
    if (cached !== undefined) {
      for (const id of cached) out.push(id);
      return;
    }
    const ids = this.merge(utf8Bytes(word), word);
    if (word.length <= CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_CAPACITY) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  private merge(bytes: Uint8Array, word: string): number[] {
    if (this.opts.ignoreMerges) {
      const whole = this.vocab.get(Array.from(bytes, (b) => BYTE_TO_CHAR[b]).join(''));
      if (whole !== undefined) return [whole];
    }
    const n = bytes.length;
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const id = this.byteIds[bytes[i]!]!;
      if (id >= 0) ids[i] = id;
      else if (this.unkId >= 0) ids[i] = this.unkId;
      else throw new TsgradError('GPT2Tokenizer.encode', `byte 0x${bytes[i]!.toString(16).padStart(2, '0')} of '${word}' has no token ('${BYTE_TO_CHAR[bytes[i]!]}') in the vocabulary, and the model has no unk_token; a byte-level vocabulary needs all 256 byte tokens`);
    }
    // Symbols as a linked list over the byte positions; a merged symbol keeps its left position.
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    // Heap entries are rank * n + pos: lowest rank first, then leftmost.
    const heap = new MinHeap();
    const push = (pos: number) => {
      const right = next[pos]!;
      if (right < 0) return;
      const rank = this.ranks.get(ids[pos]! * this.stride + ids[right]!);
      if (rank !== undefined) heap.push(rank * n + pos);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const top = heap.pop();
      const pos = top % n;
      const rank = (top - pos) / n;
      const right = next[pos]!;
      if (!alive[pos] || right < 0) continue;
      // Stale when the pair now at `pos` no longer merges into this entry's token.
      const now = this.ranks.get(ids[pos]! * this.stride + ids[right]!);
      if (now === undefined || this.mergedId[now] !== this.mergedId[rank]) continue;
      ids[pos] = this.mergedId[rank]!;
      alive[right] = 0;
      next[pos] = next[right]!;
      if (next[pos]! >= 0) prev[next[pos]!] = pos;
      if (prev[pos]! >= 0) push(prev[pos]!);
      push(pos);
    }
    const result: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) result.push(ids[i]!);
    return result;
  }
}

/** A binary min-heap of numbers. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(x: number): void {
    const a = this.items;
    let i = a.push(x) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= x) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = x;
  }

  pop(): number {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= a.length) break;
        if (child + 1 < a.length && a[child + 1]! < a[child]!) child++;
        if (a[child]! >= last) break;
        a[i] = a[child]!;
        i = child;
      }
      a[i] = last;
    }
    return top;
  }
}
