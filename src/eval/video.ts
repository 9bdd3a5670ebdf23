import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CountSmoother, type CountSample, type SmootherOptions } from '../count/smoothing.js';
import { countMetrics, type CountMetrics } from './metrics.js';
import { parseCsv } from './dataset.js';

/**
 * Video evaluation: the true count as a step function of media time (labelled segments), the count Calven was
 * told as another (the events), and how far apart they are. Pure: times are seconds from the start of the video.
 */

/** `count` people from `start` (inclusive) to `end` (exclusive), in seconds. */
export interface TruthSegment {
  start: number;
  end: number;
  count: number;
}

/** The true count over time: segments in time order, not overlapping; gaps are unlabelled (not scored). */
export type Truth = readonly TruthSegment[];

/** One occupancy event as Calven gets it. */
export interface ReportedEvent {
  /** When it was sent: the media time of the frame whose result produced it (s). */
  at: number;
  /** Its timestamp: the frame from which the new count held (s); at or before `at`. */
  timestamp: number;
  count: number;
}

export const TRUTH_HEADER = 'start_s,end_s,count';

/**
 * Reads a truth file: CSV with header `start_s,end_s,count`, one labelled stretch of the video per row (seconds
 * from its start, end exclusive), in time order. Gaps are allowed (not scored); overlaps are not. Errors name the
 * file and line.
 */
export async function readTruth(file: string): Promise<Truth> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new Error(`cannot read truth file ${file}: ${why} (expected CSV ${TRUTH_HEADER})`, { cause: err });
  }
  return parseTruth(text, path.resolve(file));
}

export function parseTruth(text: string, file: string): Truth {
  const csv = parseCsv(text, file);
  const col = (name: string): number => {
    const i = csv.header.indexOf(name);
    if (i < 0) {
      throw new Error(
        `${file}:1: no "${name}" column in the header (${csv.header.join(',')}); expected ${TRUTH_HEADER}`,
      );
    }
    return i;
  };
  const [startCol, endCol, countCol] = [col('start_s'), col('end_s'), col('count')];
  const segments: TruthSegment[] = [];
  for (const { line, cells } of csv.rows) {
    const where = `${file}:${line}`;
    const num = (i: number, name: string): number => {
      const raw = cells[i]?.trim() ?? '';
      const n = Number(raw);
      if (raw === '' || !Number.isFinite(n) || n < 0)
        throw new Error(`${where}: ${name} "${raw}" is not a number >= 0`);
      return n;
    };
    const start = num(startCol, 'start_s');
    const end = num(endCol, 'end_s');
    const count = num(countCol, 'count');
    if (!Number.isInteger(count))
      throw new Error(`${where}: count "${cells[countCol]?.trim()}" is not a whole number`);
    if (end <= start) throw new Error(`${where}: end_s ${end} is not after start_s ${start}`);
    const prev = segments.at(-1);
    if (prev && start < prev.end) {
      throw new Error(
        `${where}: starts at ${start} s, before the previous row ends (${prev.end} s); rows must be in time order without overlaps`,
      );
    }
    segments.push({ start, end, count });
  }
  if (segments.length === 0) throw new Error(`${file}: no rows after the header (expected ${TRUTH_HEADER})`);
  return segments;
}

/** The true count at time t, undefined in a gap or outside the labelled span. */
export function truthAt(truth: Truth, t: number): number | undefined {
  return truth.find((s) => s.start <= t && t < s.end)?.count;
}

/** A change of the true count: at the start of a segment whose count differs from the one before it. */
export interface TrueChange {
  at: number;
  from: number;
  to: number;
}

export function trueChanges(truth: Truth): TrueChange[] {
  const changes: TrueChange[] = [];
  for (let i = 1; i < truth.length; i++) {
    const [a, b] = [truth[i - 1]!, truth[i]!];
    if (a.count !== b.count) changes.push({ at: b.start, from: a.count, to: b.count });
  }
  return changes;
}

/** How an event compares with the truth (see videoMetrics). */
export type EventVerdict = 'correct' | 'late' | 'on the way' | 'spurious' | 'unscored';

export interface ScoredEvent extends ReportedEvent {
  /** The true count when it was sent (undefined: unlabelled time). */
  truth: number | undefined;
  verdict: EventVerdict;
}

export interface ScoredChange extends TrueChange {
  /**
   * reached: an event sent at or after the change brought the new count before the truth changed again;
   * already: the count reported before the change was already the new one (usually an earlier change was
   * missed), so nothing had to be sent; missed: neither.
   */
  outcome: 'reached' | 'already' | 'missed';
  /** When the event that reached it was sent (s). */
  reachedAt?: number;
  /** reachedAt − at. */
  delay?: number;
  /** The timestamp of the event that reached it, minus `at` (what Calven's history shows). */
  timestampLag?: number;
}

export interface VideoMetrics {
  /** Scored stretch: from `from` (the first event, unless told otherwise) to the end of the labels. */
  from: number;
  to: number;
  /** Labelled seconds within [from, to] (gaps left out). */
  scoredSeconds: number;
  /** Labelled seconds before the first event (the count Calven had was unknown). */
  unknownSeconds: number;
  firstEventAt: number | undefined;
  /** Time-weighted mean of |reported − true| over the scored seconds. */
  mae: number;
  /** Time-weighted mean of reported − true (negative: under-counting). */
  bias: number;
  /** Share of the scored seconds with reported = true, in percent. */
  exactPct: number;
  /** Events sent before `to` (also before `from`: a replay's initial event counts too), with their verdicts. */
  events: ScoredEvent[];
  spurious: number;
  /** True changes within [from, to]. */
  changes: ScoredChange[];
  /** Mean delay over the changes reached; NaN if none. */
  meanDelay: number;
  meanTimestampLag: number;
  reached: number;
  already: number;
  missed: number;
}

/** The reported count at time t: the count of the last event sent at or before t. */
export function reportedAt(events: readonly ReportedEvent[], t: number): number | undefined {
  let count: number | undefined;
  for (const e of events) {
    if (e.at > t) break;
    count = e.count;
  }
  return count;
}

/**
 * Scores what Calven was told (events, in the order sent) against the truth, over [from, end of the labels]
 * where `from` defaults to the first event (before it the reported count is unknown) and `until` (the end of the
 * video, if the labels go on longer) cuts the end. Events sent before `to` are
 * judged and counted (also those before a later `from`); true changes and time are scored from `from` on.
 *
 * - MAE, bias, exact %: time-weighted over the labelled seconds, reported count as a step function of send time.
 * - Delay of a true change (at c, to n, lasting until the next change c'): from c to the first event sent in
 *   [c, c') with count n (reached). If the count reported before c already was n, nothing had to be sent
 *   (already); otherwise the change is missed. The mean is over the changes reached.
 * - Verdict of an event sent at s with count k (p = the count reported before it, T = the truth):
 *   correct if k = T(s); late if k = T(t) for some t in [s − lagSeconds, s) (a change reported late);
 *   on the way if k is strictly between p and T(s) (a step towards the truth); spurious otherwise;
 *   unscored if T(s) is unlabelled.
 */
export function videoMetrics(
  truth: Truth,
  sent: readonly ReportedEvent[],
  opts: { lagSeconds: number; from?: number; until?: number },
): VideoMetrics {
  const start = truth[0]!.start;
  const to = Math.min(truth.at(-1)!.end, opts.until ?? Infinity);
  const firstEventAt = sent[0]?.at;
  const from = Math.max(start, opts.from ?? firstEventAt ?? to);
  const labelled = (a: number, b: number): number =>
    truth.reduce((sum, s) => sum + Math.max(0, Math.min(b, s.end) - Math.max(a, s.start)), 0);

  // Integrate over the pieces between breakpoints, where both step functions are constant.
  const cuts = [...new Set([from, to, ...truth.flatMap((s) => [s.start, s.end]), ...sent.map((e) => e.at)])]
    .filter((t) => t >= from && t <= to)
    .sort((a, b) => a - b);
  let seconds = 0;
  let absSum = 0;
  let diffSum = 0;
  let exact = 0;
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [a, b] = [cuts[i]!, cuts[i + 1]!];
    const t = truthAt(truth, a);
    const r = reportedAt(sent, a);
    if (t === undefined || r === undefined) continue;
    const d = b - a;
    seconds += d;
    absSum += d * Math.abs(r - t);
    diffSum += d * (r - t);
    if (r === t) exact += d;
  }

  const events: ScoredEvent[] = [];
  sent.forEach((e, i) => {
    if (e.at >= to) return;
    const t = truthAt(truth, e.at);
    const previous = i > 0 ? sent[i - 1]!.count : undefined;
    events.push({ ...e, truth: t, verdict: verdict(truth, e, t, previous, opts.lagSeconds) });
  });

  const all = trueChanges(truth);
  const changes: ScoredChange[] = [];
  all.forEach((c, i) => {
    if (c.at < from || c.at >= to) return;
    const until = all[i + 1]?.at ?? to;
    const before = [...sent].reverse().find((e) => e.at < c.at);
    const reaching = sent.find((e) => e.at >= c.at && e.at < until && e.count === c.to);
    if (before?.count === c.to) changes.push({ ...c, outcome: 'already' });
    else if (!reaching) changes.push({ ...c, outcome: 'missed' });
    else {
      changes.push({
        ...c,
        outcome: 'reached',
        reachedAt: reaching.at,
        delay: reaching.at - c.at,
        timestampLag: reaching.timestamp - c.at,
      });
    }
  });
  const reached = changes.filter((c) => c.outcome === 'reached');
  const mean = (values: number[]): number =>
    values.length ? values.reduce((s, v) => s + v, 0) / values.length : NaN;

  return {
    from,
    to,
    scoredSeconds: seconds,
    unknownSeconds: labelled(start, firstEventAt ?? to),
    firstEventAt,
    mae: seconds ? absSum / seconds : NaN,
    bias: seconds ? diffSum / seconds : NaN,
    exactPct: seconds ? (100 * exact) / seconds : NaN,
    events,
    spurious: events.filter((e) => e.verdict === 'spurious').length,
    changes,
    meanDelay: mean(reached.map((c) => c.delay!)),
    meanTimestampLag: mean(reached.map((c) => c.timestampLag!)),
    reached: reached.length,
    already: changes.filter((c) => c.outcome === 'already').length,
    missed: changes.filter((c) => c.outcome === 'missed').length,
  };
}

function verdict(
  truth: Truth,
  e: ReportedEvent,
  t: number | undefined,
  previous: number | undefined,
  lagSeconds: number,
): EventVerdict {
  if (t === undefined) return 'unscored';
  if (e.count === t) return 'correct';
  const recent = truth.some((s) => s.count === e.count && s.end > e.at - lagSeconds && s.start < e.at);
  if (recent) return 'late';
  if (previous !== undefined && e.count > Math.min(previous, t) && e.count < Math.max(previous, t))
    return 'on the way';
  return 'spurious';
}

/** Per-frame accuracy of the raw counts (detector + region, before smoothing) at labelled frame times. */
export function frameMetrics(truth: Truth, samples: readonly { at: number; count: number }[]): CountMetrics {
  const pairs = samples.flatMap((s) => {
    const t = truthAt(truth, s.at);
    return t === undefined ? [] : [{ truth: t, predicted: s.count }];
  });
  return countMetrics(pairs);
}

/**
 * The events a CountSmoother with `options` would send for these per-frame counts (in time order, ms as a room
 * gets them): the same code a room runs, so replaying the room's own settings gives the room's events. Times
 * stay in ms.
 */
export function replaySmoother(samples: readonly CountSample[], options: SmootherOptions): ReportedEvent[] {
  const smoother = new CountSmoother(options);
  const out: ReportedEvent[] = [];
  for (const sample of samples) {
    const change = smoother.push(sample);
    if (change) out.push({ at: sample.at, timestamp: change.at, count: change.count });
  }
  return out;
}

/** How late a room's smoother can report a change: the allowance for a "late" (not spurious) event. */
export function lagAllowance(o: {
  windowSeconds: number;
  minStableSeconds?: number;
  emptyHoldSeconds?: number;
  minEventIntervalSeconds?: number;
}): number {
  return (
    o.windowSeconds +
    Math.max(o.minStableSeconds ?? 0, o.emptyHoldSeconds ?? 0) +
    (o.minEventIntervalSeconds ?? 0)
  );
}
