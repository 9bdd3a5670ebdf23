import { describe, expect, it } from 'vitest';
import {
  frameMetrics,
  lagAllowance,
  parseTruth,
  replaySmoother,
  reportedAt,
  trueChanges,
  truthAt,
  videoMetrics,
  type ReportedEvent,
} from '../src/eval/video.js';
import { CountSmoother } from '../src/count/smoothing.js';

// 0 people 0–10 s, 1 person 10–25 s, 3 people 25–45 s, 1 person 45–60 s.
const TRUTH = parseTruth('start_s,end_s,count\n0,10,0\n10,25,1\n25,45,3\n45,60,1\n', 'truth.csv');
const ev = (at: number, count: number, timestamp = at): ReportedEvent => ({ at, count, timestamp });

describe('parseTruth', () => {
  it('reads segments; a gap is allowed and unlabelled', () => {
    const truth = parseTruth('\uFEFFcount,start_s,end_s\r\n2,0,5.5\r\n3,7,9\r\n', 't.csv');
    expect(truth).toEqual([
      { start: 0, end: 5.5, count: 2 },
      { start: 7, end: 9, count: 3 },
    ]);
    expect([truthAt(truth, 0), truthAt(truth, 5.5), truthAt(truth, 8.9), truthAt(truth, 9)]).toEqual([
      2,
      undefined,
      3,
      undefined,
    ]);
  });

  it('names the file and line of a bad row', () => {
    const bad = (rows: string) => () => parseTruth(`start_s,end_s,count\n0,10,1\n${rows}`, 't.csv');
    expect(bad('10,20,x')).toThrow('t.csv:3: count "x" is not a number >= 0');
    expect(bad('10,20,1.5')).toThrow('t.csv:3: count "1.5" is not a whole number');
    expect(bad('20,15,1')).toThrow('t.csv:3: end_s 15 is not after start_s 20');
    expect(bad('5,15,1')).toThrow('t.csv:3: starts at 5 s, before the previous row ends (10 s)');
    expect(bad('10,,1')).toThrow('t.csv:3: end_s "" is not a number >= 0');
    expect(() => parseTruth('start,end,count\n0,1,1\n', 't.csv')).toThrow(
      't.csv:1: no "start_s" column in the header (start,end,count); expected start_s,end_s,count',
    );
    expect(() => parseTruth('start_s,end_s,count\n', 't.csv')).toThrow('t.csv: no rows after the header');
  });
});

describe('videoMetrics', () => {
  it('a perfect, instant report: MAE 0, 100 % exact, no delay, nothing spurious', () => {
    const m = videoMetrics(TRUTH, [ev(0, 0), ev(10, 1), ev(25, 3), ev(45, 1)], { lagSeconds: 10 });
    expect(m).toMatchObject({ from: 0, to: 60, scoredSeconds: 60, unknownSeconds: 0, mae: 0, bias: 0 });
    expect(m.exactPct).toBe(100);
    expect(m.changes.map((c) => [c.at, c.from, c.to, c.outcome, c.delay])).toEqual([
      [10, 0, 1, 'reached', 0],
      [25, 1, 3, 'reached', 0],
      [45, 3, 1, 'reached', 0],
    ]);
    expect(m.events.map((e) => e.verdict)).toEqual(['correct', 'correct', 'correct', 'correct']);
    expect([m.meanDelay, m.reached, m.missed, m.already, m.spurious]).toEqual([0, 3, 0, 0, 0]);
  });

  it('scores from the first event; time-weighted error, delays, timestamp lag', () => {
    // Initial at 5 s; each change reported 4 s late (timestamps 2 s late); the 3 is under-counted as 2 first.
    const events = [ev(5, 0), ev(14, 1, 12), ev(29, 2, 27), ev(33, 3, 31), ev(49, 1, 47)];
    const m = videoMetrics(TRUTH, events, { lagSeconds: 10 });
    expect([m.from, m.firstEventAt, m.unknownSeconds, m.scoredSeconds]).toEqual([5, 5, 5, 55]);
    // Wrong: 10–14 (|0−1| = 1), 25–29 (|1−3| = 2), 29–33 (|2−3| = 1), 45–49 (|3−1| = 2) → 4+8+4+8 = 24.
    expect(m.mae).toBeCloseTo(24 / 55, 10);
    expect(m.bias).toBeCloseTo((-4 - 8 - 4 + 8) / 55, 10);
    expect(m.exactPct).toBeCloseTo((100 * (55 - 16)) / 55, 10);
    expect(m.changes.map((c) => [c.delay, c.timestampLag])).toEqual([
      [4, 2],
      [8, 6],
      [4, 2],
    ]);
    expect(m.meanDelay).toBeCloseTo(16 / 3, 10);
    expect(m.meanTimestampLag).toBeCloseTo(10 / 3, 10);
    // 2 when the truth is 3 and 1 was reported before: a step on the way, not spurious.
    expect(m.events.map((e) => e.verdict)).toEqual([
      'correct',
      'correct',
      'on the way',
      'correct',
      'correct',
    ]);
    expect(m.spurious).toBe(0);
  });

  it('a change never reached before the next one is missed; late and spurious events', () => {
    const truth = parseTruth('start_s,end_s,count\n0,20,2\n20,30,4\n30,60,2\n', 't.csv');
    // The 4 is never reported; a 1 at 40 s (nobody left) is spurious; then 2 again.
    const m = videoMetrics(truth, [ev(0, 2), ev(40, 1), ev(50, 2)], { lagSeconds: 10 });
    expect(m.changes.map((c) => [c.at, c.outcome, c.delay])).toEqual([
      [20, 'missed', undefined],
      [30, 'already', undefined], // the reported 2 stood when the truth fell back to 2
    ]);
    expect([m.reached, m.missed, m.already, m.meanDelay]).toEqual([0, 1, 1, NaN]);
    expect(m.events.map((e) => e.verdict)).toEqual(['correct', 'spurious', 'correct']);
    expect(m.spurious).toBe(1);

    // A 4 sent at 33 s, after the truth fell back to 2 at 30 s: late (true 3 s before), not spurious...
    const late = videoMetrics(truth, [ev(0, 2), ev(33, 4), ev(45, 2)], { lagSeconds: 10 });
    expect(late.events.map((e) => e.verdict)).toEqual(['correct', 'late', 'correct']);
    expect(late.changes.map((c) => c.outcome)).toEqual(['missed', 'already']); // 2 stood until 33 s
    // ...unless it comes later than the allowance.
    const tooLate = videoMetrics(truth, [ev(0, 2), ev(45, 4)], { lagSeconds: 10 });
    expect(tooLate.events.map((e) => e.verdict)).toEqual(['correct', 'spurious']);
    // A deliberately wrong truth makes the same events look bad.
    const wrong = parseTruth('start_s,end_s,count\n0,60,1\n', 't.csv');
    const w = videoMetrics(wrong, [ev(0, 2), ev(45, 4)], { lagSeconds: 10 });
    expect(w.mae).toBeCloseTo((45 * 1 + 15 * 3) / 60, 10);
    expect(w.exactPct).toBe(0);
    expect(w.spurious).toBe(2);
  });

  it('from: a later start for comparing settings; gaps are not scored; no events at all', () => {
    const truth = parseTruth('start_s,end_s,count\n0,10,1\n15,30,2\n', 't.csv');
    const m = videoMetrics(truth, [ev(2, 1), ev(20, 2)], { lagSeconds: 5, from: 12 });
    // Scored 15–30 (12–15 is a gap): wrong 15–20.
    expect([m.from, m.scoredSeconds, m.mae, m.unknownSeconds]).toEqual([12, 15, 5 / 15, 2]);
    expect(m.events.map((e) => e.at)).toEqual([2, 20]); // judged even before `from`
    expect(m.changes.map((c) => [c.at, c.delay])).toEqual([[15, 5]]);

    // until: labels past the end of the video are not scored.
    const cut = videoMetrics(truth, [ev(2, 1), ev(20, 2)], { lagSeconds: 5, until: 25 });
    expect([cut.to, cut.scoredSeconds, cut.mae]).toEqual([25, 8 + 10, 5 / 18]);

    const none = videoMetrics(truth, [], { lagSeconds: 5 });
    expect([none.firstEventAt, none.scoredSeconds, none.unknownSeconds, none.events.length]).toEqual([
      undefined,
      0,
      25,
      0,
    ]);
    expect(none.mae).toBeNaN();
  });

  it('helpers: true changes, reported count, lag allowance, per-frame accuracy', () => {
    expect(trueChanges(parseTruth('start_s,end_s,count\n0,5,1\n5,8,1\n8,9,0\n', 't.csv'))).toEqual([
      { at: 8, from: 1, to: 0 },
    ]);
    expect([reportedAt([ev(5, 2), ev(9, 3)], 4), reportedAt([ev(5, 2), ev(9, 3)], 9)]).toEqual([
      undefined,
      3,
    ]);
    expect(
      lagAllowance({
        windowSeconds: 10,
        minStableSeconds: 2,
        emptyHoldSeconds: 20,
        minEventIntervalSeconds: 5,
      }),
    ).toBe(35);
    const f = frameMetrics(TRUTH, [
      { at: 0, count: 0 },
      { at: 30, count: 2 },
      { at: 70, count: 9 }, // unlabelled: left out
    ]);
    expect([f.n, f.mae, f.exactPct]).toEqual([2, 0.5, 50]);
  });
});

describe('replaySmoother', () => {
  it('sends what a CountSmoother sends, with send times and event timestamps', () => {
    const counts = [1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3];
    const samples = counts.map((count, i) => ({ at: i * 1000, count }));
    const options = { windowSeconds: 5, heartbeatSeconds: 0, minStableSeconds: 1 };
    const events = replaySmoother(samples, options);
    const smoother = new CountSmoother(options);
    const direct = samples.flatMap((s) => {
      const c = smoother.push(s);
      return c ? [{ at: s.at, timestamp: c.at, count: c.count }] : [];
    });
    expect(events).toEqual(direct);
    expect(events).toEqual([
      { at: 5000, timestamp: 5000, count: 1 },
      { at: 9000, timestamp: 8000, count: 3 }, // the median turned 3 at 8 s and held for minStableSeconds
    ]);
  });
});
