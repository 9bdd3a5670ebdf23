import { describe, expect, it } from 'vitest';
import {
  CountSmoother,
  isSmoothingMethod,
  median,
  mode,
  percentile,
  smoothingFunction,
} from '../src/count/smoothing.js';

/** Feeds one count per second starting at t0 and returns the changes reported. */
function feed(smoother: CountSmoother, counts: number[], t0 = 1_000_000) {
  return counts
    .map((count, i) => smoother.push({ at: t0 + i * 1000, count }))
    .map((change, i) => (change ? { i, ...change } : undefined))
    .filter((c) => c !== undefined);
}

describe('median', () => {
  it('takes the lower middle value on an even split', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([0, 1])).toBe(0);
    expect(median([4, 4, 5, 5])).toBe(4);
    expect(() => median([])).toThrow();
  });
});

describe('mode', () => {
  it('takes the most frequent value, the smaller one on a tie', () => {
    expect(mode([2, 3, 3, 1])).toBe(3);
    expect(mode([4, 1, 4, 1])).toBe(1);
    expect(() => mode([])).toThrow();
  });
});

describe('percentile', () => {
  it('takes the nearest rank: p50 is the lower median, p100 the max', () => {
    expect(percentile([0, 1, 1, 2], 50)).toBe(median([0, 1, 1, 2]));
    expect(percentile([3, 0, 1, 2], 75)).toBe(2);
    expect(percentile([3, 0, 1, 2], 76)).toBe(3);
    expect(percentile([5, 1, 9], 100)).toBe(9);
    expect(percentile([5], 1)).toBe(5);
    expect(() => percentile([], 75)).toThrow();
    expect(() => percentile([1], 0)).toThrow();
  });

  it('is a smoothing method named p1..p99', () => {
    expect(['median', 'mode', 'max', 'p1', 'p75', 'p99'].every(isSmoothingMethod)).toBe(true);
    expect(['p0', 'p100', 'p7.5', 'P75', 'mean', 'p'].some(isSmoothingMethod)).toBe(false);
    expect(smoothingFunction('p75')([0, 0, 1, 2, 2, 2, 2, 2])).toBe(2);
    expect(smoothingFunction('median')([0, 0, 1, 2, 2, 2, 2, 2])).toBe(2);
    expect(smoothingFunction('p75')([0, 0, 0, 0, 0, 3, 3, 3])).toBe(3);
    expect(smoothingFunction('median')([0, 0, 0, 0, 0, 3, 3, 3])).toBe(0);
    expect(smoothingFunction('max')([1, 4, 2])).toBe(4);
  });
});

describe('CountSmoother', () => {
  it('smooths with a percentile: a count seen in a quarter of the window is enough for p75', () => {
    const s = new CountSmoother({ windowSeconds: 4, heartbeatSeconds: 0, smoothing: 'p75' });
    const changes = feed(s, [1, 1, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1]);
    // Window of 4 samples: [1,2,1,1] → p75 = rank 3 → 1; at i=9 [1,1,1,2] → 1: never 2 with one in four...
    expect(changes.map((c) => c.count)).toEqual([1]);
    const t = new CountSmoother({ windowSeconds: 4, heartbeatSeconds: 0, smoothing: 'p75' });
    // ...but two in four are (the median needs three).
    expect(feed(t, [1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 2, 1]).map((c) => c.count)).toEqual([1, 2]);
  });

  it('reports nothing until the first window is full, then the initial count', () => {
    const s = new CountSmoother({ windowSeconds: 5, heartbeatSeconds: 0 });
    const changes = feed(s, [2, 2, 2, 2, 2, 2, 2]);
    expect(changes).toEqual([{ i: 5, count: 2, at: 1_005_000, reason: 'initial' }]);
  });

  it('ignores a short flicker and reports a lasting change once, timed by its frame', () => {
    const s = new CountSmoother({ windowSeconds: 5, heartbeatSeconds: 0 });
    const counts = [1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3];
    const changes = feed(s, counts);
    expect(changes.map((c) => [c.i, c.count, c.reason])).toEqual([
      [5, 1, 'initial'],
      [12, 3, 'change'],
    ]);
    expect(changes[1]!.at).toBe(1_000_000 + 12_000);
  });

  it('re-sends the current count on the heartbeat', () => {
    const s = new CountSmoother({ windowSeconds: 2, heartbeatSeconds: 5 });
    const changes = feed(s, Array(14).fill(1));
    expect(changes.map((c) => [c.i, c.reason])).toEqual([
      [2, 'initial'],
      [7, 'heartbeat'],
      [12, 'heartbeat'],
    ]);
  });

  it('after a camera gap waits for a full window again and does not repeat an unchanged count', () => {
    const s = new CountSmoother({ windowSeconds: 3, heartbeatSeconds: 0 });
    expect(feed(s, [2, 2, 2, 2]).map((c) => c.reason)).toEqual(['initial']);
    s.resetWindow();
    expect(feed(s, [2, 2, 2, 2, 2], 2_000_000)).toEqual([]);
    s.resetWindow();
    const after = feed(s, [0, 0, 0, 0], 3_000_000);
    expect(after.map((c) => [c.i, c.count])).toEqual([[3, 0]]);
  });

  it('mode and max smoothing', () => {
    const run = (smoothing: 'mode' | 'max' | 'median', counts: number[]) =>
      feed(new CountSmoother({ windowSeconds: 5, heartbeatSeconds: 0, smoothing }), counts).map(
        (c) => c.count,
      );
    const blip = [1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1];
    expect(run('median', blip)).toEqual([1]);
    expect(run('mode', blip)).toEqual([1]);
    expect(run('max', blip)).toEqual([3, 1]); // max keeps the 3 while it is in the 5 s window
    const spread = [0, 0, 3, 4, 5, 5];
    // At the first full window (t = 5 s) it holds 0, 3, 4, 5, 5.
    expect(run('median', spread)).toEqual([4]);
    expect(run('mode', spread)).toEqual([5]);
  });

  it('hysteresis: a new count must hold minStableSeconds; it is dated from when it started to hold', () => {
    const s = new CountSmoother({ windowSeconds: 1, heartbeatSeconds: 0, minStableSeconds: 3 });
    //            0  1  2  3  4  5  6  7  8  9
    const counts = [1, 1, 2, 2, 1, 2, 2, 2, 2, 2];
    const changes = feed(s, counts);
    expect(changes.map((c) => [c.i, c.count, c.reason])).toEqual([
      [1, 1, 'initial'],
      [8, 2, 'change'], // 2 from i=5 held 3 s at i=8; the brief 2 at i=2..3 never did
    ]);
    expect(changes[1]!.at).toBe(1_000_000 + 5000);
  });

  it('empty needs a longer hold than occupied', () => {
    const s = new CountSmoother({
      windowSeconds: 1,
      heartbeatSeconds: 0,
      minStableSeconds: 1,
      emptyHoldSeconds: 5,
    });
    const counts = [0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
    expect(feed(s, counts).map((c) => [c.i, c.count])).toEqual([
      [1, 0],
      [3, 1], // empty → occupied after 1 s
      [14, 0], // occupied → empty only after 5 s of empty (the step-out at i=5..7 was ignored)
    ]);
  });

  it('at most one event per minEventIntervalSeconds', () => {
    const s = new CountSmoother({ windowSeconds: 1, heartbeatSeconds: 0, minEventIntervalSeconds: 4 });
    const counts = [1, 1, 2, 3, 4, 5, 5, 5, 5, 5];
    expect(feed(s, counts).map((c) => [c.i, c.count])).toEqual([
      [1, 1],
      [5, 5], // 2, 3 and 4 came within 4 s of the initial event; 5 is reported as soon as allowed
    ]);
  });
});
