// The GPT demo's results: one row per run, and the Markdown table the demo prints.

export type RunName = 'base' | 'lora-r1' | 'lora-r4' | 'lora-r8' | 'lora-r4-float16' | 'lora-r4-nf4' | 'full' | 'scratch';

export const RUN_NAMES: readonly RunName[] = ['base', 'lora-r1', 'lora-r4', 'lora-r8', 'lora-r4-float16', 'lora-r4-nf4', 'full', 'scratch'];

const LABELS: Record<RunName, string> = {
  base: 'base (no adaptation)', 'lora-r1': 'LoRA rank 1', 'lora-r4': 'LoRA rank 4', 'lora-r8': 'LoRA rank 8',
  'lora-r4-float16': 'LoRA rank 4, float16 base', 'lora-r4-nf4': 'LoRA rank 4, NF4 base (QLoRA)',
  full: 'full fine-tuning', scratch: 'from scratch',
};

export interface RunResult {
  name: RunName;
  /** Nats per character on the held-out addresses. */
  heldOutLoss: number;
  trainable: number;
  /** Every parameter's bytes, frozen and trainable (memoryReport, from the storages): the base's dtype shows here. */
  weightBytes: number;
  /** Gradients and Adam's two moments, in bytes. */
  gradOptimizerBytes: number;
  /** What one training step's graph saves for backward, in bytes. */
  activationBytes: number;
  msPerStep: number;
  steps: number;
  /** Text the model wrote after the prompt. */
  sample: string;
}

const count = (n: number) => n.toLocaleString('en-US');

/** How much of full fine-tuning's gain over the base model a run achieves. */
export function shareOfFullGain(run: RunResult, runs: RunResult[]): number {
  const base = runs.find((r) => r.name === 'base')!.heldOutLoss, full = runs.find((r) => r.name === 'full')!.heldOutLoss;
  return (base - run.heldOutLoss) / (base - full);
}

/** The runs as a Markdown table, one row per run; the prompt starts each sample. */
export function table(runs: RunResult[], prompt: string): string {
  const head = ['run', 'held-out loss (nats/char)', 'of full FT\'s gain', 'trainable parameters', 'weights (bytes)', 'gradient + Adam (bytes)', 'activations (bytes)', 'ms/step', 'sample'];
  const rows = runs.map((r) => [
    LABELS[r.name], r.heldOutLoss.toFixed(3), `${Math.round(100 * shareOfFullGain(r, runs))}%`, count(r.trainable),
    count(r.weightBytes), count(r.gradOptimizerBytes), r.steps ? count(r.activationBytes) : '–', r.steps ? r.msPerStep.toFixed(0) : '–',
    `\`${JSON.stringify(prompt + r.sample).slice(1, -1).replaceAll('`', "'").replaceAll('|', '/')}\``,
  ]);
  const right = [false, true, true, true, true, true, true, true, false];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => `${'-'.repeat(right[i] ? w + 1 : w + 2)}${right[i] ? ':' : ''}`).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}
