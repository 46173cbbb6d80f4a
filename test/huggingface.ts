// The Hugging Face parity tests run real PyTorch, transformers and peft from .venv-hf (made by
// scripts/hf-venv.sh, which .ci/run calls). Without it they skip loudly on a laptop and fail in CI.
// A test file's scripts run in one python process (test/hf_session.py), which imports torch,
// transformers and peft once: seconds of CPU each time.
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
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

/** A handle whose hold on the event loop can be dropped, so an idle python never keeps a test worker alive. */
type Holdable = { ref(): void; unref(): void };

/** The python process that runs this test file's scripts one at a time (each file has its own worker process). */
class Session {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly handles: Holdable[];
  private reply: string[] = [];
  private stderr = '';
  private waiting: { resolve(line: string): void; reject(e: Error): void } | null = null;

  constructor() {
    this.child = spawn(HF_PYTHON, [join(root, 'test', 'hf_session.py')], { env: ENV });
    this.handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as unknown as Holdable[];
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      const end = chunk.indexOf('\n');
      if (end < 0) return void this.reply.push(chunk);
      const line = this.reply.join('') + chunk.slice(0, end);
      this.reply = [chunk.slice(end + 1)];
      this.settle(null, line);
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-20_000);
    });
    this.child.on('error', (e) => this.end(e));
    this.child.stdin.on('error', (e) => this.end(e));
    this.child.on('exit', (code, signal) => this.end(new Error(`python exited (${signal ?? `code ${code}`})`)));
    this.hold(false);
  }

  /** Runs one script; rejects with its traceback and stderr when it fails or outlasts `timeoutMs`. */
  request(script: string, args: string[], timeoutMs: number): Promise<string> {
    this.stderr = '';
    this.hold(true);
    return new Promise<string>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        this.settle(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        resolve: (line) => {
          clearTimeout(timer);
          let r: { stdout: string } | { error: string };
          try {
            r = JSON.parse(line) as typeof r;
          } catch {
            return reject(new Error(`${script}: test/hf_session.py replied with a line that is not JSON:\n${line.slice(0, 500)}\n${this.stderr}`));
          }
          if ('error' in r) reject(new Error(`${script} failed:\n${r.error}\n${this.stderr}`));
          else resolvePromise(r.stdout);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(new Error(`${script} failed (${e.message}):\n${this.stderr}`));
        },
      };
      this.child.stdin.write(`${JSON.stringify({ script, args })}\n`);
    });
  }

  private settle(error: Error | null, line = ''): void {
    const waiting = this.waiting;
    this.waiting = null;
    this.hold(false);
    if (error) waiting?.reject(error);
    else waiting?.resolve(line);
  }

  private end(error: Error): void {
    if (session === this) session = null;
    this.settle(error);
  }

  private hold(on: boolean): void {
    for (const h of this.handles) {
      if (on) h.ref();
      else h.unref();
    }
  }
}

let session: Session | null = null;
let queue: Promise<unknown> = Promise.resolve();

/** Runs `script` (a path) with the venv's python, in this test file's python process, and parses its stdout as JSON. */
export async function runHfPython<T = unknown>(script: string, args: string[] = [], timeoutMs = 180_000): Promise<T> {
  const turn = queue.then(() => (session ??= new Session()).request(script, args, timeoutMs));
  queue = turn.catch(() => undefined);
  return JSON.parse(await turn) as T;
}
