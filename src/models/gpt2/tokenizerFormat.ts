// Hugging Face's tokenizer files, read into one plain description of a GPT-2-style tokenizer:
// `vocab.json` + `merges.txt` (the original GPT-2 release), or `tokenizer.json` (the tokenizers
// library's format), with `tokenizer_config.json` naming the special tokens. Every check names the
// file, so a bad download is found at once; anything these files say that this tokenizer would not
// honour is refused rather than ignored.
import { TsgradError } from '../../core/errors.js';

const OP = 'GPT2Tokenizer';

/** The file contents a tokenizer is built from, by their Hugging Face file names. */
export interface GPT2TokenizerFiles {
  /** The tokenizers library's file; when given, vocab.json and merges.txt are not needed. */
  'tokenizer.json'?: string;
  /** Token → id, as JSON. */
  'vocab.json'?: string;
  /** One merge per line, `a b`, after an optional `#version` line. */
  'merges.txt'?: string;
  /**
   * Optional: `bos_token`, `eos_token`, `unk_token`, `pad_token`; beside vocab.json + merges.txt
   * also `add_prefix_space` and `added_tokens_decoder` (tokenizer.json holds those itself).
   */
  'tokenizer_config.json'?: string;
}

/** A token matched whole in text before BPE runs (Hugging Face's `AddedToken`). */
export interface AddedToken {
  /** Its id, which may be one the vocabulary gives the same text. */
  id: number;
  /** The exact text it matches. */
  content: string;
  /** Special tokens are the ones `decode(ids, { skipSpecialTokens: true })` leaves out. */
  special: boolean;
  /** Whether the match also takes the whitespace to its left. */
  lstrip: boolean;
  /** Whether the match also takes the whitespace to its right. */
  rstrip: boolean;
  /** Matched after normalization (GPT-2 has none, so only the matching order differs). */
  normalized: boolean;
}

/** Where a tokenizer's parts came from, for error messages (file names when read from files). */
export interface TokenizerSources {
  /** Where the vocabulary came from, e.g. `gpt2/vocab.json`. */
  vocab: string;
  /** Where merge `i` came from, e.g. `gpt2/merges.txt line 12`. */
  merge: (i: number) => string;
  /** Where added token `i` came from, e.g. `tokenizer.json added_tokens[0]`. */
  addedToken: (i: number) => string;
}

/** Everything a GPT2Tokenizer is made of, as read from the files. */
export interface GPT2TokenizerSpec {
  /** Token → id, checked by the tokenizer's constructor. */
  vocab: Record<string, number>;
  /** As in the file, checked by the tokenizer's constructor. */
  merges: (string | [string, string])[];
  /** Where each part came from, for error messages. */
  sources: TokenizerSources;
  addedTokens: AddedToken[];
  addPrefixSpace: boolean;
  unkToken: string | null;
  bosToken: string | null;
  eosToken: string | null;
  padToken: string | null;
  /** The BPE model's own unk token (tokenizer.json's model.unk_token). */
  modelUnkToken: string | null;
  ignoreMerges: boolean;
}

/** The source of the files, for error messages: a folder, a URL, or none (contents given directly). */
export type FileNamer = (name: keyof GPT2TokenizerFiles) => string;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TsgradError(OP, `${file} is not valid JSON (${(e as Error).message}); re-download it`);
  }
}

function readVocab(raw: unknown, file: string): Record<string, number> {
  if (!isObject(raw)) throw new TsgradError(OP, `${file}: the vocabulary must be a JSON object of token → id, got ${Array.isArray(raw) ? 'an array' : typeof raw}`);
  return raw as Record<string, number>;
}

/** merges.txt's merge lines ('a b', split and checked by the tokenizer), with their line numbers. */
function readMergesTxt(text: string): { merges: string[]; lines: number[] } {
  const all = text.split(/\r?\n/);
  const keep = all.map((line, i) => i).filter((i) => !all[i]!.startsWith('#version') && !(all[i] === '' && i === all.length - 1));
  return { merges: keep.map((i) => all[i]!), lines: keep.map((i) => i + 1) };
}

/** A special token's name in tokenizer_config.json: a string, an AddedToken object, or null. */
function tokenName(config: Record<string, unknown>, key: string, file: string, fallback: string | null): string | null {
  if (!(key in config)) return fallback;
  const v = config[key];
  if (v === null || typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  throw new TsgradError(OP, `${file}: ${key} must be a string, {"content": ...} or null, got ${JSON.stringify(v)}`);
}

/** tokenizer.json's `added_tokens` (a list), or tokenizer_config.json's `added_tokens_decoder` (id → token). */
function readAddedTokens(raw: unknown, file: string, key: 'added_tokens' | 'added_tokens_decoder'): AddedToken[] {
  if (raw === undefined) return [];
  const list = key === 'added_tokens' ? raw : isObject(raw) ? Object.entries(raw).map(([id, t]) => (isObject(t) ? { ...t, id: Number(id) } : t)) : raw;
  if (!Array.isArray(list)) throw new TsgradError(OP, `${file}: ${key} must be ${key === 'added_tokens' ? 'an array' : 'an object of id → token'}`);
  return list.map((t, i) => {
    const where = `${file}: ${key}[${key === 'added_tokens' ? i : JSON.stringify(Object.keys(raw as object)[i])}]`;
    if (!isObject(t)) throw new TsgradError(OP, `${where} must be an object, got ${JSON.stringify(t)}`);
    if (t.single_word === true) throw new TsgradError(OP, `${where} ('${t.content}') sets single_word, which GPT2Tokenizer does not support`);
    return { id: t.id as number, content: t.content as string, special: t.special === true, lstrip: t.lstrip === true, rstrip: t.rstrip === true, normalized: t.normalized === true };
  });
}

/** Refuses a tokenizer.json component that would change the ids in ways GPT-2's tokenizer does not. */
function checkPipeline(json: Record<string, unknown>, file: string): boolean {
  const refuse = (what: string, got: unknown) => new TsgradError(OP, `${file}: ${what} is ${JSON.stringify(got)}; GPT2Tokenizer reads byte-level BPE tokenizers (GPT-2's) only`);
  if (json.normalizer != null) throw refuse('the normalizer', json.normalizer);
  const pre = json.pre_tokenizer;
  if (!isObject(pre) || pre.type !== 'ByteLevel' || pre.use_regex === false) throw refuse('the pre_tokenizer', pre);
  const dec = json.decoder;
  if (dec != null && (!isObject(dec) || dec.type !== 'ByteLevel')) throw refuse('the decoder', dec);
  const post = json.post_processor;
  // TemplateProcessing that emits the sequence alone adds nothing; ByteLevel only trims offsets.
  const single = isObject(post) ? post.single : undefined;
  const addsNothing = post == null || (isObject(post) && (post.type === 'ByteLevel' || (post.type === 'TemplateProcessing' && Array.isArray(single) && single.length === 1 && isObject(single[0]) && 'Sequence' in single[0])));
  if (!addsNothing) throw new TsgradError(OP, `${file}: the post_processor ${JSON.stringify(post)} adds special tokens, which GPT2Tokenizer does not do`);
  return pre.add_prefix_space === true;
}

function readTokenizerJson(text: string, file: string): Omit<GPT2TokenizerSpec, 'unkToken' | 'bosToken' | 'eosToken' | 'padToken'> {
  const json = parseJson(text, file);
  if (!isObject(json)) throw new TsgradError(OP, `${file} must hold a JSON object`);
  const model = json.model;
  if (!isObject(model) || (model.type !== undefined && model.type !== 'BPE')) throw new TsgradError(OP, `${file}: model must be a BPE model, got ${isObject(model) ? `type ${JSON.stringify(model.type)}` : typeof model}`);
  const unsupported = ([
    ['dropout', model.dropout != null],
    ['continuing_subword_prefix', model.continuing_subword_prefix != null && model.continuing_subword_prefix !== ''],
    ['end_of_word_suffix', model.end_of_word_suffix != null && model.end_of_word_suffix !== ''],
    ['fuse_unk', model.fuse_unk === true],
    ['byte_fallback', model.byte_fallback === true],
  ] as const).filter(([, set]) => set).map(([name]) => name);
  if (unsupported.length > 0) throw new TsgradError(OP, `${file}: model sets ${unsupported.join(', ')}, which GPT-2's byte-level BPE does not use`);
  const addPrefixSpace = checkPipeline(json, file);
  if (!Array.isArray(model.merges)) throw new TsgradError(OP, `${file}: model.merges must be an array, got ${typeof model.merges}`);
  if (model.unk_token != null && typeof model.unk_token !== 'string') throw new TsgradError(OP, `${file}: model.unk_token must be a string or null`);
  return {
    vocab: readVocab(model.vocab, `${file} model.vocab`),
    merges: model.merges as GPT2TokenizerSpec['merges'],
    sources: { vocab: `${file} model.vocab`, merge: (i) => `${file} model.merges[${i}]`, addedToken: (i) => `${file} added_tokens[${i}]` },
    addedTokens: readAddedTokens(json.added_tokens, file, 'added_tokens'),
    addPrefixSpace,
    modelUnkToken: (model.unk_token as string | null | undefined) ?? null,
    ignoreMerges: model.ignore_merges === true,
  };
}

/**
 * Reads the tokenizer `files` into a spec; `name` gives each file's name for error messages
 * (its path when read from a folder).
 */
export function readTokenizerSpec(files: GPT2TokenizerFiles, name: FileNamer = (f) => f): GPT2TokenizerSpec {
  const configText = files['tokenizer_config.json'];
  const config = configText === undefined ? {} : parseJson(configText, name('tokenizer_config.json'));
  if (!isObject(config)) throw new TsgradError(OP, `${name('tokenizer_config.json')} must hold a JSON object`);
  const configFile = name('tokenizer_config.json');
  // GPT2Tokenizer's defaults: one token ends, begins and stands in for unknown text.
  const specials = {
    unkToken: tokenName(config, 'unk_token', configFile, '<|endoftext|>'),
    bosToken: tokenName(config, 'bos_token', configFile, '<|endoftext|>'),
    eosToken: tokenName(config, 'eos_token', configFile, '<|endoftext|>'),
    padToken: tokenName(config, 'pad_token', configFile, null),
  };
  if (files['tokenizer.json'] !== undefined) return { ...readTokenizerJson(files['tokenizer.json'], name('tokenizer.json')), ...specials };
  const vocabText = files['vocab.json'];
  const mergesText = files['merges.txt'];
  if (vocabText === undefined || mergesText === undefined) {
    const missing = (['vocab.json', 'merges.txt'] as const).filter((f) => files[f] === undefined).map(name);
    throw new TsgradError(OP, `needs tokenizer.json, or vocab.json and merges.txt; missing ${missing.join(' and ')}`);
  }
  const { merges, lines } = readMergesTxt(mergesText);
  const addedTokens = readAddedTokens(config.added_tokens_decoder, configFile, 'added_tokens_decoder');
  const prefix = config.add_prefix_space;
  if (prefix !== undefined && typeof prefix !== 'boolean') throw new TsgradError(OP, `${configFile}: add_prefix_space must be true or false`);
  return {
    vocab: readVocab(parseJson(vocabText, name('vocab.json')), name('vocab.json')),
    merges,
    sources: { vocab: name('vocab.json'), merge: (i) => `${name('merges.txt')} line ${lines[i]}`, addedToken: (i) => `${configFile} added_tokens_decoder[${JSON.stringify(addedTokens[i]?.id)}]` },
    addedTokens,
    addPrefixSpace: prefix ?? false,
    modelUnkToken: null,
    ignoreMerges: false,
    ...specials,
  };
}
