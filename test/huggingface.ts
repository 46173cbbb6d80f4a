// The Hugging Face parity tests run real PyTorch, transformers and peft from .venv-hf (made by
// scripts/hf-venv.sh, which .ci/run calls). Without it they skip loudly on a laptop and fail in CI.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
/** The venv's interpreter (TSGRAD_HF_PYTHON overrides it). */
export const HF_PYTHON = process.env.TSGRAD_HF_PYTHON ?? join(root, '.venv-hf', 'bin', 'python');

const ENV = { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', TOKENIZERS_PARALLELISM: 'false', OMP_NUM_THREADS: '1' };

// Asynchronous on purpose: a synchronous child blocks the test worker's event loop, and on a
// loaded machine vitest's worker RPC times out while Python starts.
function run(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(HF_PYTHON, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, env: ENV }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${args[0]} failed (${error.message}):\n${stderr}`));
      else resolvePromise(stdout);
    });
  });
}

// The installed versions come from the packages' metadata: importing torch, transformers and peft
// costs seconds of CPU, and every parity test file would pay it again just to ask. A package that
// is installed but does not import fails that file's scripts loudly instead.
const VERSIONS = 'from importlib.metadata import version as v; print(f"torch {v(\'torch\')}, transformers {v(\'transformers\')}, peft {v(\'peft\')}")';

async function probe(): Promise<string | null> {
  if (!existsSync(HF_PYTHON)) return null;
  try {
    return (await run(['-c', VERSIONS], 120_000)).trim();
  } catch {
    return null;
  }
}

/** 'torch x, transformers y, peft z', or null when the venv is missing (then: a loud skip, or an error under CI). */
export const hfVersions: string | null = await probe();

/** Call at the top of a test file; returns true when the file must skip. */
export function hfUnavailable(what: string): boolean {
  if (hfVersions) return false;
  const why = `${what} needs torch, transformers and peft at ${HF_PYTHON}; run scripts/hf-venv.sh`;
  if (process.env.CI) throw new Error(`must run in CI: ${why}`);
  console.warn(`SKIPPING ${what}: ${why}`);
  return true;
}

/** Runs `script` (a path) with the venv's python and parses its stdout as JSON. */
export async function runHfPython<T = unknown>(script: string, args: string[] = [], timeoutMs = 180_000): Promise<T> {
  return JSON.parse(await run([script, ...args], timeoutMs)) as T;
}
