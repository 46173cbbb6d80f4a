// GPT2Tokenizer's inputs: files that are missing, malformed or inconsistent are refused with a
// TsgradError naming the file (and line); the browser's loader fetches the same files from a URL;
// the same tokenizer can be built from contents or objects in memory, with no file system.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsgradError, models } from '../../src/index.js';
import { readTokenizerFiles as fetchTokenizerFiles } from '../../src/models/gpt2/tokenizerFiles.browser.js';
import { errorOf } from '../errorOf.js';

const { GPT2Tokenizer } = models;
const tmp = mkdtempSync(join(tmpdir(), 'tsgrad-gpt2-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** encoder.py's bytes_to_unicode, restated: the character that spells each byte. */
const byteChars = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(printable(b) ? b : 256 + n++));
})();

/** A tiny byte-level vocabulary: the 256 byte tokens, then 'Ġt', 'he', 'Ġthe', and <|endoftext|>. */
const VOCAB: Record<string, number> = Object.fromEntries([...byteChars, 'Ġt', 'he', 'Ġthe', '<|endoftext|>'].map((t, i) => [t, i]));
const MERGES = '#version: 0.2\nĠ t\nh e\nĠt he\n';

/** Writes `files` (name → content) into a new folder. */
function folder(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

const good = () => ({ 'vocab.json': JSON.stringify(VOCAB), 'merges.txt': MERGES });

/** tokenizer.json as the tokenizers library writes it, for the tiny vocabulary. */
function tokenizerJson(edit: (json: Record<string, any>) => void = () => {}): string {
  const json: Record<string, any> = {
    version: '1.0',
    added_tokens: [{ id: 259, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: VOCAB, merges: [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he']] },
  };
  edit(json);
  return JSON.stringify(json);
}

async function rejection(p: Promise<unknown>): Promise<TsgradError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TsgradError) return e;
    throw new Error(`expected a TsgradError, got ${(e as Error).name}: ${(e as Error).message}`);
  }
  throw new Error('expected a TsgradError, but the call resolved');
}

describe('GPT2Tokenizer loads', () => {
  it('vocab.json + merges.txt, tokenizer.json, contents and objects alike', async () => {
    // Words 'the', ' ', ' other', '\t', 'the', ' the'; only ' the' merges fully; é is two bytes.
    const text = 'the  other\tthe the<|endoftext|>é';
    const want = [116, 257, 32, 32, 111, 116, 257, 114, 9, 116, 257, 258, 259, 195, 169];
    const toks = [
      await GPT2Tokenizer.fromPretrained(folder('plain', good())),
      await GPT2Tokenizer.fromPretrained(folder('json', { 'tokenizer.json': tokenizerJson() })),
      GPT2Tokenizer.fromFiles(good()),
      GPT2Tokenizer.fromFiles({ 'tokenizer.json': tokenizerJson((j) => (j.model.merges = ['Ġ t', 'h e', 'Ġt he'])) }),
      new GPT2Tokenizer({ vocab: VOCAB, merges: ['Ġ t', 'h e', ['Ġt', 'he']] }),
      new GPT2Tokenizer({ vocab: new Map(Object.entries(VOCAB)), merges: [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he']] }),
    ];
    for (const tok of toks) {
      expect(tok.encode(text)).toEqual(want);
      expect(tok.decode(want)).toBe(text);
    }
    expect(toks[0]!.tokenize(text)).toEqual(['t', 'he', 'Ġ', 'Ġ', 'o', 't', 'he', 'r', 'ĉ', 't', 'he', 'Ġthe', '<|endoftext|>', 'Ã', '©']);
  });

  it('added tokens given in memory, matched literally whatever characters they hold', () => {
    const addedTokens = [{ id: 260, content: 'a-b.*(c)' }, { id: 261, content: '[x]|\\', normalized: undefined }, { id: 262, content: 'a-b', special: true }];
    const tok = new GPT2Tokenizer({ vocab: VOCAB, merges: ['Ġ t', 'h e', 'Ġt he'], addedTokens });
    expect(tok.encode('za-b.*(c)[x]|\\ a-b')).toEqual([122, 260, 261, 32, 262]);
    expect(tok.decode([260, 261, 262], { skipSpecialTokens: true })).toBe('a-b.*(c)[x]|\\');
  });

  it("a model's ignore_merges: a word the vocabulary has whole is one token (ids from tokenizers 0.23)", () => {
    const vocab = { ...VOCAB, xyz: 260 };
    const tok = (ignore: boolean) => GPT2Tokenizer.fromFiles({ 'tokenizer.json': tokenizerJson((j) => ((j.model.vocab = vocab), (j.model.ignore_merges = ignore))) });
    expect(tok(true).encode('xyz xyz')).toEqual([260, 32, 120, 121, 122]);
    expect(tok(false).encode('xyz xyz')).toEqual([120, 121, 122, 32, 120, 121, 122]);
  });

  it('a tokenizer_config.json naming other special tokens, which are added at the next free ids', async () => {
    const config = JSON.stringify({ eos_token: { content: '</s>' }, bos_token: '<s>', unk_token: null, pad_token: '<|endoftext|>' });
    const tok = await GPT2Tokenizer.fromPretrained(folder('config', { ...good(), 'tokenizer_config.json': config }));
    expect([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId, tok.padTokenId]).toEqual([260, 261, null, 259]);
    expect(tok.encode('a</s>')).toEqual([...tok.encode('a'), 261]);
    expect(tok.decode([260, 97, 261], { skipSpecialTokens: true })).toBe('a');
    expect(tok.decode([260, 97, 261])).toBe('<s>a</s>');
  });

  it('a model unk_token for bytes the vocabulary lacks (ids from tokenizers 0.23); without one, such text is refused', () => {
    const vocab = { ...VOCAB };
    delete vocab[byteChars[0xa9]!];
    const withUnk = GPT2Tokenizer.fromFiles({ 'tokenizer.json': tokenizerJson((j) => ((j.model.vocab = vocab), (j.model.unk_token = '<|endoftext|>'))) });
    expect(withUnk.encode('aé')).toEqual([97, 195, 259]);
    const without = GPT2Tokenizer.fromFiles({ 'vocab.json': JSON.stringify(vocab), 'merges.txt': MERGES });
    expect(errorOf(() => without.encode('aé')).message).toMatch(/byte 0xa9 of 'aé' has no token \('©'\).*no unk_token/);
  });
});

describe('GPT2Tokenizer refuses bad files, naming them', () => {
  it('a missing folder or missing files', async () => {
    expect((await rejection(GPT2Tokenizer.fromPretrained(join(tmp, 'nowhere')))).message).toContain(`folder '${join(tmp, 'nowhere')}' does not exist`);
    expect((await rejection(GPT2Tokenizer.fromPretrained(folder('empty', {})))).message).toMatch(/has no tokenizer\.json, and no vocab\.json or merges\.txt/);
    const onlyVocab = folder('only-vocab', { 'vocab.json': good()['vocab.json'] });
    expect((await rejection(GPT2Tokenizer.fromPretrained(onlyVocab))).message).toMatch(/has no tokenizer\.json, and no merges\.txt;/);
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ 'merges.txt': MERGES })).message).toMatch(/missing vocab\.json$/);
  });

  it('malformed JSON', async () => {
    for (const file of ['vocab.json', 'tokenizer.json', 'tokenizer_config.json']) {
      const dir = folder(`bad-${file}`, { ...good(), [file]: '{"a": 1,' });
      const e = await rejection(GPT2Tokenizer.fromPretrained(dir));
      expect(e.op).toBe('GPT2Tokenizer');
      expect(e.message).toContain(`${join(dir, file)} is not valid JSON`);
    }
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ ...good(), 'vocab.json': '["a"]' })).message).toMatch(/vocab\.json: the vocabulary must be a JSON object of token → id, got an array/);
  });

  it('a merge naming a token the vocabulary lacks, with the line', async () => {
    const dir = folder('bad-merge', { ...good(), 'merges.txt': '#version: 0.2\nĠ t\nh zz\n' });
    const e = await rejection(GPT2Tokenizer.fromPretrained(dir));
    expect(e.message).toBe(`GPT2Tokenizer: ${join(dir, 'merges.txt')} line 3: the merge 'h zz' names the token 'zz', which the vocabulary does not have; the vocabulary and merges must come from the same tokenizer`);
    // Both parts known, the merged token not.
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ ...good(), 'merges.txt': 'a b\n' })).message).toMatch(/merges\.txt line 1: the merge 'a b' names the merged token 'ab'/);
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ ...good(), 'merges.txt': 'Ġ t\nh e x\n' })).message).toMatch(/merges\.txt line 2 is "h e x"; a merge is two tokens separated by one space, 'a b', or a pair \[a, b\]/);
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ 'tokenizer.json': tokenizerJson((j) => j.model.merges.push(['Ġthe', 'q!'])) })).message).toMatch(/tokenizer\.json model\.merges\[3\]: the merge 'Ġthe q!' names the token 'q!'/);
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ 'tokenizer.json': tokenizerJson((j) => j.model.merges.push('a')) })).message).toMatch(/tokenizer\.json model\.merges\[3\] is "a"; a merge is two tokens/);
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ 'tokenizer.json': tokenizerJson((j) => j.model.merges.push(null)) })).message).toMatch(/tokenizer\.json model\.merges\[3\] is null; a merge is two tokens/);
  });

  it('bad ids in the vocabulary or the added tokens', () => {
    const dup = JSON.stringify({ ...VOCAB, extra: 5 });
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ ...good(), 'vocab.json': dup })).message).toMatch(/vocab\.json: tokens '.' and 'extra' share id 5/);
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ ...good(), 'vocab.json': JSON.stringify({ ...VOCAB, x: -1 }) })).message).toMatch(/vocab\.json: token 'x' has id -1; ids must be non-negative integers/);
    const clash = tokenizerJson((j) => j.added_tokens.push({ id: 3, content: '<x>', special: true }));
    expect(errorOf(() => GPT2Tokenizer.fromFiles({ 'tokenizer.json': clash })).message).toContain(`tokenizer.json added_tokens[1]: added token '<x>' has id 3, which already names '${byteChars[3]}'`);
  });

  it('tokenizer.json settings it would not honour', () => {
    const refused: [(j: Record<string, any>) => void, RegExp][] = [
      [(j) => (j.normalizer = { type: 'NFC' }), /the normalizer is \{"type":"NFC"\}; GPT2Tokenizer reads byte-level BPE tokenizers/],
      [(j) => (j.model.type = 'WordPiece'), /model must be a BPE model, got type "WordPiece"/],
      [(j) => (j.pre_tokenizer = { type: 'Whitespace' }), /the pre_tokenizer is \{"type":"Whitespace"\}/],
      [(j) => (j.model.dropout = 0.1), /model sets dropout, which GPT-2's byte-level BPE does not use/],
      [(j) => (j.post_processor = { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>' } }, { Sequence: { id: 'A' } }] }), /the post_processor .* adds special tokens/],
      [(j) => (j.added_tokens[0].single_word = true), /added_tokens\[0\] \('<\|endoftext\|>'\) sets single_word, which GPT2Tokenizer does not support/],
    ];
    for (const [edit, message] of refused) expect(errorOf(() => GPT2Tokenizer.fromFiles({ 'tokenizer.json': tokenizerJson(edit) })).message).toMatch(message);
  });
});

describe('GPT2Tokenizer refuses bad calls', () => {
  const tok = GPT2Tokenizer.fromFiles(good());

  it('decode of ids it does not have, naming the first', () => {
    expect(errorOf(() => tok.decode([1, 2, 260])).message).toBe('GPT2Tokenizer.decode: ids[2] = 260 is not a token id of this tokenizer (260 tokens, ids 0..259)');
    expect(errorOf(() => tok.decode([1.5])).message).toMatch(/ids\[0\] = 1\.5 is not a token id/);
    expect(errorOf(() => tok.decode([-1])).message).toMatch(/ids\[0\] = -1 is not a token id/);
    expect(errorOf(() => tok.decode(7 as unknown as number[])).message).toMatch(/ids must be an array of token ids, got number/);
    expect(tok.decode(Int32Array.from([258, 259]))).toBe(' the<|endoftext|>');
  });

  it('encode of a non-string, and tokens that are not in the vocabulary', () => {
    expect(errorOf(() => tok.encode(undefined as unknown as string)).message).toBe('GPT2Tokenizer.encode: text must be a string, got undefined');
    expect(errorOf(() => tok.convertTokensToIds(['Ġthe', 'Ġcat'])).message).toMatch(/'Ġcat' is not a token of this tokenizer; to turn text into ids, use encode/);
  });
});

describe("GPT2Tokenizer's browser loader fetches the files from a URL", () => {
  let server: Server;
  let base = '';
  const status = new Map<string, number>();
  beforeAll(async () => {
    const root = folder('served', {});
    folder('served/plain', good());
    folder('served/json', { 'tokenizer.json': tokenizerJson(), 'tokenizer_config.json': JSON.stringify({ pad_token: '<|endoftext|>' }) });
    folder('served/half', { 'vocab.json': good()['vocab.json'] });
    server = createServer((req, res) => {
      const forced = status.get(req.url!);
      if (forced) return void res.writeHead(forced).end();
      let body: Buffer;
      try {
        body = readFileSync(join(root, req.url!));
      } catch {
        return void res.writeHead(404).end();
      }
      res.writeHead(200).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('tokenizer.json when the server has it, else vocab.json + merges.txt, as in Node', async () => {
    const node = await GPT2Tokenizer.fromPretrained(folder('node', good()));
    const fromJson = await fetchTokenizerFiles(`${base}/json/`);
    expect(Object.keys(fromJson.files).sort()).toEqual(['tokenizer.json', 'tokenizer_config.json']);
    expect(GPT2Tokenizer.fromFiles(fromJson.files, fromJson.name).padTokenId).toBe(259);
    const plain = await fetchTokenizerFiles(`${base}/plain`);
    expect(Object.keys(plain.files).sort()).toEqual(['merges.txt', 'vocab.json']);
    for (const { files, name } of [fromJson, plain]) expect(GPT2Tokenizer.fromFiles(files, name).encode('the other')).toEqual(node.encode('the other'));
  });

  it('says which files are missing, or which request failed, by URL', async () => {
    expect((await rejection(fetchTokenizerFiles(`${base}/half`))).message).toMatch(/'http:\/\/127\.0\.0\.1:\d+\/half' has no tokenizer\.json, and no merges\.txt \(HTTP 404\)/);
    status.set('/plain/merges.txt', 500);
    expect((await rejection(fetchTokenizerFiles(`${base}/plain`))).message).toMatch(/fetching 'http:\/\/127\.0\.0\.1:\d+\/plain\/merges\.txt' failed: HTTP 500/);
    status.clear();
    const bad = await fetchTokenizerFiles(`${base}/plain`);
    bad.files['merges.txt'] = 'Ġ zz\n';
    expect(errorOf(() => GPT2Tokenizer.fromFiles(bad.files, bad.name)).message).toMatch(/http:\/\/127\.0\.0\.1:\d+\/plain\/merges\.txt line 1: the merge 'Ġ zz'/);
  });
});
