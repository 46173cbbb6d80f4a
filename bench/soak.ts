// Soak: `tsx bench/soak.ts [steps] [backend...]` trains LoRALinear(128, 128, rank 4) on a batch
// of 32 with AdamW for `steps` (default 10,000) on each backend (default cpu, webgpu, gpujs),
// each in its own process (GPU drivers cannot share one), sampling live storages, backend bytes
// and RSS every 500 steps, and checks they stay flat: no storage or byte growth after the first
// sample, RSS within +64 MiB. Results go to bench/results/soak.{json,md}.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SoakSample, notFlat, soak } from './soak-loop.js';

const BOUND = { rssSlackMiB: 64 };
const SIZES = { dim: 128, rank: 4, batch: 32, every: 500 };
const dir = dirname(fileURLToPath(import.meta.url));
const [stepsArg, ...named] = process.argv.slice(2);
const steps = Number(stepsArg ?? 10_000);

if (process.env.SOAK_CHILD) {
  const started = Date.now();
  const samples = await soak({ backend: process.env.SOAK_CHILD, steps, ...SIZES });
  console.log(JSON.stringify({ backend: process.env.SOAK_CHILD, seconds: (Date.now() - started) / 1000, samples }));
} else {
  const backends = named.length ? named : ['cpu', 'webgpu', 'gpujs'];
  const results: { backend: string; seconds: number; samples: SoakSample[]; verdict: string }[] = [];
  for (const backend of backends) {
    console.log(`# soak ${backend}: ${steps} steps`);
    const run = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), String(steps)], {
      env: { ...process.env, SOAK_CHILD: backend }, encoding: 'utf8', maxBuffer: 1 << 26,
    });
    const line = run.stdout.trim().split('\n').pop() ?? '';
    if (run.status !== 0 || !line.startsWith('{')) {
      console.error(`soak ${backend} failed:\n${run.stderr}`);
      process.exitCode = 1;
      continue;
    }
    const r = JSON.parse(line) as { backend: string; seconds: number; samples: SoakSample[] };
    const why = notFlat(r.samples, BOUND);
    results.push({ ...r, verdict: why ?? 'flat' });
    console.log(`  ${why ?? 'flat'} (${r.seconds.toFixed(0)} s)`);
    if (why) process.exitCode = 1;
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg()[0]!.toFixed(1)} at the end`;
  writeFileSync(join(dir, 'results', 'soak.json'), `${JSON.stringify({ steps, sizes: SIZES, bound: BOUND, machine, results }, null, 1)}\n`);
  const md = [
    `# Soak: LoRALinear(${SIZES.dim}, ${SIZES.dim}, rank ${SIZES.rank}), batch ${SIZES.batch}, AdamW, ${steps} steps`,
    '',
    `Bound: no growth in live storages or backend bytes after the first sample; RSS within +${BOUND.rssSlackMiB} MiB. Machine: ${machine}.`,
    '',
    ...results.flatMap((r) => [
      `## ${r.backend}: ${r.verdict} (${r.seconds.toFixed(0)} s)`,
      '',
      '| step | storages | bytes | RSS MiB | loss |',
      '|---:|---:|---:|---:|---:|',
      ...r.samples.map((s) => `| ${s.step} | ${s.buffers} | ${s.bytes} | ${s.rssMiB} | ${s.loss.toPrecision(4)} |`),
      '',
    ]),
  ];
  writeFileSync(join(dir, 'results', 'soak.md'), md.join('\n'));
}
