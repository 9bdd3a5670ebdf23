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
  /** Time of the frame from which the new count held (becomes the event timestamp). */
  at: number;
  reason: 'initial' | 'change' | 'heartbeat';
}

/**
 * `median` (lower median), `mode`, `max`, or a percentile `p1`..`p99` (nearest rank: `p50` is the lower median,
 * `p75` the value three quarters up the sorted window). Detectors mostly miss people and rarely invent them, so a
 * percentile above the median can follow the true count more closely than the median does.
 */
export type SmoothingMethod = 'median' | 'mode' | 'max' | `p${number}`;

const PERCENTILE = /^p([1-9][0-9]?)$/;

/** Whether `value` names a smoothing method (the config schema checks YAML values with it). */
export function isSmoothingMethod(value: string): value is SmoothingMethod {
  return value === 'median' || value === 'mode' || value === 'max' || PERCENTILE.test(value);
}

export interface SmootherOptions {
  windowSeconds: number;
  /** Re-report the current count every N seconds; 0 = only on change. */
  heartbeatSeconds: number;
  /** How the counts in the window become one: median (default), mode (most frequent), max or a percentile. */
  smoothing?: SmoothingMethod;
  /** A new smoothed count must hold this long before it is reported. */
  minStableSeconds?: number;
  /** Going from occupied to empty must hold this long (usually longer: people step out briefly). */
  emptyHoldSeconds?: number;
  /** At most one event per this many seconds (heartbeats included). */
  minEventIntervalSeconds?: number;
}

/** Lower median: on an even split the smaller value wins, so one spurious frame cannot raise the count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Most frequent value; a tie goes to the smaller value. */
export function mode(values: readonly number[]): number {
  if (values.length === 0) throw new Error('mode of no values');
  const freq = new Map<number, number>();
  for (const v of values) freq.set(v, (freq.get(v) ?? 0) + 1);
  let best = values[0]!;
  for (const [v, n] of freq) {
    const bestN = freq.get(best)!;
    if (n > bestN || (n === bestN && v < best)) best = v;
  }
  return best;
}

/** Nearest-rank percentile (0 < p <= 100): the smallest value with at least p % of the values at or below it. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  if (!(p > 0 && p <= 100)) throw new Error(`percentile ${p} is not within (0, 100]`);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
}

/** The function a smoothing method names. */
export function smoothingFunction(method: SmoothingMethod): (values: readonly number[]) => number {
  if (method === 'median') return median;
  if (method === 'mode') return mode;
  if (method === 'max') return (values) => Math.max(...values);
  const match = PERCENTILE.exec(method);
  if (!match) throw new Error(`unknown smoothing method "${method}"`);
  const p = Number(match[1]);
  return (values) => percentile(values, p);
}

export class CountSmoother {
  private samples: CountSample[] = [];
  private firstAt: number | undefined;
  private reported: { count: number; at: number; sentAt: number } | undefined;
  /** A smoothed count that differs from the reported one, and since when it has held. */
  private candidate: { count: number; since: number } | undefined;
  private readonly reduce: (values: readonly number[]) => number;

  constructor(private readonly opts: SmootherOptions) {
    this.reduce = smoothingFunction(opts.smoothing ?? 'median');
  }

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

    const count = this.reduce(this.samples.map((s) => s.count));
    if (!this.reported) return this.report(count, sample.at, sample.at, 'initial');
    const intervalOk = sample.at - this.reported.sentAt >= (this.opts.minEventIntervalSeconds ?? 0) * 1000;

    if (count === this.reported.count) {
      this.candidate = undefined;
      const heartbeatMs = this.opts.heartbeatSeconds * 1000;
      if (heartbeatMs > 0 && intervalOk && sample.at - this.reported.sentAt >= heartbeatMs) {
        return this.report(count, sample.at, sample.at, 'heartbeat');
      }
      return undefined;
    }

    if (this.candidate?.count !== count) this.candidate = { count, since: sample.at };
    const emptying = count === 0 && this.reported.count > 0;
    const holdMs = ((emptying ? this.opts.emptyHoldSeconds : this.opts.minStableSeconds) ?? 0) * 1000;
    if (sample.at - this.candidate.since >= holdMs && intervalOk) {
      return this.report(count, this.candidate.since, sample.at, 'change');
    }
    return undefined;
  }

  /** Forget the window (after a camera gap), keeping the last reported count so no duplicate is sent. */
  resetWindow(): void {
    this.samples = [];
    this.firstAt = undefined;
    this.candidate = undefined;
  }

  private report(count: number, at: number, now: number, reason: CountChange['reason']): CountChange {
    this.reported = { count, at, sentAt: now };
    this.candidate = undefined;
    return { count, at, reason };
  }
}
