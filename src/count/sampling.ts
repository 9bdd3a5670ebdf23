/**
 * Adaptive sampling: which of a room's frames go to the detector. Occupancy changes over minutes, so while the
 * room's count holds there is no need to look every second: the rate drops step by step to `minSampleFps`. The
 * moment an analysed frame's count differs from the reported one (or nothing is reported yet) it is back to
 * `sampleFps`, so a change is confirmed (smoothing window, minStableSeconds, emptyHoldSeconds) at the full rate.
 * A change is therefore noticed at most 1/minSampleFps s later than at the full rate, and the smoothing window
 * holds fewer of the quiet time's samples, which a change outweighs sooner. Pure: time comes in with every call.
 */

/** Default `minSampleFps`: one frame every 4 s in a quiet room (2–3 frames per default 10 s window). */
export const DEFAULT_MIN_SAMPLE_FPS = 0.25;

export interface SamplingOptions {
  /** Frames per second the camera delivers and a room analyses when its count is moving. */
  sampleFps: number;
  /** The lowest rate, while the count holds; ≥ sampleFps turns adaptive sampling off. */
  minSampleFps?: number;
  /** The raw count must agree with the reported one this long before the rate starts to drop (s). */
  settleSeconds: number;
}

export class AdaptiveSampler {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly settleMs: number;
  private intervalMs: number;
  private lastTaken: number | undefined;
  /** Since when analysed frames agree with the reported count. */
  private agreeSince: number | undefined;

  constructor(opts: SamplingOptions) {
    this.baseMs = 1000 / opts.sampleFps;
    this.maxMs = Math.max(this.baseMs, 1000 / (opts.minSampleFps ?? DEFAULT_MIN_SAMPLE_FPS));
    this.settleMs = opts.settleSeconds * 1000;
    this.intervalMs = this.baseMs;
  }

  /** The rate frames are analysed at now (frames per second). */
  get fps(): number {
    return 1000 / this.intervalMs;
  }

  /**
   * Whether the frame captured at `at` (ms) should be analysed; if so it is counted as taken. Frames come about
   * 1/sampleFps apart; half of that is allowed for their jitter.
   */
  take(at: number): boolean {
    if (!this.due(at)) return false;
    this.lastTaken = at;
    return true;
  }

  /** Whether `take(at)` would take a frame (asked before a frame's pixels are read, to pass over the rest). */
  due(at: number): boolean {
    return this.lastTaken === undefined || at - this.lastTaken >= this.intervalMs - this.baseMs / 2;
  }

  /**
   * An analysed frame's result: the people counted in it (`raw`) and the count reported after it (undefined
   * while none is). A difference brings the full rate back at once; agreement for settleSeconds halves the rate,
   * and again with every further agreeing frame, down to minSampleFps.
   */
  observe(at: number, raw: number, reported: number | undefined): void {
    if (reported === undefined || raw !== reported) {
      this.agreeSince = undefined;
      this.intervalMs = this.baseMs;
      return;
    }
    this.agreeSince ??= at;
    if (at - this.agreeSince >= this.settleMs) this.intervalMs = Math.min(this.maxMs, this.intervalMs * 2);
  }

  /**
   * Whether analysed frames have agreed with the reported count for settleSeconds by `at`: the count is
   * confirmed, and a frame that shows the same picture would show the same count.
   */
  settled(at: number): boolean {
    return this.agreeSince !== undefined && at - this.agreeSince >= this.settleMs;
  }

  /** Frames stopped (camera gap): start again at the full rate. */
  reset(): void {
    this.intervalMs = this.baseMs;
    this.lastTaken = undefined;
    this.agreeSince = undefined;
  }
}
