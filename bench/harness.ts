import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './measure.js';

export { type BenchRow, type BenchTask, measure, medianMs, pairedRatios } from './measure.js';

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

/** Writes `results/<name>.json` (rows plus machine facts) and `results/<name>.md` (a table). */
export function save(name: string, rows: BenchRow[], notes: string[] = []): void {
  mkdirSync(resultsDir, { recursive: true });
  const os = process.versions;
  writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify({ date: new Date().toISOString(), node: os.node, notes, rows }, null, 2) + '\n');
  const lines = ['| case | impl | mean ms | median ms | ± % | samples | GFLOP/s |', '|---|---|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.case} | ${r.impl} | ${r.meanMs.toFixed(3)} | ${r.medianMs?.toFixed(3) ?? ''} | ${r.rmePercent.toFixed(1)} | ${r.samples} | ${r.gflops ? r.gflops.toFixed(2) : ''} |`);
  }
  writeFileSync(join(resultsDir, `${name}.md`), [...notes.map((n) => `${n}\n`), lines.join('\n'), ''].join('\n'));
}
