import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { FfmpegCamera, type CameraState } from '../camera/ffmpeg.js';
import { roomSchema, type Config, type RoomConfig } from '../config/schema.js';
import { roomFilterFrom } from '../count/region.js';
import type { CountSample, SmootherOptions, SmoothingMethod } from '../count/smoothing.js';
import type { Detector } from '../detect/detector.js';
import { createDetector } from '../detect/index.js';
import { DetectionQueue } from '../detect/queue.js';
import type { CountMetrics } from '../eval/metrics.js';
import { Progress, type ProgressStream } from '../eval/progress.js';
import {
  frameMetrics,
  lagAllowance,
  readTruth,
  replaySmoother,
  trueChanges,
  videoMetrics,
  type ReportedEvent,
  type Truth,
  type VideoMetrics,
} from '../eval/video.js';
import { createLogger } from '../log.js';
import type { OccupancyEvent } from '../report/event.js';
import type { EventSink } from '../report/sink.js';
import { Room, roomDetectOptions } from '../room.js';
import { detectorConfigFrom, roomOf, type DetectorOverrides } from './detector-options.js';

/** Media time 0 is this epoch: event timestamps read as seconds into the video (1970-01-01T00:00:12Z = 12 s). */
const MEDIA_EPOCH_MS = 0;

/** What `--compare` replays: smoothing × window at the room's holds, then holds at the room's smoothing/window. */
export const COMPARE_SMOOTHING: readonly SmoothingMethod[] = ['median', 'p60', 'p75', 'p90', 'max', 'mode'];
export const COMPARE_WINDOWS = [5, 10, 15, 20] as const;
export const COMPARE_MIN_STABLE = [0, 2, 5] as const;
export const COMPARE_EMPTY_HOLD = [5, 10, 20, 30] as const;

export interface VideoEvalOptions extends DetectorOverrides {
  video: string;
  truth: string;
  config?: Config;
  /** Use this room's settings and region (default: the default room settings, whole picture). */
  roomId?: string;
  verbose?: boolean;
  /** Also replay the per-frame counts through other smoothing settings (one detector run). */
  compare?: boolean;
  /** A ready detector instead of the configured one (tests). */
  detector?: Detector;
  out?: NodeJS.WritableStream;
  err?: ProgressStream;
}

/** The smoothing settings of one run or replay. */
export type SmoothingSettings = Required<
  Pick<
    SmootherOptions,
    'smoothing' | 'windowSeconds' | 'minStableSeconds' | 'emptyHoldSeconds' | 'minEventIntervalSeconds'
  >
> & { heartbeatSeconds: number };

export interface CompareRow {
  settings: SmoothingSettings;
  configured: boolean;
  metrics: VideoMetrics;
}

export interface VideoEvalResult {
  video: string;
  truthFile: string;
  truth: Truth;
  room: string;
  sampleFps: number;
  settings: SmoothingSettings;
  detector: { model: string; backend: string; minScore: number };
  /** Frame counts; first/last frame times and the end of the video (last frame + 1/sampleFps), in s. */
  /** Frames the detector analysed; still: frames that kept the last analysed one's count (skipStillFrames). */
  frames: {
    analysed: number;
    still: number;
    dropped: number;
    failed: number;
    first?: number;
    last?: number;
    end: number;
  };
  /** Per-frame counts (detector + region), media time in ms. */
  samples: CountSample[];
  /** Events the room sent, in seconds. */
  events: ReportedEvent[];
  perFrame: CountMetrics;
  metrics: VideoMetrics;
  compare?: { from: number; rows: CompareRow[] };
  /** The replay of the room's own settings gave exactly the room's events (it always should). */
  replayMatches: boolean;
}

/** Collects what a room would send to Calven, with the media time it was sent at. */
class CollectingSink implements EventSink {
  readonly sent: { at: number; event: OccupancyEvent }[] = [];
  constructor(private readonly clock: () => number) {}
  async send(event: OccupancyEvent): Promise<void> {
    this.sent.push({ at: this.clock(), event });
  }
  async close(): Promise<void> {}
}

/**
 * `roomcount eval --video FILE --truth CSV`: runs a room (the real Room: ffmpeg → detector → region → smoothing
 * → events) on a video file as fast as the detector goes, every frame analysed and stamped with its media time,
 * and scores the events against the labelled true count (see eval/video.ts). Prints on `out`, progress on `err`.
 */
export async function evalVideo(opts: VideoEvalOptions): Promise<VideoEvalResult> {
  const out = opts.out ?? process.stdout;
  const truth = await readTruth(opts.truth);
  const video = path.resolve(opts.video);
  await access(video).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read video ${video}: ${err.code === 'ENOENT' ? 'file not found' : err.message}`);
  });
  const detectorConfig = detectorConfigFrom(opts.config, opts);
  const room = evalRoom(opts.config, opts.roomId, video);
  const settings = settingsOf(room);
  const probed = await probe(video);
  const total = Math.max(1, Math.round((probed.duration ?? truth.at(-1)!.end) * room.sampleFps));
  // The fps filter's first frame is at the file's first presentation time (usually 0).
  const firstFrameMs = MEDIA_EPOCH_MS + probed.start * 1000;

  // Room logs 'camera state ended' as a warning: only errors (failed detections) are news here.
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'error' });
  const detector = opts.detector ?? (await createDetector(detectorConfig, log));
  let analysed = 0;
  let dropped = 0;
  let failed = 0;
  const queue = new DetectionQueue(detector, {
    analysed: () => analysed++,
    dropped: () => dropped++,
    failed: () => failed++,
  });
  const progress = new Progress('eval', total, opts.err ?? process.stderr);
  // Every counted frame, analysed or still (the room keeps a still frame's count without the detector).
  const counted: Array<CountSample & { still: boolean }> = [];
  let camera!: FfmpegCamera;
  let runner: Room | undefined;
  const sink = new CollectingSink(() => camera.lastFrameAt ?? MEDIA_EPOCH_MS);
  try {
    runner = new Room(room, {
      queue,
      sink,
      log,
      limit: detector.frameLimit(roomDetectOptions(room)),
      minScore: detector.minScore,
      observer: {
        cameraState: () => {},
        count: () => {},
        eventQueued: () => {},
        counted: (at, count, still) => counted.push({ at, count, still }),
      },
      openCamera: (options) =>
        (camera = new FfmpegCamera({
          ...options,
          realtime: false,
          mediaEpochMs: firstFrameMs,
          // The next frame only once this one's result is in: nothing is dropped, and events know their frame.
          pace: async () => {
            await queue.idle();
            progress.tick();
          },
        })),
      now: () => camera.lastFrameAt ?? MEDIA_EPOCH_MS,
    });
    const ended = new Promise<void>((resolve, reject) =>
      camera.on('state', (state: CameraState, detail: string) => {
        if (state === 'ended') resolve();
        else if (state !== 'streaming' && state !== 'connecting' && state !== 'stopped')
          reject(new Error(`video ${video}: ${state}: ${detail}`));
      }),
    );
    runner.start();
    await ended;
    await queue.idle();
    await runner.settled();
  } finally {
    await runner?.stop();
    progress.finish();
    await detector.dispose();
  }

  const filter = roomFilterFrom(room, detector.minScore);
  const samples: CountSample[] = counted.map(({ at, count }) => ({ at, count }));
  const seconds = (ms: number) => (ms - MEDIA_EPOCH_MS) / 1000;
  // Event timestamps carry whole ms (ISO 8601), as a Date truncates them.
  const toSeconds = (e: ReportedEvent): ReportedEvent => ({
    at: seconds(e.at),
    timestamp: seconds(Math.trunc(e.timestamp)),
    count: e.count,
  });
  const events = sink.sent.map(({ at, event }) =>
    toSeconds({ at, timestamp: Date.parse(event.timestamp), count: event.occupancy ?? 0 }),
  );
  const replayed = replaySmoother(samples, settings).map(toSeconds);
  // The last frame stands for 1/sampleFps s; labels past the end of the video are not scored.
  const videoEnd = samples.length ? seconds(samples.at(-1)!.at) + 1 / room.sampleFps : 0;
  const result: VideoEvalResult = {
    video,
    truthFile: path.resolve(opts.truth),
    truth,
    room: opts.roomId ?? '(default room settings, whole picture)',
    sampleFps: room.sampleFps,
    settings,
    detector: { model: detector.model, backend: detector.backend, minScore: filter.minScore },
    frames: {
      analysed,
      still: counted.filter((c) => c.still).length,
      dropped,
      failed,
      first: samples[0] && seconds(samples[0].at),
      last: samples.at(-1) && seconds(samples.at(-1)!.at),
      end: videoEnd,
    },
    samples,
    events,
    perFrame: frameMetrics(
      truth,
      samples.map((s) => ({ at: seconds(s.at), count: s.count })),
    ),
    metrics: videoMetrics(truth, events, { lagSeconds: lagAllowance(settings), until: videoEnd }),
    replayMatches: JSON.stringify(replayed) === JSON.stringify(events),
    ...(opts.compare && { compare: compareSettings(truth, samples, settings, toSeconds, videoEnd) }),
  };
  out.write(formatVideoEval(result, opts.verbose ?? false));
  return result;
}

/** The room evaluated: the configured one (or the defaults), reading the video once, counts always visible. */
function evalRoom(config: Config | undefined, roomId: string | undefined, video: string): RoomConfig {
  const room =
    roomOf(config, roomId) ??
    roomSchema.parse({ id: 'video', locationId: 'video', locationType: 'space', camera: { url: video } });
  return {
    ...room,
    // A place reports occupied only; the evaluation scores counts.
    locationType: 'space',
    // Every 1/sampleFps s of the file, once: key frames only would not give evenly spaced media times.
    camera: { ...room.camera, url: video, loop: false, keyframesOnly: false },
    // Every frame analysed (what --compare replays needs), unless the room sets adaptive sampling's own rate.
    minSampleFps: room.minSampleFps ?? room.sampleFps,
  };
}

function settingsOf(room: RoomConfig): SmoothingSettings {
  return {
    smoothing: room.smoothing,
    windowSeconds: room.windowSeconds,
    minStableSeconds: room.minStableSeconds,
    emptyHoldSeconds: room.emptyHoldSeconds,
    minEventIntervalSeconds: room.minEventIntervalSeconds,
    heartbeatSeconds: room.heartbeatSeconds,
  };
}

/**
 * Replays the per-frame counts through the settings of the compare grid. Every row is scored over the same
 * stretch, from the latest first event of all rows (a longer window reports later), so rows compare fairly.
 */
function compareSettings(
  truth: Truth,
  samples: readonly CountSample[],
  configured: SmoothingSettings,
  toSeconds: (e: ReportedEvent) => ReportedEvent,
  until: number,
): { from: number; rows: CompareRow[] } {
  const grid: SmoothingSettings[] = [configured];
  for (const smoothing of COMPARE_SMOOTHING)
    for (const windowSeconds of COMPARE_WINDOWS) grid.push({ ...configured, smoothing, windowSeconds });
  for (const minStableSeconds of COMPARE_MIN_STABLE)
    for (const emptyHoldSeconds of COMPARE_EMPTY_HOLD)
      grid.push({ ...configured, minStableSeconds, emptyHoldSeconds });
  const seen = new Set<string>();
  const runs = grid
    .filter((s) => {
      const key = JSON.stringify(s);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((settings, i) => ({
      settings,
      configured: i === 0,
      events: replaySmoother(samples, settings).map(toSeconds),
    }));
  const from = Math.max(truth[0]!.start, ...runs.map((r) => r.events[0]?.at ?? truth[0]!.start));
  const rows = runs.map(({ settings, configured, events }) => ({
    settings,
    configured,
    metrics: videoMetrics(truth, events, { lagSeconds: lagAllowance(settings), from, until }),
  }));
  return { from, rows };
}

/** The video's start time (s; 0 when unknown) and duration (for the progress bar), as ffprobe tells. */
async function probe(file: string): Promise<{ start: number; duration?: number }> {
  try {
    const { stdout } = await promisify(execFile)(process.env.FFPROBE_PATH ?? 'ffprobe', [
      ...['-v', 'error', '-show_entries', 'format=start_time,duration', '-of', 'json', file],
    ]);
    const format = (JSON.parse(stdout) as { format?: { start_time?: string; duration?: string } }).format;
    const start = Number(format?.start_time);
    const duration = Number(format?.duration);
    return {
      start: Number.isFinite(start) && start > 0 ? start : 0,
      ...(Number.isFinite(duration) && duration > 0 && { duration }),
    };
  } catch {
    return { start: 0 };
  }
}

const s1 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(1));
const n3 = (v: number): string => (Number.isNaN(v) ? '—' : v.toFixed(3));
const signed = (v: number): string => (Number.isNaN(v) ? '—' : `${v > 0 ? '+' : ''}${v.toFixed(3)}`);

function describeSettings(s: SmoothingSettings): string {
  return (
    `${s.smoothing} over ${s.windowSeconds} s, minStable ${s.minStableSeconds} s, emptyHold ${s.emptyHoldSeconds} s, ` +
    `minEventInterval ${s.minEventIntervalSeconds} s${s.heartbeatSeconds ? `, heartbeat ${s.heartbeatSeconds} s` : ''}`
  );
}

export function formatVideoEval(r: VideoEvalResult, verbose: boolean): string {
  const m = r.metrics;
  const lines: string[] = [];
  if (verbose) {
    lines.push('events (sent, timestamp, count, true count, verdict)');
    for (const e of m.events) {
      lines.push(
        `  ${s1(e.at).padStart(7)} s  ${s1(e.timestamp).padStart(7)} s  ${String(e.count).padStart(3)}  ` +
          `${String(e.truth ?? '?').padStart(3)}  ${e.verdict}`,
      );
    }
    // One character per frame (+ for 10 or more), in groups of 10 frames.
    const digits = r.samples.map((x) => (x.count > 9 ? '+' : String(x.count))).join('');
    lines.push(`per-frame counts from ${s1(r.frames.first)} s, ${r.sampleFps} per second, 10 per group:`);
    for (let i = 0; i < digits.length; i += 100) {
      lines.push(`  ${(digits.slice(i, i + 100).match(/.{1,10}/g) ?? []).join(' ')}`);
    }
    lines.push('true changes (at, from → to, reported)');
    for (const c of m.changes) {
      lines.push(
        `  ${s1(c.at).padStart(7)} s  ${c.from} → ${c.to}  ` +
          (c.outcome === 'missed'
            ? 'missed'
            : c.outcome === 'already'
              ? 'already reported before the change'
              : `reached at ${s1(c.reachedAt)} s (delay ${s1(c.delay)} s, timestamp lag ${s1(c.timestampLag)} s)`),
      );
    }
    lines.push('');
  }
  const f = r.frames;
  const verdicts = (['correct', 'late', 'on the way', 'spurious', 'unscored'] as const)
    .map((v) => [v, m.events.filter((e) => e.verdict === v).length] as const)
    .filter(([v, n]) => n > 0 || v !== 'unscored')
    .map(([v, n]) => `${n} ${v}`)
    .join(', ');
  const changes = trueChanges(r.truth).length;
  lines.push(
    `video      ${r.video}: ${f.analysed + f.still} frames at ${r.sampleFps} fps (${s1(f.first)}–${s1(f.last)} s), ` +
      `${f.analysed} analysed, ${f.still} still (count kept, no detector), ` +
      `${f.dropped} dropped${f.failed ? `, ${f.failed} failed detection` : ''}`,
    `model      ${r.detector.model} (${r.detector.backend}), minScore ${r.detector.minScore}`,
    `room       ${r.room}: ${describeSettings(r.settings)}`,
    `truth      ${r.truthFile}: ${s1(r.truth[0]!.start)}–${s1(r.truth.at(-1)!.end)} s, ${r.truth.length} segments, ` +
      `${changes} changes${r.truth.at(-1)!.end > f.end + 1e-9 ? ` (after the video's end at ${s1(f.end)} s: not scored)` : ''}`,
    `per frame  MAE ${n3(r.perFrame.mae)}, bias ${signed(r.perFrame.bias)}, exact ${s1(r.perFrame.exactPct)} % ` +
      `(n = ${r.perFrame.n}; detector + region, before smoothing)`,
    m.firstEventAt === undefined
      ? 'first      no event was sent: nothing to score'
      : `first      event at ${s1(m.firstEventAt)} s; before it the count is unknown (${s1(m.unknownSeconds)} s of labels, not scored)`,
    `MAE        ${n3(m.mae)}  (time-weighted over ${s1(m.scoredSeconds)} s: ${s1(m.from)}–${s1(m.to)} s)`,
    `bias       ${signed(m.bias)}  (reported − true; negative = under-counting)`,
    `exact      ${s1(m.exactPct)} % of the time`,
    `events     ${m.events.length} sent: ${verdicts}`,
    `delay      ${
      m.changes.length === 0
        ? 'no true change in the scored time'
        : `mean ${s1(m.meanDelay)} s over ${m.reached} of ${m.changes.length} true changes reached ` +
          `(${m.missed} missed${m.already ? `, ${m.already} already reported` : ''}); ` +
          `event timestamps lag ${s1(m.meanTimestampLag)} s`
    }`,
    `spurious   ${m.spurious}`,
  );
  if (!r.replayMatches) {
    lines.push('note       replaying the room settings did not give the room events: please report this');
  }
  if (r.compare) {
    lines.push(
      '',
      `compare: per-frame counts replayed through the smoother; every row scored ${s1(r.compare.from)}–${s1(m.to)} s ` +
        '(from the latest first event)',
      'smoothing  window  stable  emptyHold    MAE    bias  exact %  events  spurious  delay s  reached  missed',
    );
    for (const { settings: s, configured, metrics: c } of r.compare.rows) {
      lines.push(
        `${s.smoothing.padEnd(9)}  ${String(s.windowSeconds).padStart(6)}  ${String(s.minStableSeconds).padStart(6)}  ` +
          `${String(s.emptyHoldSeconds).padStart(9)}  ${n3(c.mae).padStart(5)}  ${signed(c.bias).padStart(6)}  ` +
          `${s1(c.exactPct).padStart(7)}  ${String(c.events.length).padStart(6)}  ${String(c.spurious).padStart(8)}  ` +
          `${s1(c.meanDelay).padStart(7)}  ${String(c.reached).padStart(7)}  ${String(c.missed).padStart(6)}` +
          (configured ? '  <- configured' : ''),
      );
    }
  }
  return lines.join('\n') + '\n';
}
