// The playground built once for every browser test file that opens it: a Vite build of it costs
// about half a minute of CPU, and three files load the same pages. The build stays in
// dist/test-web beside a hash of what goes into it, so a later file (or run) reuses it while
// those sources are unchanged; a lock file makes parallel test workers wait for one build.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as viteBuild } from 'vite';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where the shared playground build lives. */
export const PLAYGROUND = join(ROOT, 'dist/test-web');
const STAMP = join(PLAYGROUND, '.sources-sha256');
const LOCK = join(ROOT, 'dist/test-web.lock');

/** A hash of everything the build reads: the page, the library, the build plugins, the dependencies. */
function sourcesHash(): string {
  const hash = createHash('sha256');
  for (const dir of ['web', 'src', 'scripts']) {
    for (const f of (readdirSync(join(ROOT, dir), { recursive: true }) as string[]).sort()) {
      const path = join(ROOT, dir, f);
      if (statSync(path).isFile()) hash.update(`${dir}/${f}\0`).update(readFileSync(path));
    }
  }
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json']) hash.update(`${f}\0`).update(readFileSync(join(ROOT, f)));
  return hash.digest('hex');
}

/** Whether the process that wrote `pid` is gone (then its lock is stale). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Runs `f` holding the lock: the file is created exclusively, so one worker builds while the others wait. */
async function withLock(f: () => Promise<void>): Promise<void> {
  mkdirSync(dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // An empty file is one being written: its holder is alive. A vanished one was just released.
    let holder = 0;
    try {
      holder = Number(readFileSync(LOCK, 'utf8'));
    } catch {
      continue;
    }
    if (holder > 0 && gone(holder)) rmSync(LOCK, { force: true });
    else await new Promise((resolve) => setTimeout(resolve, 250));
  }
  try {
    await f();
  } finally {
    rmSync(LOCK, { force: true });
  }
}

/** The playground (web/) built by Vite with its own config; returns the folder, built if its sources changed. */
export async function playgroundBuild(): Promise<string> {
  const key = sourcesHash();
  const fresh = () => existsSync(STAMP) && readFileSync(STAMP, 'utf8') === key;
  if (fresh()) return PLAYGROUND;
  await withLock(async () => {
    if (fresh()) return; // the worker we waited for built it
    await viteBuild({ configFile: join(ROOT, 'web/vite.config.ts'), logLevel: 'warn', build: { outDir: PLAYGROUND, emptyOutDir: true } });
    writeFileSync(STAMP, key);
  });
  return PLAYGROUND;
}
