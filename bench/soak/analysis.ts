/**
 * The soak's measurements as pure functions of what the harness recorded (wall-clock ms): the true count of a
 * room's clip at a moment, the count Calven shows for a room at a moment, how long after a fault the two agree
 * again, duplicates, lost events and memory growth. No I/O: bench/soak.ts records, these judge.
 */

/** One stretch of a clip with a known number of people in it. */
export interface TruthSegment {
  seconds: number;
  count: number;
}

/** The clip's true count `mediaS` seconds after it started; the camera loops the clip. */
export function truthAtMedia(segments: readonly TruthSegment[], mediaS: number): number {
  const length = segments.reduce((s, seg) => s + seg.seconds, 0);
  let t = ((mediaS % length) + length) % length;
  for (const seg of segments) {
    if (t < seg.seconds) return seg.count;
    t -= seg.seconds;
  }
  return segments.at(-1)!.count;
}

/**
 * When the camera's clip started playing (wall-clock ms), from `from` on. A restarted camera server starts its
 * clip again, so a room has one origin per camera server life.
 */
export interface ClipOrigin {
  from: number;
  origin: number;
}

/** The true count a room's camera shows at wall-clock `at`; undefined while the camera server is down. */
export function truthAt(
  segments: readonly TruthSegment[],
  origins: readonly ClipOrigin[],
  downs: readonly { from: number; to: number }[],
  at: number,
): number | undefined {
  if (downs.some((d) => at >= d.from && at < d.to)) return undefined;
  let current: ClipOrigin | undefined;
  for (const o of origins) if (o.from <= at) current = o;
  if (!current) return undefined;
  return truthAtMedia(segments, (at - current.origin) / 1000);
}

/** An event Calven accepted, as the soak keeps it. */
export interface Accepted {
  eventId: string;
  locationId: string;
  /** The event's own timestamp (ms): which of two events is the newer. */
  timestamp: number;
  occupancy: number;
  /** When the fake Calven received the request that carried it (ms). */
  receivedAt: number;
}

/** What Calven shows for a location at `at`: the occupancy of the newest (by timestamp) event received by then. */
export function calvenCountAt(
  accepted: readonly Accepted[],
  locationId: string,
  at: number,
): number | undefined {
  let best: Accepted | undefined;
  for (const a of accepted) {
    if (a.locationId !== locationId || a.receivedAt > at) continue;
    if (!best || a.timestamp > best.timestamp) best = a;
  }
  return best?.occupancy;
}

/**
 * Seconds from `from` until Calven shows the true count and keeps showing it for `holdMs` (or until the true count
 * changes: a change is then a new thing to follow, with the usual smoothing delay). Undefined if that never
 * happens before `until`. A count that was right all along gives 0.
 */
export function recoverySeconds(
  truth: (at: number) => number | undefined,
  calven: (at: number) => number | undefined,
  from: number,
  until: number,
  stepMs = 500,
  holdMs = 5000,
): number | undefined {
  const match = (at: number) => {
    const want = truth(at);
    return want !== undefined && calven(at) === want;
  };
  for (let t = from; t <= until; t += stepMs) {
    if (!match(t)) continue;
    let held = true;
    for (let u = t + stepMs; u <= Math.min(until, t + holdMs); u += stepMs) {
      if (truth(u) !== truth(t)) break;
      if (!match(u)) {
        held = false;
        break;
      }
    }
    if (held) return (t - from) / 1000;
  }
  return undefined;
}

/** Share of the sampled moments in [from, until] at which Calven showed the true count (camera up), %. */
export function agreementPct(
  truth: (at: number) => number | undefined,
  calven: (at: number) => number | undefined,
  from: number,
  until: number,
  stepMs = 1000,
): number {
  let n = 0;
  let ok = 0;
  for (let t = from; t <= until; t += stepMs) {
    const want = truth(t);
    if (want === undefined) continue;
    n++;
    if (calven(t) === want) ok++;
  }
  return n === 0 ? 0 : (ok / n) * 100;
}

/** How often each eventId was accepted, for those accepted more than once. */
export function duplicates(eventIds: readonly string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const id of eventIds) seen.set(id.toLowerCase(), (seen.get(id.toLowerCase()) ?? 0) + 1);
  return new Map([...seen].filter(([, n]) => n > 1));
}

/** Stored event ids that Calven never accepted. */
export function lostIds(stored: Iterable<string>, accepted: Iterable<string>): string[] {
  const got = new Set([...accepted].map((id) => id.toLowerCase()));
  return [...stored].filter((id) => !got.has(id.toLowerCase()));
}

export interface RssSample {
  pid: number;
  at: number;
  kib: number;
}

export interface RssGrowth {
  pid: number;
  samples: number;
  /** Median VmRSS of the first and the last third of the samples, MiB. */
  firstMiB: number;
  lastMiB: number;
  growthMiB: number;
  growthPct: number;
  minutes: number;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * Memory growth of the longest-lived service process (a kill -9 starts a new one), leaving out its first
 * `warmupMs` (model loading, first frames): median of the first third against median of the last third.
 */
export function rssGrowth(samples: readonly RssSample[], warmupMs = 30_000): RssGrowth | undefined {
  const byPid = new Map<number, RssSample[]>();
  for (const s of samples) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s]);
  let best: RssSample[] | undefined;
  for (const list of byPid.values()) {
    const span = list.at(-1)!.at - list[0]!.at;
    if (!best || span > best.at(-1)!.at - best[0]!.at) best = list;
  }
  if (!best) return undefined;
  const start = best[0]!.at + warmupMs;
  const kept = best.filter((s) => s.at >= start && s.kib > 0);
  if (kept.length < 6) return undefined;
  const third = Math.floor(kept.length / 3);
  const firstMiB = median(kept.slice(0, third).map((s) => s.kib)) / 1024;
  const lastMiB = median(kept.slice(-third).map((s) => s.kib)) / 1024;
  return {
    pid: best[0]!.pid,
    samples: kept.length,
    firstMiB,
    lastMiB,
    growthMiB: lastMiB - firstMiB,
    growthPct: ((lastMiB - firstMiB) / firstMiB) * 100,
    minutes: (kept.at(-1)!.at - kept[0]!.at) / 60_000,
  };
}
