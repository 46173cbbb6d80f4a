// The diffusion demo's results: one row per run, and the Markdown table the demo prints.

export type RunName = 'base' | 'lora-r4' | 'full' | 'scratch';

const LABELS: Record<RunName, string> = {
  base: 'base (no adaptation)', 'lora-r4': 'LoRA rank 4', full: 'full fine-tuning', scratch: 'from scratch',
};

/** The classifier's probability at or above which a sample counts as its digit (below it, as no digit). */
export const CONFIDENT = 0.9;

export interface RunResult {
  name: RunName;
  samples: number;
  /** Samples the classifier labels 8 or 9 with probability ≥ CONFIDENT: the headline. */
  confident8or9: number;
  /** Samples it labels any digit with probability ≥ CONFIDENT ("looks like a digit"). */
  confidentDigits: number;
  /** How many samples it gives each digit, 0 to 9, with probability ≥ CONFIDENT. */
  confidentHistogram: number[];
  /** Samples the classifier labels 8 and 9 (its argmax, however unsure). */
  eights: number;
  nines: number;
  /** The classifier's mean probability for its label, over the samples it labels 8 or 9 (NaN when none). */
  confidence: number;
  /** How many samples it gives each digit, 0 to 9 (argmax). */
  histogram: number[];
  trainable: number;
  /** Gradients and Adam's two moments, in bytes. */
  gradOptimizerBytes: number;
  /** The moving average of the trained weights, in bytes (sampling-time state, not in gradOptimizerBytes). */
  emaBytes: number;
  msPerStep: number;
  steps: number;
  /** Mean training loss over the last tenth of the steps (NaN for the base model). */
  finalLoss: number;
}

const count = (n: number) => n.toLocaleString('en-US');

/** The share of a run's samples labelled 8 or 9 (argmax, however unsure). */
export function share8or9(r: RunResult): number {
  return (r.eights + r.nines) / r.samples;
}

/** The share of a run's samples the classifier labels 8 or 9 with probability ≥ CONFIDENT. */
export function confidentShare8or9(r: RunResult): number {
  return r.confident8or9 / r.samples;
}

const percent = (x: number) => `${(100 * x).toFixed(0)}%`;

/** The runs as a Markdown table, one row per run, and a footnote on what its columns count. */
export function table(runs: RunResult[], emaDecay: { pretrain: number; adapt: number }): string {
  const head = ['run', `8 or 9 (p ≥ ${CONFIDENT})`, `8s / 9s (p ≥ ${CONFIDENT})`, `any digit (p ≥ ${CONFIDENT})`, 'argmax 8 or 9', 'trainable parameters', 'gradient + Adam (bytes)', 'ms/step', 'steps', 'final loss'];
  const rows = runs.map((r) => [
    LABELS[r.name], percent(confidentShare8or9(r)), `${r.confidentHistogram[8]} / ${r.confidentHistogram[9]}`, percent(r.confidentDigits / r.samples), percent(share8or9(r)),
    count(r.trainable), count(r.gradOptimizerBytes), r.steps ? r.msPerStep.toFixed(0) : '–', r.steps ? String(r.steps) : '–',
    Number.isNaN(r.finalLoss) ? '–' : r.finalLoss.toFixed(4),
  ]);
  const right = [false, true, true, true, true, true, true, true, true, true];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => `${'-'.repeat(right[i] ? w + 1 : w + 2)}${right[i] ? ':' : ''}`).join('|')}|`;
  const ema = emaDecay.pretrain > 0 || emaDecay.adapt > 0
    ? `Samples come from an exponential moving average of the trained weights (decay ${emaDecay.pretrain} pretraining, ${emaDecay.adapt} adapting): ` +
      'sampling-time state, one more copy of the trainable weights, not counted in gradient + Adam bytes.'
    : 'Samples come from the trained weights as they are (no moving average).';
  const note = `The classifier's label counts only at probability ≥ ${CONFIDENT}; "any digit" is the share it is that sure of, "argmax" its label however unsure. ${ema}`;
  return [line(head), rule, ...rows.map(line), '', note].join('\n');
}
