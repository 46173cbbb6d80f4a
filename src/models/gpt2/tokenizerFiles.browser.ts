// The browser's twin of tokenizerFiles.ts: pages have no file system, so `dir` is a base URL (or a
// path on the page's own server) and the files are fetched from it.
import { TsgradError } from '../../core/errors.js';
import type { FileNamer, GPT2TokenizerFiles } from './tokenizerFormat.js';

/** Fetches `${base}/${name}`, or gives undefined when the server answers 404. */
async function fetchText(url: string): Promise<string | undefined> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new TsgradError('GPT2Tokenizer.fromPretrained', `could not fetch '${url}': ${(e as Error).message}`);
  }
  if (res.status === 404) return undefined;
  if (!res.ok) throw new TsgradError('GPT2Tokenizer.fromPretrained', `fetching '${url}' failed: HTTP ${res.status} ${res.statusText}`);
  return res.text();
}

/**
 * The tokenizer files under the URL `dir`: tokenizer.json, or else vocab.json and merges.txt, and
 * tokenizer_config.json when the server has it.
 *
 * @example
 * const { files } = await readTokenizerFiles('/models/gpt2');
 */
export async function readTokenizerFiles(dir: string): Promise<{ files: GPT2TokenizerFiles; name: FileNamer }> {
  if (typeof dir !== 'string') throw new TsgradError('GPT2Tokenizer.fromPretrained', `dir must be a URL, got ${dir === null ? 'null' : typeof dir}`);
  const name: FileNamer = (f) => `${dir.replace(/\/+$/, '')}/${f}`;
  const files: GPT2TokenizerFiles = {};
  const [json, configText] = await Promise.all([fetchText(name('tokenizer.json')), fetchText(name('tokenizer_config.json'))]);
  if (json !== undefined) files['tokenizer.json'] = json;
  else {
    const [vocab, merges] = await Promise.all([fetchText(name('vocab.json')), fetchText(name('merges.txt'))]);
    if (vocab === undefined || merges === undefined) {
      const missing = [vocab === undefined && 'vocab.json', merges === undefined && 'merges.txt'].filter(Boolean).join(' or ');
      throw new TsgradError('GPT2Tokenizer.fromPretrained', `'${dir}' has no tokenizer.json, and no ${missing} (HTTP 404); a GPT-2 tokenizer needs tokenizer.json, or vocab.json and merges.txt`);
    }
    files['vocab.json'] = vocab;
    files['merges.txt'] = merges;
  }
  if (configText !== undefined) files['tokenizer_config.json'] = configText;
  return { files, name };
}
