import { describe, expect, it } from 'vitest';
import { CountSmoother, median } from '../src/count/smoothing.js';

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

describe('CountSmoother', () => {
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
});
