// A model's or an optimizer's whole state as one safetensors file (platform-neutral bytes).
import { TsgradError, check } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { Module } from '../nn/module.js';
import { Optimizer, type OptimizerStateDict } from '../optim/optimizer.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

/** What a checkpoint holds: a module's parameters or an optimizer's state. */
export type Checkpointable = Module | Optimizer<object>;

const KIND = 'tsgrad.kind';
const GROUPS = 'tsgrad.paramGroups';
const NUMBERS = 'tsgrad.numbers';

function kindOf(op: string, target: Checkpointable): 'module' | 'optimizer' {
  if (target instanceof Module) return 'module';
  if (target instanceof Optimizer) return 'optimizer';
  throw new TsgradError(op, `expects an nn.Module or an optimizer, got ${(target as object)?.constructor?.name ?? typeof target}`);
}

/**
 * A module's parameters (its `stateDict()` keys) or an optimizer's state (moments by parameter
 * index, step counts and hyperparameters in the metadata) as safetensors bytes.
 *
 * @example
 * const bytes = await io.encodeStateDict(model);   // or an optimizer
 * io.decodeStateDict(bytes, freshModel);
 */
export async function encodeStateDict(target: Checkpointable): Promise<Uint8Array<ArrayBuffer>> {
  if (kindOf('encodeStateDict', target) === 'module') {
    return encodeSafetensors((target as Module).stateDict(), { [KIND]: 'module', format: 'pt' });
  }
  const dict = (target as Optimizer<object>).stateDict();
  const tensors: Record<string, Tensor> = {};
  const numbers: Record<string, Record<string, number>> = {};
  for (const [index, entry] of Object.entries(dict.state)) {
    numbers[index] = {};
    for (const [k, v] of Object.entries(entry)) {
      if (typeof v === 'number') numbers[index][k] = v;
      else tensors[`state.${index}.${k}`] = v;
    }
  }
  try {
    return await encodeSafetensors(tensors, { [KIND]: 'optimizer', [GROUPS]: JSON.stringify(dict.paramGroups), [NUMBERS]: JSON.stringify(numbers) });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** How deeply JSON text nests arrays and objects (brackets inside strings do not count). */
function nesting(text: string): number {
  let depth = 0, deepest = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return deepest;
}

function parseJson(name: string, text: string | undefined): unknown {
  check(text !== undefined, 'decodeStateDict', () => `the optimizer checkpoint lacks its '${name}' metadata; was it written by encodeStateDict?`);
  // What tsgrad writes is at most three levels deep; anything far deeper would only overflow the stack later.
  check(nesting(text) <= 16, 'decodeStateDict', () => `the checkpoint's '${name}' metadata nests deeper than 16 levels; encodeStateDict writes flat hyperparameters`);
  try {
    return JSON.parse(text);
  } catch {
    throw new TsgradError('decodeStateDict', `the checkpoint's '${name}' metadata is not valid JSON`);
  }
}

/**
 * Loads bytes from `encodeStateDict` into `target`. Everything is checked first (the kind of
 * checkpoint, keys, shapes, hyperparameters), so a failed call leaves `target` unchanged.
 *
 * @example
 * io.decodeStateDict(await io.encodeStateDict(opt), freshOptimizer);
 */
export function decodeStateDict(bytes: Uint8Array, target: Checkpointable): void {
  const want = kindOf('decodeStateDict', target);
  const { tensors, metadata } = decodeSafetensors(bytes);
  try {
    const kind = metadata[KIND];
    check(kind === want, 'decodeStateDict', () =>
      kind === undefined ? `the file has no '${KIND}' metadata, so it is not a tsgrad checkpoint; for plain tensors use decodeSafetensors`
        : `the file is a ${kind} checkpoint but the target is ${want === 'module' ? 'an nn.Module' : 'an optimizer'}`);
    if (want === 'module') {
      (target as Module).loadStateDict(tensors);
      return;
    }
    const groups = parseJson(GROUPS, metadata[GROUPS]);
    const numbers = parseJson(NUMBERS, metadata[NUMBERS]) as Record<string, Record<string, unknown>>;
    check(Array.isArray(groups) && groups.every((g) => g && typeof g === 'object' && Array.isArray(g.params)), 'decodeStateDict', () =>
      `the checkpoint's param groups are malformed`);
    check(numbers && typeof numbers === 'object' && !Array.isArray(numbers), 'decodeStateDict', () => `the checkpoint's step counts are malformed`);
    // Null-prototype entries: a state name from the file ('__proto__') must stay a plain key.
    const state: OptimizerStateDict<object>['state'] = Object.create(null);
    const isIndex = (s: string) => /^\d+$/.test(s) && String(Number(s)) === s;
    for (const [index, entry] of Object.entries(numbers)) {
      check(isIndex(index) && entry && typeof entry === 'object' && Number.isInteger(entry.step) && (entry.step as number) >= 0, 'decodeStateDict', () =>
        `the checkpoint's state for parameter ${index} has no valid step count`);
      check(Object.values(entry).every((v) => typeof v === 'number' && Number.isFinite(v)), 'decodeStateDict', () =>
        `the checkpoint's state for parameter ${index} holds a value that is not a finite number`);
      state[Number(index)] = Object.assign(Object.create(null), entry);
    }
    for (const [key, t] of Object.entries(tensors)) {
      const m = /^state\.(\d+)\.([A-Za-z0-9_]+)$/.exec(key);
      check(m && isIndex(m[1]!) && state[Number(m[1])], 'decodeStateDict', () => `unexpected tensor '${key}' in an optimizer checkpoint`);
      state[Number(m[1])]![m[2]!] = t;
    }
    (target as Optimizer<object>).loadStateDict({ state, paramGroups: groups as OptimizerStateDict<object>['paramGroups'] });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
