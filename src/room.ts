import type { RoomConfig } from './config/schema.js';
import { FfmpegCamera, type CameraState } from './camera/ffmpeg.js';
import type { Frame } from './camera/frame.js';
import type { Detection } from './detect/detector.js';
import type { DetectionQueue } from './detect/queue.js';
import { filterByRegion, toPolygons, type Region } from './count/region.js';
import { CountSmoother, type CountChange } from './count/smoothing.js';
import { buildOccupancyEvent, type OccupancyEvent } from './report/event.js';
import type { EventSink } from './report/sink.js';
import type { Logger } from './log.js';

export interface RoomStatus {
  id: string;
  cameraState: CameraState;
  lastFrameAt: number | undefined;
  lastCount: number | undefined;
  smoothedCount: number | undefined;
  lastEvent: OccupancyEvent | undefined;
}

export interface RoomDeps {
  queue: DetectionQueue;
  sink: EventSink;
  log: Logger;
  /** Detector input box: frames are scaled to fit it. */
  fit: { width: number; height: number };
  /** Detector-wide threshold; a room's own minScore may raise it. */
  minScore: number;
}

/** One room: camera → shared detector → region → smoothing → occupancy events. */
export class Room {
  private readonly camera: FfmpegCamera;
  private readonly smoother: CountSmoother;
  private readonly region: Region;
  private readonly log: Logger;
  private lastFrameAt: number | undefined;
  private lastCount: number | undefined;
  private lastEvent: OccupancyEvent | undefined;
  private pendingSends = new Set<Promise<void>>();

  constructor(
    readonly config: RoomConfig,
    private readonly deps: RoomDeps,
  ) {
    this.log = deps.log.child({ room: config.id });
    this.region = { include: toPolygons(config.region.include), exclude: toPolygons(config.region.exclude) };
    this.smoother = new CountSmoother(config);
    this.camera = new FfmpegCamera({
      url: config.camera.url,
      transport: config.camera.transport,
      loop: config.camera.loop,
      sampleFps: config.sampleFps,
      fit: deps.fit,
      watchdogSeconds: Math.max(10, 5 / config.sampleFps),
    });
    this.camera.on('frame', (frame) => this.onFrame(frame));
    this.camera.on('state', (state, detail) => this.onCameraState(state, detail));
  }

  start(): void {
    this.log.info({ camera: this.camera.redactedUrl }, 'room starting');
    this.camera.start();
  }

  async stop(): Promise<void> {
    await this.camera.stop();
    this.deps.queue.remove(this.config.id);
  }

  /** Waits for events already handed to the sink. */
  async settled(): Promise<void> {
    await Promise.all([...this.pendingSends]);
  }

  status(): RoomStatus {
    return {
      id: this.config.id,
      cameraState: this.camera.state,
      lastFrameAt: this.lastFrameAt,
      lastCount: this.lastCount,
      smoothedCount: this.smoother.current,
      lastEvent: this.lastEvent,
    };
  }

  private onFrame(frame: Frame): void {
    this.lastFrameAt = frame.capturedAt;
    this.deps.queue.submit(
      this.config.id,
      frame,
      (detections, f) => this.onDetections(detections, f),
      (err) => this.log.error({ err: err.message }, 'detection failed; frame skipped'),
    );
  }

  private onDetections(detections: Detection[], frame: Frame): void {
    const minScore = Math.max(this.deps.minScore, this.config.minScore ?? 0);
    const people = filterByRegion(
      detections.filter((d) => d.score >= minScore),
      this.region,
      frame,
    );
    this.lastCount = people.length;
    this.log.debug({ count: people.length, detections: detections.length }, 'frame analysed');
    const change = this.smoother.push({ at: frame.capturedAt, count: people.length });
    if (change) this.report(change);
  }

  private report(change: CountChange): void {
    const event = buildOccupancyEvent(this.config, change.count, change.at);
    this.lastEvent = event;
    this.log.info({ count: change.count, reason: change.reason, eventId: event.eventId }, 'occupancy event');
    const sending = this.deps.sink
      .send(event, this.config.id)
      .catch((err: Error) =>
        this.log.error({ err: err.message, eventId: event.eventId }, 'event not accepted by sink'),
      )
      .finally(() => this.pendingSends.delete(sending));
    this.pendingSends.add(sending);
  }

  private onCameraState(state: CameraState, detail: string): void {
    const fields = { cameraState: state, detail, camera: this.camera.redactedUrl };
    if (state === 'streaming' || state === 'connecting' || state === 'stopped')
      this.log.info(fields, 'camera state');
    else this.log.warn(fields, 'camera state');
    // No frames, no counts: the window restarts when frames come back (the last reported count stands).
    if (state !== 'streaming') this.smoother.resetWindow();
  }
}
