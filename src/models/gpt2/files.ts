// Node-only: a pretrained model's folder on disk. Browser builds swap in files.browser.ts, which
// fetches the same names from a URL.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsgradError } from '../../core/errors.js';
import { writeFileAtomic } from '../../io/disk.js';

/** The bytes of `name` in the model folder `dir`, or null when there is no such file. */
export async function readModelFile(op: string, dir: string, name: string): Promise<Uint8Array | null> {
  try {
    return readFileSync(join(dir, name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TsgradError(op, `could not read '${join(dir, name)}': ${(e as Error).message}`);
  }
}

/** Writes each file into the folder `dir` (made if missing), each atomically. */
export async function writeModelFiles(op: string, dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TsgradError(op, `could not make the folder '${dir}': ${(e as Error).message}`);
  }
  for (const [name, data] of Object.entries(files)) writeFileAtomic(join(dir, name), data);
}
