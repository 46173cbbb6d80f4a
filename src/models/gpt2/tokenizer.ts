// GPT-2's tokenizer: added tokens (such as <|endoftext|>) are cut out of the text first, the rest is
// pre-split into words, and each word's bytes are merged by BPE (bpe.ts, byteLevel.ts). Ids agree
// with Hugging Face's GPT2Tokenizer; docs/tokenizer.md lists the few deliberate differences.
import { TsgradError } from '../../core/errors.js';
import { BytePairEncoding } from './bpe.js';
import { decodeUtf8, preSplit, tokenBytes } from './byteLevel.js';
import { readTokenizerFiles } from './tokenizerFiles.js';
import { type AddedToken, type FileNamer, type GPT2TokenizerFiles, type TokenizerSources, readTokenizerSpec } from './tokenizerFormat.js';

export type { AddedToken, GPT2TokenizerFiles, TokenizerSources } from './tokenizerFormat.js';

/** What a GPT2Tokenizer is built from, when not from files. */
export interface GPT2TokenizerOptions {
  /** Token → id (vocab.json's content). */
  vocab: Record<string, number> | ReadonlyMap<string, number>;
  /** Ranked merges, highest priority first: `'a b'` strings or `[a, b]` pairs (merges.txt's lines). */
  merges: readonly (string | readonly [string, string])[];
  /** Tokens matched whole before BPE; unk, bos, eos and pad tokens are added as special ones if missing. */
  addedTokens?: readonly (Partial<AddedToken> & Pick<AddedToken, 'id' | 'content'>)[];
  /** Put a space before text that lacks one, so a first word encodes like any other (default false). */
  addPrefixSpace?: boolean;
  /** Defaults: `'<|endoftext|>'`, GPT-2's one special token. */
  unkToken?: string | null;
  bosToken?: string | null;
  eosToken?: string | null;
  /** Default: none, as GPT-2 has no padding token. */
  padToken?: string | null;
  /** The BPE model's token for bytes the vocabulary lacks (tokenizer.json's model.unk_token); default: refuse such text. */
  modelUnkToken?: string | null;
  /** Take a whole word's token before merging when the vocabulary has it (tokenizer.json's model.ignore_merges). */
  ignoreMerges?: boolean;
}

const DEFAULT_SOURCES: TokenizerSources = { vocab: 'vocab', merge: (i) => `merges[${i}]`, addedToken: (i) => `addedTokens[${i}]` };

// Whitespace as tokenizers' lstrip/rstrip see it (Rust's char::is_whitespace: Unicode's White_Space).
const isWhitespace = (c: string | undefined) => c !== undefined && /^[\t-\r\x85\p{Z}]$/u.test(c);
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * GPT-2's byte-level BPE tokenizer, reading Hugging Face's files; ids and decoded text equal
 * transformers' `GPT2Tokenizer` on any Unicode text.
 *
 * @example
 * const tok = await models.GPT2Tokenizer.fromPretrained('gpt2-files');
 * tok.encode('Hello world'); // [15496, 995]
 * tok.decode([15496, 995]); // 'Hello world'
 */
export class GPT2Tokenizer {
  /** The BPE vocabulary's size without added tokens (Hugging Face's `vocab_size`). */
  readonly vocabSize: number;
  /** The number of distinct tokens, added ones included (Hugging Face's `len(tokenizer)`). */
  readonly length: number;
  /** The token that stands for unknown text (`<|endoftext|>` for GPT-2), or null. */
  readonly unkToken: string | null;
  /** The token that begins a text (`<|endoftext|>` for GPT-2), or null. */
  readonly bosToken: string | null;
  /** The token that ends a text (`<|endoftext|>` for GPT-2), or null. */
  readonly eosToken: string | null;
  /** The padding token, or null (GPT-2 has none). */
  readonly padToken: string | null;
  /** Whether text that does not start with a space gets one, so its first word encodes like the others. */
  readonly addPrefixSpace: boolean;
  private readonly bpe: BytePairEncoding;
  private readonly tokenToId: Map<string, number>;
  private readonly idToToken = new Map<number, string>();
  private readonly added = new Map<string, AddedToken>();
  private readonly specialIds = new Set<number>();
  /** Added tokens matched on the raw text, then those matched after normalization, as tokenizers does. */
  private readonly addedPatterns: RegExp[];
  private readonly bytesOfId = new Map<number, Uint8Array>();
  private maxId = -1;

  /**
   * Builds a tokenizer from a vocabulary and merges held in memory; `sources` names where they came
   * from in error messages.
   *
   * @example
   * const tok = new models.GPT2Tokenizer({ vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'], eosToken: null, bosToken: null, unkToken: null });
   */
  constructor(opts: GPT2TokenizerOptions, sources: TokenizerSources = DEFAULT_SOURCES) {
    const op = 'GPT2Tokenizer';
    const vocab: ReadonlyMap<string, number> = opts.vocab instanceof Map ? opts.vocab : new Map(Object.entries(opts.vocab));
    if (vocab.size === 0) throw new TsgradError(op, `${sources.vocab}: the vocabulary is empty`);
    for (const [token, id] of vocab) {
      if (!Number.isInteger(id) || id < 0) throw new TsgradError(op, `${sources.vocab}: token '${token}' has id ${JSON.stringify(id)}; ids must be non-negative integers`);
      const other = this.idToToken.get(id);
      if (other !== undefined) throw new TsgradError(op, `${sources.vocab}: tokens '${other}' and '${token}' share id ${id}; each id must name one token`);
      this.idToToken.set(id, token);
      this.maxId = Math.max(this.maxId, id);
    }
    const merges = opts.merges.map((m, i) => {
      const pair: unknown = typeof m === 'string' ? m.split(' ') : m;
      if (!Array.isArray(pair) || pair.length !== 2 || pair.some((t) => typeof t !== 'string' || t === '')) {
        throw new TsgradError(op, `${sources.merge(i)} is ${JSON.stringify(m)}; a merge is two tokens separated by one space, 'a b', or a pair [a, b]`);
      }
      return pair as [string, string];
    });
    this.bpe = new BytePairEncoding(vocab, merges, sources.merge, { unkToken: opts.modelUnkToken ?? null, ignoreMerges: opts.ignoreMerges ?? false });
    this.vocabSize = vocab.size;
    this.addPrefixSpace = opts.addPrefixSpace ?? false;
    this.tokenToId = new Map(vocab);
    (opts.addedTokens ?? []).forEach((t, i) => {
      if (!Number.isInteger(t.id) || t.id < 0 || typeof t.content !== 'string' || t.content === '') {
        throw new TsgradError(op, `${sources.addedToken(i)} must have a non-negative integer id and non-empty content, got ${JSON.stringify(t)}`);
      }
      const flags = { special: t.special ?? false, lstrip: t.lstrip ?? false, rstrip: t.rstrip ?? false, normalized: t.normalized ?? false };
      this.addToken({ id: t.id, content: t.content, ...flags }, sources.addedToken(i));
    });
    const name = (key: 'unkToken' | 'bosToken' | 'eosToken' | 'padToken', fallback: string | null) => (opts[key] === undefined ? fallback : opts[key]);
    this.unkToken = name('unkToken', '<|endoftext|>');
    this.bosToken = name('bosToken', '<|endoftext|>');
    this.eosToken = name('eosToken', '<|endoftext|>');
    this.padToken = name('padToken', null);
    // transformers adds missing special tokens in this order, each at the next free id.
    for (const content of [this.bosToken, this.eosToken, this.unkToken, this.padToken]) {
      if (content === null || this.added.has(content)) continue;
      const id = this.tokenToId.get(content) ?? this.maxId + 1;
      this.addToken({ id, content, special: true, lstrip: false, rstrip: false, normalized: false }, `special token '${content}'`);
    }
    this.length = this.tokenToId.size;
    const pattern = (normalized: boolean) => {
      const tokens = [...this.added.values()].filter((t) => t.normalized === normalized).map((t) => t.content);
      // Longest first: at the leftmost match, the longest token wins, as in tokenizers.
      return tokens.length === 0 ? null : new RegExp(tokens.sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g');
    };
    this.addedPatterns = [pattern(false), pattern(true)].filter((p): p is RegExp => p !== null);
  }

  private addToken(t: AddedToken, where: string): void {
    const taken = this.idToToken.get(t.id);
    if (taken !== undefined && taken !== t.content) throw new TsgradError('GPT2Tokenizer', `${where}: added token '${t.content}' has id ${t.id}, which already names '${taken}'`);
    this.added.set(t.content, t);
    this.tokenToId.set(t.content, t.id);
    this.idToToken.set(t.id, t.content);
    this.maxId = Math.max(this.maxId, t.id);
    if (t.special) this.specialIds.add(t.id);
  }

  /**
   * Loads Hugging Face's tokenizer files from a folder (Node) or a base URL (browsers, by fetch):
   * `tokenizer.json`, or else `vocab.json` + `merges.txt`; `tokenizer_config.json` if present.
   *
   * @example
   * const tok = await models.GPT2Tokenizer.fromPretrained('gpt2-files');
   */
  static async fromPretrained(dir: string): Promise<GPT2Tokenizer> {
    const { files, name } = await readTokenizerFiles(dir);
    return GPT2Tokenizer.fromFiles(files, name);
  }

  /**
   * Builds a tokenizer from the files' contents, read however the caller likes (no file system).
   *
   * @example
   * const tok = models.GPT2Tokenizer.fromFiles({
   *   'vocab.json': await (await fetch('/gpt2/vocab.json')).text(),
   *   'merges.txt': await (await fetch('/gpt2/merges.txt')).text(),
   * });
   */
  static fromFiles(files: GPT2TokenizerFiles, name: FileNamer = (f) => f): GPT2Tokenizer {
    const spec = readTokenizerSpec(files, name);
    return new GPT2Tokenizer(spec, spec.sources);
  }

  /** The id of the unknown-text token, or null. */
  get unkTokenId(): number | null {
    return this.idOf(this.unkToken);
  }

  /** The id of the beginning-of-text token (50256 for GPT-2), or null. */
  get bosTokenId(): number | null {
    return this.idOf(this.bosToken);
  }

  /** The id of the end-of-text token (50256 for GPT-2), or null. */
  get eosTokenId(): number | null {
    return this.idOf(this.eosToken);
  }

  /** The id of the padding token, or null (GPT-2 has none). */
  get padTokenId(): number | null {
    return this.idOf(this.padToken);
  }

  private idOf(token: string | null): number | null {
    return token === null ? null : (this.tokenToId.get(token) ?? null);
  }

  /**
   * Token ids of `text`. Added tokens such as `<|endoftext|>` in the text become their ids, as in
   * transformers; a lone surrogate (which UTF-8 cannot hold) encodes as U+FFFD.
   *
   * @example
   * tok.encode("Hello world<|endoftext|>"); // [15496, 995, 50256]
   */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TsgradError('GPT2Tokenizer.encode', `text must be a string, got ${text === null ? 'null' : typeof text}`);
    const ids: number[] = [];
    for (const piece of this.splitAdded(text)) {
      if (typeof piece === 'number') {
        ids.push(piece);
        continue;
      }
      const prefixed = this.addPrefixSpace && !piece.startsWith(' ') ? ` ${piece}` : piece;
      for (const word of preSplit(prefixed)) this.bpe.encodeWord(word, ids);
    }
    return ids;
  }

  /** The text between added tokens, and the added tokens' ids. */
  private splitAdded(text: string): (string | number)[] {
    let pieces: (string | number)[] = [text];
    for (const pattern of this.addedPatterns) pieces = pieces.flatMap((p) => (typeof p === 'string' ? this.splitOn(p, pattern) : [p]));
    return pieces;
  }

  private splitOn(text: string, pattern: RegExp): (string | number)[] {
    const out: (string | number)[] = [];
    let done = 0;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      const token = this.added.get(m[0])!;
      let start = m.index;
      let stop = start + m[0].length;
      // lstrip/rstrip take the whitespace beside the match, not past an earlier match.
      if (token.lstrip) while (start > done && isWhitespace(text[start - 1])) start--;
      if (token.rstrip) while (isWhitespace(text[stop])) stop++;
      if (start > done) out.push(text.slice(done, start));
      out.push(token.id);
      done = stop;
      pattern.lastIndex = stop;
    }
    if (done < text.length) out.push(text.slice(done));
    return out;
  }

  /**
   * The tokens of `text`, spelled as in the vocabulary (a leading space is `Ġ`).
   *
   * @example
   * tok.tokenize('Hello world'); // ['Hello', 'Ġworld']
   */
  tokenize(text: string): string[] {
    return this.convertIdsToTokens(this.encode(text));
  }

  /**
   * The text of `ids`. Bytes are joined before they are read as UTF-8, so ids that split a
   * character still decode it whole; an incomplete or invalid sequence becomes U+FFFD, as in
   * Python's `errors='replace'`.
   *
   * @example
   * tok.decode([15496, 995, 50256], { skipSpecialTokens: true }); // 'Hello world'
   */
  decode(ids: readonly number[] | Int32Array, opts: { skipSpecialTokens?: boolean } = {}): string {
    this.checkIds('GPT2Tokenizer.decode', ids);
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const id of ids) {
      if (opts.skipSpecialTokens && this.specialIds.has(id)) continue;
      let bytes = this.bytesOfId.get(id);
      if (bytes === undefined) {
        bytes = tokenBytes(this.idToToken.get(id)!);
        this.bytesOfId.set(id, bytes);
      }
      parts.push(bytes);
      total += bytes.length;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return decodeUtf8(all);
  }

  private checkIds(op: string, ids: ArrayLike<number>): void {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') throw new TsgradError(op, `ids must be an array of token ids, got ${ids === null ? 'null' : typeof ids}`);
    for (let i = 0; i < ids.length; i++) {
      if (!this.idToToken.has(ids[i]!)) {
        throw new TsgradError(op, `ids[${i}] = ${ids[i]} is not a token id of this tokenizer (${this.length} tokens, ids 0..${this.maxId})`);
      }
    }
  }

  /**
   * The vocabulary entries of `ids`.
   *
   * @example
   * tok.convertIdsToTokens([15496, 995]); // ['Hello', 'Ġworld']
   */
  convertIdsToTokens(ids: readonly number[]): string[] {
    this.checkIds('GPT2Tokenizer.convertIdsToTokens', ids);
    return ids.map((id) => this.idToToken.get(id)!);
  }

  /**
   * The ids of vocabulary entries (spelled as `tokenize` returns them).
   *
   * @example
   * tok.convertTokensToIds(['Hello', 'Ġworld']); // [15496, 995]
   */
  convertTokensToIds(tokens: readonly string[]): number[] {
    const missing = tokens.filter((t) => !this.tokenToId.has(t));
    if (missing.length > 0) throw new TsgradError('GPT2Tokenizer.convertTokensToIds', `${missing.map((t) => `'${t}'`).join(', ')} ${missing.length === 1 ? 'is not a token' : 'are not tokens'} of this tokenizer; to turn text into ids, use encode`);
    return tokens.map((t) => this.tokenToId.get(t)!);
  }

  /**
   * Every token and its id, added tokens included (Hugging Face's `get_vocab()`).
   *
   * @example
   * tok.getVocab()['<|endoftext|>']; // 50256
   */
  getVocab(): Record<string, number> {
    return Object.fromEntries(this.tokenToId);
  }
}
