// GPT-2's Hugging Face files: config.json with model.safetensors, or with the sharded
// model.safetensors.index.json and its shards. Everything is checked (the config, every header,
// every key and shape) before a tensor is decoded or a model built.
import { initBackend, listBackends } from '../../core/backend.js';
import { TsgradError, check, fmt } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import { describeValue, isPlainObject } from '../../core/validate.js';
import { decodeSafetensors, encodeSafetensors, safetensorsHeader } from '../../io/safetensors.js';
import { GPT2Config } from './config.js';
import { readModelFile, writeModelFiles } from './files.js';

/** How `fromPretrained` builds the model. */
export interface FromPretrainedOptions {
  /** The backend the model lives on (the current one by default); initialised if it is not yet. */
  backend?: string;
  /**
   * The parameters' dtype: float32 (default; F16 and BF16 files widen to it) or float64; or
   * float16/bfloat16, a frozen base for adapters (see docs/half-precision.md): a file of that
   * dtype is kept as stored, others are rounded to it.
   */
  dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16';
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const FLOAT_FILE_DTYPES = new Set(['F32', 'F64', 'F16', 'BF16']);
/** Non-persistent buffers older checkpoints carry (the causal mask); transformers ignores them too. */
const IGNORED = /^(?:transformer\.)?h\.\d+\.(?:attn|crossattention)\.(?:bias|masked_bias)$/;

/**
 * The parameters a GPT2LMHeadModel of `config` holds, by state-dict name, with their shapes
 * (lm_head.weight only when it is not tied to wte).
 *
 * @example
 * gpt2StateShapes(config).get('transformer.h.0.attn.c_attn.weight'); // [768, 2304]
 */
export function gpt2StateShapes(c: GPT2Config): Map<string, number[]> {
  const C = c.nEmbd;
  const shapes = new Map<string, number[]>([['transformer.wte.weight', [c.vocabSize, C]], ['transformer.wpe.weight', [c.nPositions, C]]]);
  for (let i = 0; i < c.nLayer; i++) {
    const p = `transformer.h.${i}`;
    const layers: [string, number[]][] = [
      ['ln_1.weight', [C]], ['ln_1.bias', [C]],
      ['attn.c_attn.weight', [C, 3 * C]], ['attn.c_attn.bias', [3 * C]], ['attn.c_proj.weight', [C, C]], ['attn.c_proj.bias', [C]],
      ['ln_2.weight', [C]], ['ln_2.bias', [C]],
      ['mlp.c_fc.weight', [C, c.innerDim]], ['mlp.c_fc.bias', [c.innerDim]], ['mlp.c_proj.weight', [c.innerDim, C]], ['mlp.c_proj.bias', [C]],
    ];
    for (const [name, shape] of layers) shapes.set(`${p}.${name}`, shape);
  }
  shapes.set('transformer.ln_f.weight', [C]).set('transformer.ln_f.bias', [C]);
  if (!c.tieWordEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, C]);
  return shapes;
}

/** A checkpoint key as GPT2LMHeadModel names it: the hub's `gpt2` saves GPT2Model's keys, without `transformer.`. */
function canonical(name: string): string {
  return name.startsWith('transformer.') || name === 'lm_head.weight' ? name : `transformer.${name}`;
}

function parseJson(op: string, bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new TsgradError(op, `${file} is not valid JSON (${(e as Error).message})`);
  }
}

/** The weight files of `dir` with their bytes: model.safetensors, or the shards the index lists. */
async function weightFiles(op: string, dir: string): Promise<{ file: string; bytes: Uint8Array; keys: Set<string> | null }[]> {
  const single = await readModelFile(op, dir, SINGLE);
  if (single) return [{ file: SINGLE, bytes: single, keys: null }];
  const indexBytes = await readModelFile(op, dir, INDEX);
  check(indexBytes, op, () => `'${dir}' holds neither ${SINGLE} nor ${INDEX}; only safetensors weights are read (save with transformers' save_pretrained, which writes them)`);
  const index = parseJson(op, indexBytes, INDEX);
  const map = isPlainObject(index) ? index.weight_map : undefined;
  check(isPlainObject(map) && Object.values(map).every((f) => typeof f === 'string' && /^[^/\\]+$/.test(f) && f !== '..'), op, () =>
    `${INDEX} must hold a weight_map from tensor names to shard file names in the same folder`);
  const byShard = new Map<string, Set<string>>();
  for (const [key, shard] of Object.entries(map as Record<string, string>)) {
    if (!byShard.has(shard)) byShard.set(shard, new Set());
    byShard.get(shard)!.add(key);
  }
  const files = [];
  for (const [file, keys] of byShard) {
    const bytes = await readModelFile(op, dir, file);
    check(bytes, op, () => `${INDEX} lists the shard '${file}', which is not in '${dir}'`);
    files.push({ file, bytes, keys });
  }
  return files;
}

/**
 * Reads and checks a GPT-2 folder, then decodes its weights: the config and the state dict by
 * GPT2LMHeadModel's names (tensors the caller owns). Refuses, naming the key or field, a config
 * the model cannot build and a missing, unexpected, duplicated, misshapen or non-float tensor.
 */
export async function readGPT2Checkpoint(op: string, dir: string, opts: FromPretrainedOptions): Promise<{ config: GPT2Config; state: Record<string, Tensor> }> {
  check(typeof dir === 'string' && dir.length > 0, op, () => `expects the model's folder as a string, got ${describeValue(dir)}`);
  check(isPlainObject(opts as unknown), op, () => `options must be an object such as { dtype: 'float32' }, got ${describeValue(opts)}`);
  check(opts.backend === undefined || typeof opts.backend === 'string', op, () => `backend must be a backend's name, got ${describeValue(opts.backend)}`);
  check(opts.dtype === undefined || ['float32', 'float64', 'float16', 'bfloat16'].includes(opts.dtype), op, () =>
    `dtype must be 'float32', 'float64', 'float16' or 'bfloat16', got ${describeValue(opts.dtype)}`);
  check(opts.backend === undefined || listBackends().includes(opts.backend), op, () => `unknown backend '${opts.backend}'; registered: ${listBackends().join(', ')}`);
  if (opts.backend) await initBackend(opts.backend);
  const configBytes = await readModelFile(op, dir, 'config.json');
  check(configBytes, op, () => `'${dir}' has no config.json; a Hugging Face model folder holds config.json beside its weights`);
  const config = GPT2Config.fromJSON(parseJson(op, configBytes, 'config.json'));
  const expected = gpt2StateShapes(config);

  const files = await weightFiles(op, dir);
  const found = new Map<string, string>(); // canonical name → file
  const wanted: { file: string; name: string; key: string }[] = [];
  for (const { file, bytes, keys } of files) {
    let header;
    try {
      header = safetensorsHeader(bytes);
    } catch (e) {
      if (e instanceof TsgradError) throw new TsgradError(op, `${file}: ${e.message.slice(e.op.length + 2)}`);
      throw e;
    }
    for (const { name, dtype, shape } of header.tensors) {
      check(!keys || keys.has(name), op, () => `'${name}' is in ${file} but ${INDEX} does not list it there`);
      keys?.delete(name);
      if (IGNORED.test(name)) continue;
      const key = canonical(name);
      check(!found.has(key), op, () => `'${name}' in ${file} and another tensor in ${found.get(key)} are both '${key}'; a checkpoint holds each weight once`);
      found.set(key, file);
      const tiedHead = key === 'lm_head.weight' && config.tieWordEmbeddings;
      const want = tiedHead ? [config.vocabSize, config.nEmbd] : expected.get(key);
      check(want, op, () => `unexpected tensor '${name}' in ${file}: a GPT2LMHeadModel of this config has no such weight`);
      check(shape.length === want.length && shape.every((d, i) => d === want[i]), op, () =>
        `'${name}' in ${file} has shape ${fmt(shape)} but config.json (n_embd ${config.nEmbd}, vocab_size ${config.vocabSize}, n_positions ${config.nPositions}) needs ${fmt(want)}`);
      check(FLOAT_FILE_DTYPES.has(dtype), op, () => `'${name}' in ${file} is ${dtype}; weights must be F32, F64, F16 or BF16`);
      // A tied head is wte itself, as in transformers: the file's copy is not loaded.
      if (!tiedHead) wanted.push({ file, name, key });
    }
    const listed = keys && [...keys][0];
    check(!listed, op, () => `${INDEX} lists '${listed}' in ${file}, which does not hold it`);
  }
  const missing = [...expected.keys()].filter((k) => !found.has(k));
  check(missing.length === 0, op, () =>
    `missing ${missing.length === 1 ? 'weight' : 'weights'} ${missing.slice(0, 5).map((k) => `'${k}'`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} for a ${config.nLayer}-layer GPT-2`);

  const state: Record<string, Tensor> = {};
  try {
    for (const { file, bytes } of files) {
      // A 16-bit model keeps 16-bit files as stored (copying them in rounds nothing).
      const { tensors } = decodeSafetensors(bytes, { keepHalf: opts.dtype === 'float16' || opts.dtype === 'bfloat16' });
      for (const w of wanted.filter((x) => x.file === file)) {
        state[w.key] = tensors[w.name]!;
        delete tensors[w.name];
      }
      for (const t of Object.values(tensors)) t.dispose();
    }
  } catch (e) {
    for (const t of Object.values(state)) t.dispose();
    throw e;
  }
  return { config, state };
}

/**
 * Writes config.json and model.safetensors (keys `transformer.*`, and `lm_head.weight` only when
 * untied, as transformers' `save_pretrained` does) after checking that `state` is exactly
 * GPT-2's parameters.
 */
export async function writeGPT2Checkpoint(op: string, dir: string, config: GPT2Config, state: Record<string, Tensor>): Promise<void> {
  check(typeof dir === 'string' && dir.length > 0, op, () => `expects a folder path as a string, got ${describeValue(dir)}`);
  const expected = gpt2StateShapes(config);
  const extra = Object.keys(state).find((k) => !expected.has(k));
  check(!extra, op, () =>
    `the model holds '${extra}', which a GPT-2 checkpoint has no place for; merge LoRA layers into their base first, or save the adapter with io.saveAdapterDir`);
  const missing = [...expected.keys()].find((k) => !(k in state));
  check(!missing, op, () => `the model lacks '${missing}'`);
  const weights = await encodeSafetensors(state, { format: 'pt' });
  const json = { ...config.toJSON(), dtype: Object.values(state)[0]!.dtype };
  await writeModelFiles(op, dir, { 'config.json': `${JSON.stringify(json, null, 2)}\n`, [SINGLE]: weights });
}
