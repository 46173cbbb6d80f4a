// Node-only: files on disk. Every write is atomic (a temporary file in the same folder, fsync,
// rename), so a crash mid-write leaves the previous file intact. The only module that imports
// node:fs, so browser builds swap this one file.
import type { NonSharedBuffer } from 'node:buffer';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TsgradError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { Module } from '../nn/module.js';
import { type Checkpointable, decodeStateDict, encodeStateDict } from './checkpoint.js';
import { type AdapterFiles, type SaveAdapterOptions, loadAdapter, saveAdapter } from './peft.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

let counter = 0;

/**
 * Writes `data` to `path` so that readers see the old file or the new one, never a part:
 * the bytes go to a temporary file beside it, are fsynced, then renamed over `path`.
 *
 * @example
 * writeFileAtomic('out/config.json', JSON.stringify(config));
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx');
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 20));
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new TsgradError('writeFileAtomic', `could not write '${path}': ${(e as Error).message}`);
  }
  syncFolder(dirname(path));
}

/** Makes the rename itself durable; some platforms cannot open folders, and there it is skipped. */
function syncFolder(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Folders cannot be fsynced on every platform (Windows); the rename has still happened.
  } finally {
    closeSync(fd);
  }
}

function read(op: string, path: string): NonSharedBuffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TsgradError(op, `could not read '${path}': ${(e as Error).message}`);
  }
}

/**
 * Writes named tensors to a safetensors file, atomically.
 *
 * @example
 * await io.saveSafetensors('weights.safetensors', model.stateDict(), { format: 'pt' });
 */
export async function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  writeFileAtomic(path, await encodeSafetensors(tensors, metadata));
}

/**
 * Reads a safetensors file into tensors on the current (or the given) backend.
 *
 * @example
 * const { tensors, metadata } = io.loadSafetensors('weights.safetensors');
 */
export function loadSafetensors(path: string, opts: { backend?: string } = {}): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  return decodeSafetensors(read('loadSafetensors', path), opts);
}

/**
 * Saves a module's parameters or an optimizer's state (moments, step counts, hyperparameters)
 * to one safetensors file, atomically.
 *
 * @example
 * await io.saveStateDict('ckpt/model.safetensors', model);
 * await io.saveStateDict('ckpt/adam.safetensors', opt);
 */
export async function saveStateDict(path: string, target: Checkpointable): Promise<void> {
  writeFileAtomic(path, await encodeStateDict(target));
}

/**
 * Loads a file written by `saveStateDict` into a module or optimizer; a failed load changes nothing.
 *
 * @example
 * io.loadStateDict('ckpt/model.safetensors', model);
 * io.loadStateDict('ckpt/adam.safetensors', opt);
 */
export function loadStateDict(path: string, target: Checkpointable): void {
  decodeStateDict(read('loadStateDict', path), target);
}

/**
 * Writes the model's LoRA adapter as a PEFT adapter folder (`adapter_model.safetensors`,
 * `adapter_config.json`; see `saveAdapter`), which `PeftModel.from_pretrained(model, dir)` opens.
 *
 * @example
 * await io.saveAdapterDir(model, 'out/adapter', { taskType: 'CAUSAL_LM', baseModelNameOrPath: 'my-base' });
 */
export async function saveAdapterDir(model: Module, dir: string, opts: SaveAdapterOptions = {}): Promise<void> {
  const files = await saveAdapter(model, opts);
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files) as [keyof AdapterFiles, Uint8Array | string][]) writeFileAtomic(join(dir, name), data);
}

/**
 * Loads a PEFT adapter folder (from tsgrad or PEFT's `save_pretrained`) into `model`; see `loadAdapter`.
 *
 * @example
 * io.loadAdapterDir(model, 'out/adapter');
 */
export function loadAdapterDir(model: Module, dir: string): void {
  loadAdapter(model, {
    'adapter_model.safetensors': read('loadAdapterDir', join(dir, 'adapter_model.safetensors')),
    'adapter_config.json': read('loadAdapterDir', join(dir, 'adapter_config.json')).toString('utf8'),
  });
}
