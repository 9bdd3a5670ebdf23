import { describe, expect, it } from 'vitest';
import { AdaptiveSampler, DEFAULT_MIN_SAMPLE_FPS } from '../src/count/sampling.js';

/** Feeds one frame per second from `from` to `to` s; `count(t)` is the raw count, `reported` the room's. */
function run(
  sampler: AdaptiveSampler,
  from: number,
  to: number,
  count: (t: number) => number,
  reported: (t: number) => number | undefined,
): number[] {
  const taken: number[] = [];
  for (let t = from; t < to; t++) {
    if (!sampler.take(t * 1000)) continue;
    taken.push(t);
    sampler.observe(t * 1000, count(t), reported(t));
  }
  return taken;
}

describe('AdaptiveSampler', () => {
  it('analyses every frame until a count is reported and while frames disagree with it', () => {
    const s = new AdaptiveSampler({ sampleFps: 1, minSampleFps: 0.25, settleSeconds: 10 });
    expect(
      run(
        s,
        0,
        10,
        () => 2,
        () => undefined,
      ),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(
      run(
        s,
        10,
        20,
        (t) => t % 2,
        () => 0,
      ),
    ).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(s.fps).toBe(1);
  });

  it('drops the rate step by step to minSampleFps once the count has held for settleSeconds', () => {
    const s = new AdaptiveSampler({ sampleFps: 1, minSampleFps: 0.25, settleSeconds: 10 });
    const taken = run(
      s,
      0,
      40,
      () => 3,
      () => 3,
    );
    // 0..10 at 1 fps (agreeing since 0; settled at 10), then 2 s, then 4 s apart.
    expect(taken).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 20, 24, 28, 32, 36]);
    expect(s.fps).toBe(0.25);
  });

  it('is back at the full rate from the first frame whose count differs, and settles again', () => {
    const s = new AdaptiveSampler({ sampleFps: 1, minSampleFps: 0.25, settleSeconds: 5 });
    run(
      s,
      0,
      30,
      () => 1,
      () => 1,
    );
    expect(s.fps).toBe(0.25);
    // Someone comes in at 31 s; the room reports 2 from 36 s.
    const taken = run(
      s,
      30,
      60,
      (t) => (t >= 31 ? 2 : 1),
      (t) => (t >= 36 ? 2 : 1),
    );
    const firstSeen = taken.find((t) => t >= 31)!;
    expect(firstSeen).toBeLessThanOrEqual(31 + 4); // noticed within 1 / minSampleFps
    const after = taken.filter((t) => t >= firstSeen);
    // Every frame from then on until the new count has held settleSeconds after it was reported (36 + 5).
    expect(after.slice(0, 41 - firstSeen + 1)).toEqual(
      Array.from({ length: 41 - firstSeen + 1 }, (_, i) => firstSeen + i),
    );
    expect(s.fps).toBe(0.25);
  });

  it('takes frames that come a little early (jitter) and not more than one per slot', () => {
    const s = new AdaptiveSampler({ sampleFps: 2, minSampleFps: 2, settleSeconds: 1 });
    const at = [0, 480, 990, 1000, 1510, 1600, 2000];
    expect(at.filter((t) => s.take(t))).toEqual([0, 480, 990, 1510, 2000]);
  });

  it('is off when minSampleFps is at least sampleFps; defaults to 0.25 fps; reset restarts at full rate', () => {
    const off = new AdaptiveSampler({ sampleFps: 1, minSampleFps: 2, settleSeconds: 2 });
    expect(
      run(
        off,
        0,
        40,
        () => 0,
        () => 0,
      ),
    ).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const d = new AdaptiveSampler({ sampleFps: 1, settleSeconds: 0 });
    run(
      d,
      0,
      60,
      () => 0,
      () => 0,
    );
    expect(d.fps).toBe(DEFAULT_MIN_SAMPLE_FPS);
    d.reset();
    expect(d.fps).toBe(1);
    expect(d.take(61_000) && d.take(62_000)).toBe(true);
  });

  it('settled: frames have agreed with the reported count for settleSeconds (also with adaptive sampling off)', () => {
    const s = new AdaptiveSampler({ sampleFps: 1, minSampleFps: 1, settleSeconds: 10 });
    s.observe(0, 2, undefined);
    expect(s.settled(0)).toBe(false);
    s.observe(1000, 2, 2);
    expect(s.settled(10_000)).toBe(false);
    expect(s.settled(11_000)).toBe(true);
    s.observe(12_000, 3, 2);
    expect(s.settled(30_000)).toBe(false);
    s.observe(13_000, 2, 2);
    s.reset();
    expect(s.settled(60_000)).toBe(false);
  });
});
