// The diffusion demo's results: one row per run, and the Markdown table the demo prints.

export type RunName = 'base' | 'lora-r4' | 'full' | 'scratch';

const LABELS: Record<RunName, string> = {
  base: 'base (no adaptation)', 'lora-r4': 'LoRA rank 4', full: 'full fine-tuning', scratch: 'from scratch',
};

export interface RunResult {
  name: RunName;
  samples: number;
  /** Samples the classifier labels 8 and 9. */
  eights: number;
  nines: number;
  /** The classifier's mean probability for its label, over the samples it labels 8 or 9 (NaN when none). */
  confidence: number;
  /** How many samples it gives each digit, 0 to 9. */
  histogram: number[];
  trainable: number;
  /** Gradients and Adam's two moments, in bytes. */
  gradOptimizerBytes: number;
  msPerStep: number;
  steps: number;
  /** Mean training loss over the last tenth of the steps (NaN for the base model). */
  finalLoss: number;
}

const count = (n: number) => n.toLocaleString('en-US');

/** The share of a run's samples labelled 8 or 9. */
export function share8or9(r: RunResult): number {
  return (r.eights + r.nines) / r.samples;
}

/** The runs as a Markdown table, one row per run. */
export function table(runs: RunResult[]): string {
  const head = ['run', 'labelled 8 or 9', '8s / 9s', 'mean confidence', 'trainable parameters', 'gradient + Adam (bytes)', 'ms/step', 'steps', 'final loss'];
  const rows = runs.map((r) => [
    LABELS[r.name], `${(100 * share8or9(r)).toFixed(0)}%`, `${r.eights} / ${r.nines}`, Number.isNaN(r.confidence) ? '–' : r.confidence.toFixed(2),
    count(r.trainable), count(r.gradOptimizerBytes), r.steps ? r.msPerStep.toFixed(0) : '–', r.steps ? String(r.steps) : '–',
    Number.isNaN(r.finalLoss) ? '–' : r.finalLoss.toFixed(4),
  ]);
  const right = [false, true, true, true, true, true, true, true, true];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => `${'-'.repeat(right[i] ? w + 1 : w + 2)}${right[i] ? ':' : ''}`).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}
