/**
 * Turns per-frame person counts into a smoothed room count and decides when it is news.
 * Pure: time comes in with every sample, nothing reads a clock.
 */
export interface CountSample {
  /** Capture time of the frame, ms since epoch. */
  at: number;
  count: number;
}

export interface CountChange {
  count: number;
  /** Time of the frame that established this count (becomes the event timestamp). */
  at: number;
  reason: 'initial' | 'change' | 'heartbeat';
}

export interface SmootherOptions {
  windowSeconds: number;
  /** Re-report the current count every N seconds; 0 = only on change. */
  heartbeatSeconds: number;
}

/** Lower median: on an even split the smaller value wins, so one spurious frame cannot raise the count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export class CountSmoother {
  private samples: CountSample[] = [];
  private firstAt: number | undefined;
  private reported: { count: number; at: number } | undefined;

  constructor(private readonly opts: SmootherOptions) {}

  /** The last reported count, if any. */
  get current(): number | undefined {
    return this.reported?.count;
  }

  /** Adds one frame's count; returns a change to report, or undefined. Samples must arrive in time order. */
  push(sample: CountSample): CountChange | undefined {
    const windowMs = this.opts.windowSeconds * 1000;
    this.firstAt ??= sample.at;
    this.samples.push(sample);
    while (this.samples.length > 0 && this.samples[0]!.at <= sample.at - windowMs) this.samples.shift();
    // The first count is reported once a whole window of frames has been seen.
    if (sample.at - this.firstAt < windowMs) return undefined;

    const count = median(this.samples.map((s) => s.count));
    if (!this.reported) return this.report(count, sample.at, 'initial');
    if (count !== this.reported.count) return this.report(count, sample.at, 'change');
    const heartbeatMs = this.opts.heartbeatSeconds * 1000;
    if (heartbeatMs > 0 && sample.at - this.reported.at >= heartbeatMs) {
      return this.report(count, sample.at, 'heartbeat');
    }
    return undefined;
  }

  /** Forget the window (after a camera gap), keeping the last reported count so no duplicate is sent. */
  resetWindow(): void {
    this.samples = [];
    this.firstAt = undefined;
  }

  private report(count: number, at: number, reason: CountChange['reason']): CountChange {
    this.reported = { count, at };
    return { count, at, reason };
  }
}
