// A progress bar for training loops: steps, loss, steps/s and ETA on one redrawn line when
// stdout is a terminal; plain lines (every tenth of the run) when it is not.

export interface ProgressOptions {
  /** Where lines go (default: stdout); a function makes the bar print plain lines. */
  write?: (line: string) => void;
}

export class Progress {
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastPlain = -1;
  private readonly tty: boolean;
  private readonly write: (line: string) => void;

  constructor(private readonly label: string, private readonly total: number, opts: ProgressOptions = {}) {
    this.tty = !opts.write && !!process.stdout.isTTY;
    this.write = opts.write ?? ((line) => process.stdout.write(`${line}\n`));
  }

  /** Reports step `step` (1-based) with its loss. */
  update(step: number, loss: number): void {
    const now = performance.now();
    const seconds = (now - this.start) / 1000;
    const rate = step / Math.max(seconds, 1e-9);
    const eta = (this.total - step) / rate;
    const text = `${this.label.padEnd(9)} ${String(step).padStart(5)}/${this.total}  loss ${loss.toFixed(3)}  ${rate.toFixed(rate < 10 ? 1 : 0)} steps/s  ETA ${eta.toFixed(0)}s`;
    if (this.tty) {
      if (now - this.lastDraw < 100 && step < this.total) return;
      this.lastDraw = now;
      const width = 24, filled = Math.round((width * step) / this.total);
      process.stdout.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`);
      if (step === this.total) process.stdout.write('\n');
      return;
    }
    const tenth = Math.floor((10 * step) / this.total);
    if (tenth > this.lastPlain) {
      this.lastPlain = tenth;
      this.write(text);
    }
  }
}
