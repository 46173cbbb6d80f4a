// Runs every bench/*.bench.ts (or those named on the command line: `npm run bench -- core lora`).
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir).filter((f) => f.endsWith('.bench.ts') && (wanted.length === 0 || wanted.includes(f.replace('.bench.ts', ''))));
for (const f of files.sort()) {
  console.log(`\n# ${f}`);
  await import(pathToFileURL(`${dir}/${f}`).href);
}
