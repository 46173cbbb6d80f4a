// The browser's twin of disk.ts: pages have no file system, so each call says what to use instead.
// Swapped in for disk.ts by the browser build.
import { TsgradError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { Module } from '../nn/module.js';
import type { Checkpointable } from './checkpoint.js';
import type { SaveAdapterOptions } from './peft.js';

function nodeOnly(op: string, instead: string): TsgradError {
  return new TsgradError(op, `${op} is Node-only (it writes or reads files); in browsers use ${instead} and a Blob (or fetch for reading)`);
}

export function writeFileAtomic(_path: string, _data: Uint8Array | string): void {
  throw nodeOnly('writeFileAtomic', 'a Blob download');
}

export async function saveSafetensors(_path: string, _tensors: Record<string, Tensor>, _metadata: Record<string, string> = {}): Promise<void> {
  throw nodeOnly('saveSafetensors', 'io.encodeSafetensors');
}

export function loadSafetensors(_path: string, _opts: { backend?: string } = {}): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  throw nodeOnly('loadSafetensors', 'io.decodeSafetensors');
}

export async function saveStateDict(_path: string, _target: Checkpointable): Promise<void> {
  throw nodeOnly('saveStateDict', 'io.encodeStateDict');
}

export function loadStateDict(_path: string, _target: Checkpointable): void {
  throw nodeOnly('loadStateDict', 'io.decodeStateDict');
}

export async function saveAdapterDir(_model: Module, _dir: string, _opts: SaveAdapterOptions = {}): Promise<void> {
  throw nodeOnly('saveAdapterDir', 'io.saveAdapter (it returns the PEFT files as bytes)');
}

export function loadAdapterDir(_model: Module, _dir: string): void {
  throw nodeOnly('loadAdapterDir', 'io.loadAdapter with the files fetched as bytes');
}
