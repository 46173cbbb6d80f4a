// The playground page: trains the names model on the chosen backend and shows what autograd did.
// The model and data are the names demo's (examples/names), trained here step by step.
import {
  type BackendInfo, Generator, type MemoryReport, type Tensor, type TraceStep, fromTypedArray, getBackendInfo, io, manualSeed, memoryReport, nn, optim, scope, setBackend,
  toSvg, traceBackward,
} from 'tsgrad';
import { type Examples, examples, femaleSplit, maleNames } from '../examples/names/data.js';
import { CharMLP, LINEARS, copyOf, sampleNames } from '../examples/names/model.js';
import { type Bar, type Series, kib, lineChart, memoryChart } from './charts.js';
import { setUpBenchmark } from './bench.js';
import { setUpGptStory } from './gpt.js';
import { zip } from './zip.js';

const $ = <T extends Element = HTMLElement>(id: string) => document.getElementById(id) as unknown as T;
const BATCH = 64;
/** The loss charts' y-axis: mean cross-entropy of the next character. */
const LOSS = 'loss (nats per character)';

/** What the page learned, for anyone scripting it (the browser tests read this). */
export interface PlaygroundResult {
  backend: string;
  pretrain: number[];
  lora: number[];
  full: number[];
  samples: string[];
  trace: TraceStep[];
}
declare global {
  interface Window {
    playground?: PlaygroundResult;
  }
}

function status(text: string, kind: 'info' | 'notice' | 'error' = 'info'): void {
  const s = $('status');
  s.textContent = text;
  s.className = kind === 'info' ? '' : kind;
}

/** Lets the page paint between training steps. */
const tick = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));

/** The chosen backend, or cpu with a notice saying why not. */
async function pickBackend(choice: string): Promise<string> {
  try {
    await setBackend(choice);
    return choice;
  } catch (e) {
    if (choice === 'cpu') throw e;
    await setBackend('cpu');
    status(`${choice} is unavailable here (${(e as Error).message}); running on cpu instead.`, 'notice');
    return 'cpu';
  }
}

/** The backend and what it runs on: gpu.js's kernel class, the WebGPU adapter, the CPU's path and threads. */
function describeBackend(info: BackendInfo): string {
  const parts =
    info.name === 'gpujs' ? [info.kernelType]
    : info.name === 'webgpu' ? [info.description || info.architecture]
    : [info.path, `${info.threads} thread${info.threads === 1 ? '' : 's'}`];
  const known = parts.filter((p) => p !== '');
  return known.length > 0 ? `${info.name} (${known.join(', ')})` : info.name;
}

/** `size` examples drawn at random (with repeats), as tensors on the data's backend. */
function batchOf(data: Examples, size: number, g: Generator): [Tensor, Tensor] {
  const picks = fromTypedArray(Int32Array.from({ length: size }, () => Math.floor(g.nextUniform() * data.count)), [size], { dtype: 'int32' });
  return [data.contexts.indexSelect(0, picks), data.targets.indexSelect(0, picks)];
}

/** One optimizer step on a fresh batch; resolves to the batch loss. */
function step(model: CharMLP, opt: optim.Adam, data: Examples, g: Generator): Promise<number> {
  return scope(async () => {
    const [x, y] = batchOf(data, BATCH, g);
    const loss = nn.functional.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss.item();
  });
}

/** The memory report of one step: activations while the graph lives, the rest after `opt.step()`. */
function memoryOfStep(model: CharMLP, opt: optim.Adam, data: Examples, g: Generator): MemoryReport {
  return scope(() => {
    const [x, y] = batchOf(data, BATCH, g);
    const loss = nn.functional.crossEntropy(model.forward(x), y);
    const activations = memoryReport(model, opt, { output: loss }).activations;
    loss.backward();
    opt.step();
    const report = memoryReport(model, opt);
    opt.zeroGrad();
    return { ...report, activations };
  });
}

const MEMORY_PARTS: [keyof MemoryReport & string, string, string][] = [
  ['frozenParams', 'frozen weights', '#9aa5b1'],
  ['trainableParams', 'trainable weights', '#2f6fde'],
  ['gradients', 'gradients', '#e07b00'],
  ['optimizerState', 'optimizer state', '#8b3fc6'],
  ['activations', 'activations', '#2a9d57'],
];

function bar(label: string, r: MemoryReport): Bar {
  return { label, parts: MEMORY_PARTS.map(([key, name, color]) => ({ name, color, bytes: (r[key] as { bytes: number }).bytes })) };
}

/**
 * One LoRA step on two examples, drawn from the engine's graph top to bottom (parameters named by
 * their module path), and its backward as a trace.
 */
async function graphOfStep(model: CharMLP, opt: optim.Adam, data: Examples, g: Generator): Promise<{ svg: string; trace: TraceStep[] }> {
  return scope(async () => {
    const [x, y] = batchOf(data, 2, g);
    const loss = nn.functional.crossEntropy(model.forward(x), y);
    const trace = await traceBackward(loss, { retainGraph: true });
    const svg = toSvg(loss, { grads: true, names: model.namedParameters(), direction: 'TB' });
    opt.zeroGrad();
    return { svg, trace };
  });
}

const fmtShape = (s: number[]) => `[${s.join(',')}]`;

/** The trace as a table; the step-through buttons move the highlighted row. */
function showTrace(trace: TraceStep[]): void {
  const kernels = trace.reduce((n, s) => n + s.kernels, 0);
  const skipped = trace.flatMap((s) => s.inputs).filter((i) => i.skipped === 'frozen' || i.skipped === 'constant').length;
  $('graph-summary').textContent = `backward visited ${trace.length} tensors and ran ${kernels} kernels; ${skipped} inputs that need no gradient (frozen weights, data, constants) got no gradient work.`;
  const rows = trace.map((s) => {
    const inputs = s.inputs.map((i) => `${fmtShape(i.shape)} ${i.kind}${i.skipped ? ` (skipped: ${i.skipped})` : ''}`).join('; ');
    // Numbered from 1, as the step-through counts.
    return `<tr><td>${s.step + 1}</td><td>${s.op}</td><td>${fmtShape(s.shape)}</td><td>${s.gradNorm.toPrecision(4)}</td><td>${s.kernels}</td><td>${inputs}</td></tr>`;
  });
  $('trace').innerHTML = `<table><thead><tr><th>step</th><th>op</th><th>shape</th><th>‖grad‖ received</th><th>kernels</th><th>passes gradient to</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const prev = $<HTMLButtonElement>('trace-prev');
  const next = $<HTMLButtonElement>('trace-next');
  let at = 0;
  const show = () => {
    $('trace').querySelectorAll('tbody tr').forEach((tr, i) => (tr.className = i === at ? 'current' : i > at ? 'future' : ''));
    const s = trace[at]!;
    const to = s.inputs.filter((i) => !i.skipped).length;
    $('trace-pos').textContent = `step ${at + 1} of ${trace.length}: ${s.op} ${fmtShape(s.shape)} receives a gradient of norm ${s.gradNorm.toPrecision(4)} and passes it on to ${to} of ${s.inputs.length} inputs`;
    prev.disabled = at === 0;
    next.disabled = at === trace.length - 1;
  };
  prev.onclick = () => {
    at = Math.max(0, at - 1);
    show();
  };
  next.onclick = () => {
    at = Math.min(trace.length - 1, at + 1);
    show();
  };
  show();
}

/** Hands `data` to the browser as one file download. */
function download(name: string, data: Uint8Array<ArrayBuffer>, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

const ZOOMS = ['fit', 'whole', 'actual'] as const;

/** The graph's zoom: its width in the box (the default; the box scrolls down), all of it in the box, or every node at its actual size. */
function zoomGraph(mode: (typeof ZOOMS)[number]): void {
  $('graph').dataset['zoom'] = mode;
  for (const m of ZOOMS) $<HTMLButtonElement>(`graph-${m}`).setAttribute('aria-pressed', String(m === mode));
}

async function run(choice: string, pretrainSteps: number, finetuneSteps: number, sampleCount: number): Promise<PlaygroundResult> {
  const backend = await pickBackend(choice);
  const where = describeBackend(getBackendInfo());
  if ($('status').className !== 'notice') status(`Training on ${where}…`);
  manualSeed(42);
  const g = new Generator().manualSeed(42);
  const male = examples(maleNames());
  const female = examples(femaleSplit().train);

  const pre = new CharMLP();
  const preOpt = new optim.Adam(pre.parameters(), { lr: 3e-3 });
  const pretrain: number[] = [];
  let t0 = performance.now();
  for (let i = 0; i < pretrainSteps; i++) {
    pretrain.push(await step(pre, preOpt, male, g));
    if (i % 5 === 4 || i === pretrainSteps - 1) {
      lineChart($('pretrain-chart'), [{ name: 'male names', color: '#2f6fde', values: pretrain }], { yLabel: LOSS });
      $('pretrain-info').textContent = `step ${i + 1}/${pretrainSteps} · loss ${pretrain[i]!.toFixed(3)} · ${((i + 1) / ((performance.now() - t0) / 1000)).toFixed(1)} steps/s on ${backend}`;
      await tick();
    }
  }

  // Two copies of the pretrained model: one adapted by LoRA (base frozen), one fully fine-tuned.
  const lora = copyOf(pre);
  nn.applyLoRA(lora, { targets: LINEARS, rank: 4, alpha: 8 });
  const full = copyOf(pre);
  const loraOpt = new optim.Adam(lora.parameters(), { lr: 1e-2 });
  const fullOpt = new optim.Adam(full.parameters(), { lr: 1e-3 });
  const memory = [bar('LoRA', memoryOfStep(lora, loraOpt, female, g)), bar('full', memoryOfStep(full, fullOpt, female, g))];
  memoryChart($('memory-chart'), memory);

  const series: Series[] = [
    { name: `LoRA (${lora.numParameters({ trainableOnly: true })} trainable)`, color: '#2a9d57', values: [] },
    { name: `full (${full.numParameters({ trainableOnly: true })} trainable)`, color: '#c0392b', values: [] },
  ];
  t0 = performance.now();
  for (let i = 0; i < finetuneSteps; i++) {
    series[0]!.values.push(await step(lora, loraOpt, female, g));
    series[1]!.values.push(await step(full, fullOpt, female, g));
    if (i % 5 === 4 || i === finetuneSteps - 1) {
      lineChart($('finetune-chart'), series, { yLabel: LOSS });
      $('finetune-info').textContent =
        `step ${i + 1}/${finetuneSteps} · LoRA ${series[0]!.values[i]!.toFixed(3)} · full ${series[1]!.values[i]!.toFixed(3)} · ` +
        `${((2 * (i + 1)) / ((performance.now() - t0) / 1000)).toFixed(1)} steps/s · memory LoRA ${kib(memory[0]!.parts.reduce((s, p) => s + p.bytes, 0))}, full ${kib(memory[1]!.parts.reduce((s, p) => s + p.bytes, 0))}`;
      await tick();
    }
  }

  const { svg, trace } = await graphOfStep(lora, loraOpt, female, g);
  $('graph').innerHTML = svg;
  for (const m of ZOOMS) $<HTMLButtonElement>(`graph-${m}`).onclick = () => zoomGraph(m);
  zoomGraph('fit');
  showTrace(trace);

  const samples = await sampleNames(lora, sampleCount, new Generator().manualSeed(7));
  for (const t of [male.contexts, male.targets, female.contexts, female.targets]) t.dispose();
  $('samples').textContent = samples.join(', ');
  const files = await io.saveAdapter(lora, { baseModelNameOrPath: 'tsgrad-names-mlp' });
  const button = $<HTMLButtonElement>('download');
  button.disabled = false;
  // One zip of PEFT's two files: one download, not two (which browsers answer with a prompt).
  button.onclick = () => download('tsgrad-names-lora-adapter.zip', zip(files), 'application/zip');
  if ($('status').className !== 'notice') status(`Done on ${where}: ${pretrainSteps} pretraining and ${finetuneSteps}+${finetuneSteps} fine-tuning steps.`);
  return { backend, pretrain, lora: series[0]!.values, full: series[1]!.values, samples, trace };
}

const params = new URLSearchParams(location.search);
for (const [key, id] of [['backend', 'backend'], ['pretrain', 'pretrain-steps'], ['finetune', 'finetune-steps']] as const) {
  const v = params.get(key);
  if (v) $<HTMLInputElement>(id).value = v;
}

async function start(): Promise<void> {
  const button = $<HTMLButtonElement>('run');
  button.disabled = true;
  document.body.dataset['state'] = 'running';
  try {
    const steps = (id: string) => Number($<HTMLInputElement>(id).value);
    window.playground = await run($<HTMLSelectElement>('backend').value, steps('pretrain-steps'), steps('finetune-steps'), Number(params.get('samples') ?? 12));
    document.body.dataset['state'] = 'done';
  } catch (e) {
    status(`Training failed: ${(e as Error).message}`, 'error');
    document.body.dataset['state'] = 'error';
  } finally {
    button.disabled = false;
  }
}

$('controls').addEventListener('submit', (e) => {
  e.preventDefault();
  void start();
});
if (params.has('auto')) void start();
setUpGptStory({ choice: () => $<HTMLSelectElement>('backend').value, pickBackend, describe: () => describeBackend(getBackendInfo()) });
setUpBenchmark(params);
