// Runs every bench/*.bench.ts (or those named on the command line: `npm run bench -- core lora`),
// each in its own process: the GPU suites load native drivers (headless-gl's GLX context and
// Dawn's EGL one cannot share a process on Mesa), and a fresh process keeps suites independent.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir).filter((f) => f.endsWith('.bench.ts') && (wanted.length === 0 || wanted.includes(f.replace('.bench.ts', ''))));
const failed: string[] = [];
for (const f of files.sort()) {
  console.log(`\n# ${f}`);
  const run = spawnSync(process.execPath, [...process.execArgv, join(dir, f)], { stdio: 'inherit' });
  if (run.status !== 0) failed.push(f);
}
if (failed.length) {
  console.error(`\nfailed: ${failed.join(', ')} (the GPU suites need their drivers: see README, "Backends")`);
  process.exit(1);
}
