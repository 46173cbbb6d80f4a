// Node-only: files on disk. Every write is atomic (a temporary file in the same folder, fsync,
// rename), so a crash mid-write leaves the previous file intact. The only module that imports
// node:fs, so browser builds swap this one file.
import type { NonSharedBuffer } from 'node:buffer';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TsgradError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { Module } from '../nn/module.js';
import { type Checkpointable, decodeStateDict, encodeStateDict } from './checkpoint.js';
import { type AdapterFiles, type SaveAdapterOptions, loadAdapter, saveAdapter } from './peft.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

let counter = 0;

/**
 * Writes `bytes` to a new temporary file beside `path` (`.<name>.<pid>.<n>.tmp`) and fsyncs it.
 * It gets the permissions of the file it will replace, from its creation on, so a 0600 file
 * stays 0600 and its new contents are never readable by others in between.
 */
function writeTemp(op: string, path: string, bytes: Uint8Array): string {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  let mode: number | undefined;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    mode = undefined; // a new file: the process's umask decides, as for any new file
  }
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', mode ?? 0o666);
    if (mode !== undefined) fchmodSync(fd, mode); // the umask may have cleared some of its bits
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 20));
    fsyncSync(fd);
    closeSync(fd);
    return tmp;
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new TsgradError(op, `could not write '${path}': ${(e as Error).message}`);
  }
}

/** Renames a finished temporary file over `path`. */
function install(op: string, tmp: string, path: string): void {
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new TsgradError(op, `could not write '${path}': ${(e as Error).message}`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, another user's
  }
}

/**
 * Removes temporary files that killed writers left beside `path`: only names of exactly our
 * pattern, and only those whose writer's process is gone, so a live writer's file (another
 * process's, or this one's) is never touched. Best effort: a folder that cannot be listed
 * keeps its strays, and the save has already succeeded.
 */
function removeStrays(path: string): void {
  const name = basename(path);
  let files: string[];
  try {
    files = readdirSync(dirname(path));
  } catch {
    return;
  }
  const prefix = `.${name}.`;
  for (const f of files) {
    const m = f.startsWith(prefix) ? /^(\d+)\.\d+\.tmp$/.exec(f.slice(prefix.length)) : null;
    const pid = m ? Number(m[1]) : 0;
    if (pid > 0 && pid !== process.pid && !isAlive(pid)) rmSync(join(dirname(path), f), { force: true });
  }
}

/**
 * Writes `data` to `path` so that readers see the old file or the new one, never a part: the
 * bytes go to a temporary file beside it, are fsynced, then renamed over `path`. The new file
 * keeps the permissions of the one it replaces, and temporary files left beside `path` by
 * writers that were killed are removed.
 *
 * @example
 * writeFileAtomic('out/config.json', JSON.stringify(config));
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  install('writeFileAtomic', writeTemp('writeFileAtomic', path, bytes), path);
  syncFolder(dirname(path));
  removeStrays(path);
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
 * Both files are written and fsynced before either replaces its old copy; the weights record the
 * config fields they were saved with, so a pair torn by a crash between the two renames (or by
 * two processes saving at once) is refused on load instead of loading wrongly.
 *
 * @example
 * await io.saveAdapterDir(model, 'out/adapter', { taskType: 'CAUSAL_LM', baseModelNameOrPath: 'my-base' });
 */
export async function saveAdapterDir(model: Module, dir: string, opts: SaveAdapterOptions = {}): Promise<void> {
  const op = 'saveAdapterDir';
  const files = await saveAdapter(model, opts);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TsgradError(op, `could not create the folder '${dir}': ${(e as Error).message}`);
  }
  const weights = join(dir, 'adapter_model.safetensors'), config = join(dir, 'adapter_config.json');
  const weightsTmp = writeTemp(op, weights, files['adapter_model.safetensors']);
  let configTmp: string;
  try {
    configTmp = writeTemp(op, config, new TextEncoder().encode(files['adapter_config.json']));
  } catch (e) {
    rmSync(weightsTmp, { force: true });
    throw e;
  }
  // The window between these renames is where a crash tears the pair; the record catches it.
  install(op, weightsTmp, weights);
  install(op, configTmp, config);
  syncFolder(dir);
  removeStrays(weights);
  removeStrays(config);
}

/**
 * Loads a PEFT adapter folder (from tsgrad or PEFT's `save_pretrained`) into `model`; see
 * `loadAdapter` (which refuses two files that come from different saves).
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
