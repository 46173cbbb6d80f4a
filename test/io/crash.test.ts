// Crash safety, tested by killing: writer processes saving in a loop are SIGKILLed at varied
// moments. Whatever the moment, the place holds the old save or the new one, never a mix or a
// part (a mixed adapter folder is refused by loadAdapterDir, never loaded), and the next save
// leaves no temporary file behind. The writer is bundled once, so a child starts in a fraction
// of a second and several kills fit in a few seconds.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { TsgradError, io, nn, noGrad, randn } from '../../src/index.js';
import { versions } from './crash-versions.js';

/** Milliseconds after the writer's first complete save at which each writer is killed. */
const DELAYS = [0, 1, 3, 6, 10, 15];

let writer: string;

beforeAll(async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'tsgrad-crash-'));
  await build({
    entryPoints: { writer: join(import.meta.dirname, 'crash-writer.ts') },
    bundle: true, format: 'esm', platform: 'node', splitting: true, outdir, outExtension: { '.js': '.mjs' },
    // The GPU backends load lazily, in chunks of their own; the writer saves from the CPU.
    external: ['webgpu', 'gpu.js', 'gl'],
    logLevel: 'silent',
  });
  writer = join(outdir, 'writer.mjs');
});

/** Starts a writer; resolves once its first save is complete. */
function start(mode: 'adapter' | 'state', where: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [writer, mode, where], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TSGRAD_CPU_THREADS: '1' } });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`the writer exited (${code}) before its first save`)));
  });
}

/** Runs one writer per delay, side by side, each killed that long after its first save. */
async function killWriters(mode: 'adapter' | 'state', place: (dir: string) => string): Promise<string[]> {
  const dirs = DELAYS.map(() => mkdtempSync(join(tmpdir(), `tsgrad-crash-${mode}-`)));
  await Promise.all(dirs.map(async (dir, i) => {
    const child = await start(mode, place(dir));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, DELAYS[i]));
    child.kill('SIGKILL');
    await exited;
  }));
  return dirs;
}

const temps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('SIGKILL during a save', () => {
  it('saveAdapterDir: the folder loads as one whole save or is refused as torn, and the next save cleans up', async () => {
    const { base, adapters } = versions();
    const x = randn([5, 16]);
    const outputs = (m: nn.Module) => Array.from(noGrad(() => m.forward(x)).dataSync());
    const want = adapters.map(outputs);
    const fresh = () => {
      const m = new nn.Sequential(new nn.Linear(16, 16), new nn.Tanh(), new nn.Linear(16, 4));
      m.loadStateDict(base.stateDict());
      return m;
    };
    for (const dir of await killWriters('adapter', (d) => d)) {
      const m = fresh();
      try {
        io.loadAdapterDir(m, dir);
        expect(want).toContainEqual(outputs(m));
      } catch (e) {
        expect(e).toBeInstanceOf(TsgradError);
        expect((e as Error).message).toMatch(/come from different saves/);
      }
      await io.saveAdapterDir(adapters[1]!, dir);
      expect(temps(dir)).toEqual([]);
      const again = fresh();
      io.loadAdapterDir(again, dir);
      expect(outputs(again)).toEqual(want[1]);
    }
  });

  it('saveStateDict: the file holds one whole save, and the next save cleans up', async () => {
    const { models } = versions();
    for (const dir of await killWriters('state', (d) => join(d, 'model.safetensors'))) {
      const path = join(dir, 'model.safetensors');
      const m = new nn.Sequential(new nn.Linear(256, 256), new nn.Linear(256, 256));
      io.loadStateDict(path, m);
      const values = new Set(m.parameters().flatMap((p) => Array.from(p.dataSync())));
      expect([[1], [2]]).toContainEqual([...values]);
      await io.saveStateDict(path, models[0]!);
      expect(temps(dir)).toEqual([]);
    }
  });
});
