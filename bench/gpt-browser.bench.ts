// The GPT training steps (bench/cases/gpt.ts) on WebGPU in Chromium, tsgrad beside jax-js on the
// same adapter, through the playground's benchmark section, as a visitor runs them (in Node,
// bench/gpt-webgpu.bench.ts compares the two on Dawn's adapter). Here that adapter is SwiftShader (Chromium's CPU Vulkan), so
// the figures compare the libraries' kernels on one device, not what a real GPU does; the page is
// how visitors measure theirs. Chromium is Debian's (/usr/bin/chromium), as in the browser tests.
import { cpus, loadavg } from 'node:os';
import type { BenchPageResult } from '../web/bench.js';
import { launchChromium, serve } from '../test/browser/harness.js';
import { playgroundBuild } from '../test/browser/playground.js';
import { type BenchRow, save } from './harness.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const IMPLS = ['tsgrad/webgpu', 'jax-js/webgpu'];
const loadAtStart = loadavg()[0]!;

const browser = await launchChromium();
const server = await serve({ '/web/': await playgroundBuild() });
let result: BenchPageResult;
try {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${server.url}/web/?bench&benchRounds=${ROUNDS}&benchTime=20&benchOnly=${IMPLS.join(',')}&benchCases=gptFull,gptLora`);
  await page.waitForFunction(() => document.body.dataset['bench'] === 'done' || document.body.dataset['bench'] === 'error', null, { timeout: 60 * 60_000, polling: 1000 });
  const status = await page.locator('#bench-status').textContent();
  if (!status?.startsWith('Done: ')) throw new Error(`the benchmark page stopped: ${status}; ${errors.join('; ')}`);
  result = (await page.evaluate(() => window.benchResult)) as BenchPageResult;
} finally {
  await browser.close();
  await server.close();
}

const rows: BenchRow[] = result.rows.map((r) => ({ ...r, suite: 'gpt-browser' }));
const ms = (impl: string, c: string) => rows.find((r) => r.impl === impl && r.case === c)?.medianMs;
const cases = [...new Set(rows.map((r) => r.case))];
const notes = [
  `Chromium ${result.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? ''} on ${result.gpu}; ${ROUNDS} interleaved rounds, each row the median of its per-round medians.`,
  '',
  '| step | tsgrad/webgpu | jax-js/webgpu | jax-js ÷ tsgrad |',
  '|---|---:|---:|---:|',
  ...cases.map((c) => {
    const [ours, jax] = [ms('tsgrad/webgpu', c), ms('jax-js/webgpu', c)];
    return `| ${c} | ${ours?.toFixed(1) ?? 'n/a'} ms | ${jax?.toFixed(1) ?? 'n/a'} ms | ${ours && jax ? `${(jax / ours).toFixed(2)}×` : 'n/a'} |`;
  }),
  '',
  // Both libraries start from GPT-2's initialisation, so both first losses are near ln 96 = 4.56.
  `First losses: ${Object.entries(result.firstValues).map(([k, v]) => `${k.replace('|', ', ')}: ${v.toFixed(4)}`).join('; ')}.`,
  ...result.unavailable.map((u) => `Unavailable: ${u.impl}: ${u.reason}`),
  `1-minute load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, on ${cpus().length} cores.`,
  '',
];
for (const n of notes) console.log(n);
save('gpt-browser', rows, notes);
