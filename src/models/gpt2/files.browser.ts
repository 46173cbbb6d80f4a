// The browser's twin of files.ts: a pretrained model's folder is a URL, and its files are fetched.
import { TsgradError } from '../../core/errors.js';

/** The bytes of `name` under the URL `dir`, or null when the server answers 404. */
export async function readModelFile(op: string, dir: string, name: string): Promise<Uint8Array | null> {
  const url = `${dir.replace(/\/+$/, '')}/${name}`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new TsgradError(op, `could not fetch '${url}': ${(e as Error).message}`);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new TsgradError(op, `could not fetch '${url}': HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function writeModelFiles(op: string, _dir: string, _files: Record<string, Uint8Array | string>): Promise<void> {
  throw new TsgradError(op, `${op} is Node-only (it writes files); in browsers use io.encodeSafetensors(model.stateDict()) and config.toJSON() with a Blob download`);
}
