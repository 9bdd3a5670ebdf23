/** Where progress goes: stderr, or a stand-in in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Progress of `total` steps on a stream (stderr). On a terminal: one bar redrawn in place, at most every
 * 100 ms. Otherwise (logs, CI, pipes): a line each time another ~10 % is done, so logs stay short.
 * Both show done/total, percent, elapsed time and the ETA from the mean step time so far.
 */
export class Progress {
  private done = 0;
  private lastDraw = -Infinity;
  private nextTenth = 1;
  private readonly started: number;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: ProgressStream = process.stderr,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  /** Marks one more step as done (or sets the count). */
  tick(done = this.done + 1): void {
    this.done = Math.min(done, this.total);
    const t = this.now();
    if (this.stream.isTTY) {
      if (t - this.lastDraw >= 100 || this.done === this.total) {
        this.lastDraw = t;
        this.stream.write(`\r${this.bar(t)}\x1b[K`);
      }
      return;
    }
    // Crossing several tenths at once (small totals) prints one line.
    const tenths = Math.floor((10 * this.done) / Math.max(1, this.total));
    if (tenths >= this.nextTenth) {
      this.nextTenth = tenths + 1;
      this.stream.write(`${this.line(t)}\n`);
    }
  }

  /** Ends the bar (a terminal gets its line cleared so the summary starts clean). */
  finish(): void {
    if (this.stream.isTTY) this.stream.write('\r\x1b[K');
  }

  /** `label 13/128 (10%) elapsed 2s, ETA 18s` */
  line(t = this.now()): string {
    const pct = Math.floor((100 * this.done) / Math.max(1, this.total));
    return `${this.label} ${this.done}/${this.total} (${pct}%) elapsed ${formatDuration(t - this.started)}, ${this.eta(t)}`;
  }

  /** `label [#####-----]  64/128  50%  ETA 7s` sized to the terminal. */
  bar(t = this.now()): string {
    const pct = Math.floor((100 * this.done) / Math.max(1, this.total));
    const counter = `${String(this.done).padStart(String(this.total).length)}/${this.total}`;
    const tail = ` ${counter} ${String(pct).padStart(3)}% ${this.eta(t)}`;
    const width = Math.max(
      10,
      Math.min(40, (this.stream.columns ?? 80) - this.label.length - tail.length - 4),
    );
    const filled = Math.round((width * this.done) / Math.max(1, this.total));
    return `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${tail}`;
  }

  private eta(t: number): string {
    if (this.done >= this.total) return `done in ${formatDuration(t - this.started)}`;
    if (this.done === 0) return 'ETA ?';
    const perStep = (t - this.started) / this.done;
    return `ETA ${formatDuration(perStep * (this.total - this.done))}`;
  }
}

/** 950 → "1s", 75_000 → "1m15s", 3_723_000 → "1h02m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
