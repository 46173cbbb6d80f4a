// The playground's GPT story: a small GPT-2 pretrained on Moby Dick in the page, then adapted to
// State of the Union addresses by LoRA (rank 4 on c_attn) and by full fine-tuning, side by side.
// Data, model and training loop are the GPT demo's (examples/gpt), at a size a page trains in
// about a minute on the CPU backend; the text is an excerpt made at build time (web/excerpts.ts).
import { Generator, manualSeed, models, nn } from 'tsgrad';
import { evenBatches, mobyDick, stateOfTheUnion } from '../examples/gpt/data.js';
import { CONFIG, copyOf, sample } from '../examples/gpt/model.js';
import type { RunName, RunResult } from '../examples/gpt/report.js';
import { type Trained, heldOutLoss, train, weightBytes } from '../examples/gpt/train.js';
import { type Series, kib, lineChart, memoryChart } from './charts.js';

const $ = <T extends Element = HTMLElement>(id: string) => document.getElementById(id) as unknown as T;

/** The demo's model made smaller: 2 blocks of width 48 with 4 heads, 64 characters of context. */
export const GPT_CONFIG = { ...CONFIG, nEmbd: 48 };

/** Step counts, batch and learning rates of one story; the steps come from the page's inputs. */
export interface GptSettings {
  pretrainSteps: number;
  adaptSteps: number;
  batch: number;
  warmup: number;
  /** Held-out windows of 64 characters the held-out loss averages over. */
  heldOutWindows: number;
  lr: { pretrain: number; lora: number; full: number };
}

const DEFAULTS: Omit<GptSettings, 'pretrainSteps' | 'adaptSteps'> = {
  batch: 8, warmup: 10, heldOutWindows: 64, lr: { pretrain: 3e-3, lora: 3e-2, full: 1e-3 },
};
const SEED = 0;
/** Every sample starts from this prompt. */
const PROMPT = 'The ';
const LOSS = 'loss (nats per character)';

/** What the story measured, for anyone scripting the page (the browser tests read this). */
export interface GptStoryResult {
  backend: string;
  settings: GptSettings;
  /** Parameters of the model (all of them; full fine-tuning trains these). */
  parameters: number;
  pretrain: number[];
  lora: number[];
  full: number[];
  /** base, lora-r4 and full: held-out loss, trainable parameters, gradient + Adam bytes, sample. */
  runs: RunResult[];
  seconds: number;
}
declare global {
  interface Window {
    gptStory?: GptStoryResult;
  }
}

/** What the story borrows from the page: its backend choice and its fallback notice. */
export interface GptStoryHooks {
  /** The backend the page's select names. */
  choice(): string;
  /** Switches to `choice`, or to cpu with the page's notice; resolves to the backend in use. */
  pickBackend(choice: string): Promise<string>;
  /** The backend in use and what it runs on, in words. */
  describe(): string;
}

function say(text: string, kind: 'info' | 'error' = 'info'): void {
  const s = $('gpt-status');
  s.textContent = text;
  s.className = kind === 'info' ? '' : kind;
}

/** Lets the page paint between training steps. */
const tick = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
const count = (n: number) => n.toLocaleString('en-US');

const LABELS: Partial<Record<RunName, string>> = { base: 'base (no adaptation)', 'lora-r4': 'LoRA rank 4 on c_attn', full: 'full fine-tuning' };

/** The runs side by side, one row each. */
function showTable(runs: RunResult[]): void {
  const table = $<HTMLTableElement>('gpt-table');
  const head = ['run', 'held-out loss (nats/char)', 'trainable parameters', 'gradient + Adam', 'ms/step', `sample after "${PROMPT}"`];
  const rows = runs.map((r) => [
    LABELS[r.name] ?? r.name, r.heldOutLoss.toFixed(3), count(r.trainable), r.steps ? kib(r.gradOptimizerBytes) : '–', r.steps ? r.msPerStep.toFixed(0) : '–', PROMPT + r.sample,
  ]);
  table.replaceChildren(...[head, ...rows].map((cells, i) => {
    const tr = document.createElement('tr');
    for (const c of cells) tr.append(Object.assign(document.createElement(i === 0 ? 'th' : 'td'), { textContent: c }));
    return tr;
  }));
}

/** The loop's per-step hook: records the loss, and every few steps redraws the chart and its line of text. */
function live(values: number[], steps: number, redraw: (step: number) => void): (step: number, loss: number) => Promise<void> {
  return async (step, loss) => {
    values.push(loss);
    if (step % 5 === 0 || step === steps) {
      redraw(step);
      await tick();
    }
  };
}

async function run(hooks: GptStoryHooks, s: GptSettings): Promise<GptStoryResult> {
  const began = performance.now();
  const backend = await hooks.pickBackend(hooks.choice());
  const where = hooks.describe();
  say(`Training on ${where}…`);
  const context = GPT_CONFIG.nPositions;
  const moby = mobyDick();
  const sotu = stateOfTheUnion();
  const heldOut = evenBatches(sotu.heldOut, s.heldOutWindows, s.batch, context);
  $('gpt-data').textContent = `${count(moby.length)} characters of Moby Dick to pretrain on; ${sotu.trainCount} State of the Union addresses ` +
    `(${count(sotu.train.length)} characters) to adapt on and ${sotu.heldOutCount} held out (${count(sotu.heldOut.length)} characters).`;
  const common = { warmup: s.warmup, batch: s.batch, context, log: () => {} };

  manualSeed(SEED);
  const base = new models.GPT2LMHeadModel(GPT_CONFIG);
  const parameters = base.numParameters();
  const pretrain: number[] = [];
  let t0 = performance.now();
  await train(base, moby, {
    ...common, label: 'pretrain', steps: s.pretrainSteps, lr: s.lr.pretrain, seed: SEED,
    onStep: live(pretrain, s.pretrainSteps, (step) => {
      lineChart($('gpt-pretrain-chart'), [{ name: `Moby Dick (${count(parameters)} parameters)`, color: '#2f6fde', values: pretrain }], { yLabel: LOSS });
      $('gpt-pretrain-info').textContent = `step ${step}/${s.pretrainSteps} · loss ${pretrain[step - 1]!.toFixed(3)} · ${(step / ((performance.now() - t0) / 1000)).toFixed(1)} steps/s on ${backend}`;
    }),
  });
  base.freeze();

  const runs: RunResult[] = [];
  const finish = async (name: RunName, model: models.GPT2LMHeadModel, t: Trained | null) => {
    runs.push({
      name, heldOutLoss: await heldOutLoss(model, heldOut), trainable: t ? model.numParameters({ trainableOnly: true }) : 0,
      weightBytes: weightBytes(model), gradOptimizerBytes: t?.gradOptimizerBytes ?? 0, activationBytes: t?.activationBytes ?? 0,
      msPerStep: t?.msPerStep ?? 0, steps: t?.losses.length ?? 0, sample: await sample(model, PROMPT, new Generator().manualSeed(SEED)),
    });
    showTable(runs);
  };
  await finish('base', base, null);

  // Two copies of the pretrained model: one adapted by LoRA (base frozen), one fully fine-tuned.
  manualSeed(SEED + 4);
  const lora = copyOf(base);
  nn.applyLoRA(lora, { targets: ['c_attn'], rank: 4, alpha: 4 });
  const full = copyOf(base).unfreeze();
  const series: Series[] = [
    { name: `LoRA r4 (${count(lora.numParameters({ trainableOnly: true }))} trainable)`, color: '#2a9d57', values: [] },
    { name: `full (${count(full.numParameters({ trainableOnly: true }))} trainable)`, color: '#c0392b', values: [] },
  ];
  const adapt = async (k: number, model: models.GPT2LMHeadModel, lr: number) => {
    t0 = performance.now();
    const values = series[k]!.values;
    return train(model, sotu.train, {
      ...common, label: series[k]!.name, steps: s.adaptSteps, lr, seed: SEED + 1 + k,
      onStep: live(values, s.adaptSteps, (step) => {
        lineChart($('gpt-adapt-chart'), series, { yLabel: LOSS });
        $('gpt-adapt-info').textContent = `${series[k]!.name}: step ${step}/${s.adaptSteps} · loss ${values[step - 1]!.toFixed(3)} · ${(step / ((performance.now() - t0) / 1000)).toFixed(1)} steps/s`;
      }),
    });
  };
  await finish('lora-r4', lora, await adapt(0, lora, s.lr.lora));
  await finish('full', full, await adapt(1, full, s.lr.full));
  memoryChart($('gpt-memory-chart'), runs.filter((r) => r.steps > 0).map((r) => ({
    label: r.name === 'full' ? 'full' : 'LoRA r4', parts: [{ name: 'gradients + Adam state (memoryReport)', color: '#e07b00', bytes: r.gradOptimizerBytes }],
  })));
  for (const b of heldOut) for (const t of [b.inputs, b.targets]) t.dispose();
  const seconds = (performance.now() - began) / 1000;
  say(`Done on ${where} in ${seconds.toFixed(0)} s: ${s.pretrainSteps} pretraining and ${s.adaptSteps}+${s.adaptSteps} adaptation steps.`);
  return { backend, settings: s, parameters, pretrain, lora: series[0]!.values, full: series[1]!.values, runs, seconds };
}

/**
 * Wires the GPT section's button (and `?gpt` in the address, which starts it; `gptPretrain` and
 * `gptAdapt` set the steps). The names story shares the backend and the global generator, so one
 * story trains at a time.
 */
export function setUpGptStory(hooks: GptStoryHooks): void {
  const params = new URLSearchParams(location.search);
  for (const [key, id] of [['gptPretrain', 'gpt-pretrain-steps'], ['gptAdapt', 'gpt-adapt-steps']] as const) {
    const v = params.get(key);
    if (v) $<HTMLInputElement>(id).value = v;
  }
  const button = $<HTMLButtonElement>('gpt-run');
  const start = async () => {
    if (document.body.dataset['state'] === 'running') {
      say('The names story is training; press again when it is done.', 'error');
      return;
    }
    const names = $<HTMLButtonElement>('run');
    button.disabled = names.disabled = true;
    document.body.dataset['gpt'] = 'running';
    try {
      const steps = (id: string) => Number($<HTMLInputElement>(id).value);
      window.gptStory = await run(hooks, { ...DEFAULTS, pretrainSteps: steps('gpt-pretrain-steps'), adaptSteps: steps('gpt-adapt-steps') });
      document.body.dataset['gpt'] = 'done';
    } catch (e) {
      say(`Training failed: ${(e as Error).message}`, 'error');
      document.body.dataset['gpt'] = 'error';
    } finally {
      button.disabled = names.disabled = false;
    }
  };
  $('gpt-controls').addEventListener('submit', (e) => {
    e.preventDefault();
    void start();
  });
  if (params.has('gpt')) void start();
}
