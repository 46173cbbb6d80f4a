// Node-only: a tokenizer's files from a folder. tokenizerFiles.browser.ts fetches them from a URL
// instead, and the browser build swaps it in (scripts/browser-twins.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsgradError } from '../../core/errors.js';
import type { FileNamer, GPT2TokenizerFiles } from './tokenizerFormat.js';

const NAMES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json'] as const;

/**
 * The tokenizer files found in folder `dir` (tokenizer.json, vocab.json, merges.txt,
 * tokenizer_config.json), and a namer that gives each file's path for error messages.
 *
 * @example
 * const { files } = await readTokenizerFiles('gpt2-files');
 */
export async function readTokenizerFiles(dir: string): Promise<{ files: GPT2TokenizerFiles; name: FileNamer }> {
  const op = 'GPT2Tokenizer.fromPretrained';
  if (typeof dir !== 'string') throw new TsgradError(op, `dir must be a folder's path, got ${dir === null ? 'null' : typeof dir}`);
  if (!existsSync(dir)) throw new TsgradError(op, `folder '${dir}' does not exist`);
  const files: GPT2TokenizerFiles = {};
  for (const name of NAMES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    try {
      files[name] = readFileSync(path, 'utf8');
    } catch (e) {
      throw new TsgradError(op, `could not read '${path}': ${(e as Error).message}`);
    }
  }
  if (files['tokenizer.json'] === undefined && (files['vocab.json'] === undefined || files['merges.txt'] === undefined)) {
    const missing = (['vocab.json', 'merges.txt'] as const).filter((f) => files[f] === undefined);
    throw new TsgradError(op, `'${dir}' has no tokenizer.json, and no ${missing.join(' or ')}; a GPT-2 tokenizer needs tokenizer.json, or vocab.json and merges.txt`);
  }
  return { files, name: (f) => join(dir, f) };
}
