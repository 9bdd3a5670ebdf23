import type { RoomConfig } from './config/schema.js';
import type { CameraOptions, CameraState } from './camera/ffmpeg.js';
import { openFfmpegCamera, type FrameSource, type OpenCamera } from './camera/source.js';
import type { Frame } from './camera/frame.js';
import type { Detection, DetectOptions } from './detect/detector.js';
import type { DetectionQueue } from './detect/queue.js';
import type { FrameLimit } from './detect/geometry.js';
import { peopleInRoom, roomFilterFrom, type RoomFilter } from './count/region.js';
import { AdaptiveSampler } from './count/sampling.js';
import { luminanceGrid, StillFrameGate, type LuminanceGrid } from './count/still.js';
import { CountSmoother, type CountChange } from './count/smoothing.js';
import { flowPolygon, StationaryTracker, type SuggestedExclude } from './count/stationary.js';
import { buildOccupancyEvent, type OccupancyEvent } from './report/event.js';
import type { EventSink } from './report/sink.js';
import type { Logger } from './log.js';

/** What /status shows for a room: state and counts only, never pixels or credentials. */
export interface RoomStatus {
  id: string;
  locationId: string;
  locationType: string;
  camera: string;
  cameraState: CameraState;
  /** Why the camera is in that state (ffmpeg's reason, credentials hidden), e.g. for `stalled` or `invalid`. */
  cameraDetail: string;
  /** Seconds since the last frame arrived; null before the first one. */
  lastFrameAgeSeconds: number | null;
  /** No frame for staleSeconds: the room's count is unknown (the last reported count stands at Calven). */
  stale: boolean;
  /** People in the last analysed frame. */
  lastFrameCount: number | null;
  /** The reported (smoothed) count; null while unknown. */
  count: number | null;
  lastEvent: OccupancyEvent | null;
  /** Person boxes that have not moved for stationaryMinutes: exclude candidates for the operator, never applied. */
  suggestedExcludes: SuggestedExclude[];
}

/** What a room reports about itself (metrics listen: see metricsObservers). */
export interface RoomObserver {
  cameraState(state: CameraState): void;
  /** The reported count; undefined when it became unknown (no frames for staleSeconds). */
  count(count: number | undefined): void;
  /** An event was handed to the sink and stored. */
  eventQueued(): void;
  /**
   * A sampled frame was counted: by the detector, or (`still`) it looked like the last analysed frame, whose
   * people it keeps without the detector.
   */
  counted?(at: number, count: number, still: boolean): void;
}

export interface RoomDeps {
  queue: DetectionQueue;
  sink: EventSink;
  log: Logger;
  /** Frames are scaled down to this (what the detector, with the room's tiles, will look at). */
  limit: FrameLimit;
  /** Detector-wide threshold; a room's own minScore may raise it. */
  minScore: number;
  observer?: RoomObserver;
  /**
   * Makes the room's frame source from the options the room derives from its config (default: an FfmpegCamera
   * with them). `roomcount eval --video` reads a file through it, paced and on media time; tests pass a fake.
   */
  openCamera?: OpenCamera;
  /** The clock of the stale check (default Date.now); on media time, the camera's clock. */
  now?: () => number;
}

const STALE_CHECK_MS = 1000;

/**
 * How a room's camera is opened, frames sized and sampled: the one place for it, so that `roomcount setup`
 * shows the picture the service's detector sees. `sampleFps` defaults to the room's.
 */
export function roomCameraOptions(
  config: RoomConfig,
  limit: FrameLimit,
  sampleFps = config.sampleFps,
): CameraOptions {
  return {
    url: config.camera.url,
    transport: config.camera.transport,
    loop: config.camera.loop,
    sampleFps,
    limit,
    keyframesOnly: config.camera.keyframesOnly,
    watchdogSeconds: config.camera.watchdogSeconds,
  };
}

/** The detect() options of a room: its own tiles, if it sets them. */
export function roomDetectOptions(room: Pick<RoomConfig, 'tiles'>): DetectOptions | undefined {
  return room.tiles && { tiles: room.tiles };
}

/** One room: camera → shared detector → region → smoothing → occupancy events. */
export class Room {
  private readonly camera: FrameSource;
  private readonly smoother: CountSmoother;
  private readonly sampler: AdaptiveSampler;
  /** Undefined when the room analyses every sampled frame (skipStillFrames: false). */
  private readonly still: StillFrameGate | undefined;
  /** The people of the last analysed frame: a still frame holds the same. */
  private lastPeople: Detection[] | undefined;
  private readonly filter: RoomFilter;
  private readonly stationary: StationaryTracker | undefined;
  private readonly log: Logger;
  private lastFrameAt: number | undefined;
  private lastCount: number | undefined;
  private lastEvent: OccupancyEvent | undefined;
  private pendingSends = new Set<Promise<void>>();
  private startedAt = 0;
  private stale = false;
  private staleTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(
    readonly config: RoomConfig,
    private readonly deps: RoomDeps,
  ) {
    this.log = deps.log.child({ room: config.id });
    this.filter = roomFilterFrom(config, deps.minScore);
    this.smoother = new CountSmoother(config);
    // The rate drops once frames have agreed with the reported count for a whole smoothing window.
    this.sampler = new AdaptiveSampler({ ...config, settleSeconds: config.windowSeconds });
    this.still = config.skipStillFrames ? new StillFrameGate() : undefined;
    this.stationary =
      config.stationaryMinutes > 0
        ? new StationaryTracker({
            minMinutes: config.stationaryMinutes,
            exclude: this.filter.region.exclude,
            anchor: this.filter.anchor,
          })
        : undefined;
    this.now = deps.now ?? Date.now;
    // Frames the sampler will not take are passed over before their pixels are copied.
    const cameraOptions = {
      ...roomCameraOptions(config, deps.limit),
      wants: (at: number) => this.sampler.due(at),
    };
    this.camera = (deps.openCamera ?? openFfmpegCamera)(cameraOptions);
    this.camera.on('frame', (frame) => this.onFrame(frame));
    this.camera.on('skipped', (at) => this.arrived(at));
    this.camera.on('state', (state, detail) => this.onCameraState(state, detail));
  }

  start(): void {
    this.log.info({ camera: this.camera.redactedUrl }, 'room starting');
    this.startedAt = this.now();
    this.deps.observer?.cameraState(this.camera.state);
    this.camera.start();
    this.staleTimer = setInterval(() => this.checkStale(this.now()), STALE_CHECK_MS);
    this.staleTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.staleTimer);
    await this.camera.stop();
    this.deps.queue.remove(this.config.id);
  }

  /**
   * Waits for the room's frame in the detector, if any (its result may still send an event), then for the events
   * already handed to the sink.
   */
  async settled(): Promise<void> {
    await this.deps.queue.roomIdle(this.config.id);
    await Promise.all([...this.pendingSends]);
  }

  status(now = this.now()): RoomStatus {
    this.checkStale(now);
    return {
      id: this.config.id,
      locationId: this.config.locationId,
      locationType: this.config.locationType,
      camera: this.camera.redactedUrl,
      cameraState: this.camera.state,
      cameraDetail: this.camera.stateDetail,
      lastFrameAgeSeconds:
        this.lastFrameAt === undefined ? null : Math.round((now - this.lastFrameAt) / 100) / 10,
      stale: this.stale,
      lastFrameCount: this.lastCount ?? null,
      count: this.stale ? null : (this.smoother.current ?? null),
      lastEvent: this.lastEvent ?? null,
      suggestedExcludes: this.stationary?.suggestions(now) ?? [],
    };
  }

  /** No frame for staleSeconds (since start or the last frame) → unknown count, one warning. */
  private checkStale(now: number): void {
    const since = this.lastFrameAt ?? this.startedAt;
    const stale = this.startedAt > 0 && now - since >= this.config.staleSeconds * 1000;
    if (stale === this.stale) return;
    this.stale = stale;
    if (stale) {
      this.log.warn(
        { staleSeconds: this.config.staleSeconds, cameraState: this.camera.state },
        'no frames: room count unknown (nothing is sent; the last reported count stands)',
      );
      this.deps.observer?.count(undefined);
    } else {
      this.log.info('frames again: room count known');
    }
  }

  /** A frame came (taken or passed over): the camera is alive and the count not stale. */
  private arrived(at: number): void {
    this.lastFrameAt = at;
    if (this.stale) this.checkStale(at);
  }

  private onFrame(frame: Frame): void {
    this.arrived(frame.capturedAt);
    // A quiet room's frames are decoded but not all analysed (adaptive sampling).
    if (!this.sampler.take(frame.capturedAt)) return;
    let grid: LuminanceGrid | undefined;
    if (this.still) {
      grid = luminanceGrid(frame);
      // Only once the count is confirmed (a whole window of frames agreeing with it): until then every frame is
      // another look for the smoothing. And not while a result is still to come: results stay in time order.
      const confirmed = this.sampler.settled(frame.capturedAt) && !this.deps.queue.pending(this.config.id);
      if (this.lastPeople && confirmed && !this.still.needsDetection(frame.capturedAt, grid)) {
        // The same picture as the last analysed frame: the same people, without the detector.
        this.onPeople(this.lastPeople, frame, true);
        return;
      }
    }
    this.deps.queue.submit(
      this.config.id,
      frame,
      (detections, f) => {
        if (grid) this.still?.analysed(f.capturedAt, grid);
        this.onDetections(detections, f);
      },
      (err) => this.log.error({ err: err.message }, 'detection failed; frame skipped'),
      roomDetectOptions(this.config),
    );
  }

  private onDetections(detections: Detection[], frame: Frame): void {
    const people = peopleInRoom(detections, this.filter, frame);
    this.lastPeople = people;
    this.log.debug({ count: people.length, detections: detections.length }, 'frame analysed');
    this.onPeople(people, frame, false);
  }

  /** The people of a frame (analysed, or `still` and so the last analysed frame's): count, smooth, report. */
  private onPeople(people: Detection[], frame: Frame, still: boolean): void {
    this.lastCount = people.length;
    this.deps.observer?.counted?.(frame.capturedAt, people.length, still);
    const change = this.smoother.push({ at: frame.capturedAt, count: people.length });
    if (change) this.report(change);
    this.sampler.observe(frame.capturedAt, people.length, this.smoother.current);
    for (const s of this.stationary?.observe(frame.capturedAt, people, frame) ?? []) this.suggestExclude(s);
  }

  /** Logged once per box; the operator decides (it may be a real person sitting very still). */
  private suggestExclude(s: SuggestedExclude): void {
    const [[x1, y1], , [x2, y2]] = s.polygon;
    this.log.info(
      { suggestedExclude: s.polygon, since: s.since, share: s.share, meanScore: s.meanScore },
      `a person-shaped box has not moved for ${s.minutes} min at x ${x1}-${x2}, y ${y1}-${y2} of the picture; ` +
        `if it is a poster, screen or reflection, add this to region.exclude: - ${flowPolygon(s.polygon)} ` +
        '(nothing is applied automatically; also listed in /status)',
    );
  }

  private report(change: CountChange): void {
    const event = buildOccupancyEvent(this.config, change.count, change.at);
    this.lastEvent = event;
    this.deps.observer?.count(change.count);
    this.log.info({ count: change.count, reason: change.reason, eventId: event.eventId }, 'occupancy event');
    const sending = this.deps.sink
      .send(event, this.config.id)
      .then(() => this.deps.observer?.eventQueued())
      // The outbox could not store it (disk full?): the whole event goes into the log so it can be replayed.
      .catch((err: Error) => this.log.error({ err: err.message, event }, 'event could not be queued'))
      .finally(() => this.pendingSends.delete(sending));
    this.pendingSends.add(sending);
  }

  private onCameraState(state: CameraState, detail: string): void {
    this.deps.observer?.cameraState(state);
    const fields = { cameraState: state, detail, camera: this.camera.redactedUrl };
    if (state === 'streaming' || state === 'connecting' || state === 'stopped')
      this.log.info(fields, 'camera state');
    else if (state === 'invalid') this.log.error(fields, 'camera.url cannot be used: this room does not run');
    else this.log.warn(fields, 'camera state');
    // No frames, no counts: the window restarts when frames come back (the last reported count stands).
    if (state !== 'streaming') {
      this.smoother.resetWindow();
      this.sampler.reset();
      this.still?.reset();
      this.lastPeople = undefined;
    }
  }
}
