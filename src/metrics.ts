import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CameraState } from './camera/ffmpeg.js';
import type { QueueObserver } from './detect/queue.js';
import type { CalvenSinkObserver } from './report/calven/sink.js';
import type { RoomObserver } from './room.js';

const CAMERA_STATES: CameraState[] = [
  'connecting',
  'streaming',
  'stalled',
  'unauthorised',
  'not_found',
  'unreachable',
  'ended',
  'stopped',
  'invalid',
];

export const EVENT_OUTCOMES = ['queued', 'sent', 'rejected', 'dead_lettered'] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number];

/**
 * The one place where what the parts of the service report becomes metrics: rooms (camera state, count, events
 * queued), the detection queue (frames analysed, dropped, failed), the Calven sink (requests, settled events,
 * events held in memory) and the detector pool (worker restarts).
 */
export function metricsObservers(metrics: Metrics): {
  room: (room: string) => RoomObserver;
  queue: QueueObserver;
  sink: CalvenSinkObserver;
  detectorRestarted: () => void;
} {
  return {
    room: (room) => ({
      cameraState: (state) => metrics.setCameraState(room, state),
      count: (count) =>
        count === undefined ? metrics.roomCount.remove({ room }) : metrics.roomCount.set({ room }, count),
      eventQueued: () => metrics.events.inc({ room, outcome: 'queued' }),
      counted: (_at, _count, still) => {
        if (still) metrics.framesStill.inc({ room });
      },
    }),
    queue: {
      analysed: (room, ms) => {
        metrics.framesAnalysed.inc({ room });
        metrics.inferenceSeconds.observe(ms / 1000);
      },
      dropped: (room) => metrics.framesDropped.inc({ room }),
      failed: (room) => metrics.framesFailed.inc({ room }),
    },
    sink: {
      request(seconds, error) {
        metrics.calvenRequestSeconds.observe({ endpoint: 'occupancy' }, seconds);
        if (error) metrics.calvenErrors.inc({ kind: error });
      },
      settled: (room, outcome) => metrics.events.inc({ room, outcome }),
      unstored: (count) => metrics.outboxUnstored.set(count),
    },
    detectorRestarted: () => metrics.detectorRestarts.inc(),
  };
}

/** Prometheus metrics for one service. Counts and timings only: nothing here can carry pixels. */
export class Metrics {
  readonly registry = new Registry();
  readonly framesAnalysed = new Counter({
    name: 'roomcount_frames_analysed_total',
    help: 'Frames run through the person detector',
    labelNames: ['room'],
    registers: [this.registry],
  });
  readonly framesDropped = new Counter({
    name: 'roomcount_frames_dropped_total',
    help: 'Frames replaced by a newer one while the detector was busy',
    labelNames: ['room'],
    registers: [this.registry],
  });
  readonly framesStill = new Counter({
    name: 'roomcount_frames_still_total',
    help: 'Sampled frames that looked like the last analysed one: its count kept, the detector not run',
    labelNames: ['room'],
    registers: [this.registry],
  });
  readonly framesFailed = new Counter({
    name: 'roomcount_frames_failed_total',
    help: 'Frames whose detection failed (e.g. a detector worker crashed on it): dropped',
    labelNames: ['room'],
    registers: [this.registry],
  });
  readonly detectorRestarts = new Counter({
    name: 'roomcount_detector_worker_restarts_total',
    help: 'Detector worker threads that stopped and were restarted',
    registers: [this.registry],
  });
  readonly inferenceSeconds = new Histogram({
    name: 'roomcount_inference_seconds',
    help: 'Person detector time per frame',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2],
    registers: [this.registry],
  });
  readonly roomCount = new Gauge({
    name: 'roomcount_room_people',
    help: 'Current smoothed people count per room (absent until the first window is full)',
    labelNames: ['room'],
    registers: [this.registry],
  });
  readonly cameraState = new Gauge({
    name: 'roomcount_camera_state',
    help: 'Camera state per room: 1 for the current state, 0 for the others',
    labelNames: ['room', 'state'],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'roomcount_events_total',
    help: 'Occupancy events by outcome: queued (taken by the sink: written to the outbox, or held in memory while it cannot be written), sent, rejected (per-event result code), dead_lettered',
    labelNames: ['room', 'outcome'],
    registers: [this.registry],
  });
  readonly calvenRequestSeconds = new Histogram({
    name: 'roomcount_calven_request_seconds',
    help: 'Calven API request latency',
    labelNames: ['endpoint'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly calvenErrors = new Counter({
    name: 'roomcount_calven_errors_total',
    help: 'Failed Calven occupancy requests by kind: http_3xx, http_4xx, http_5xx, auth (token refused or 401 with a fresh token), timeout (no complete answer in time), network (no answer), malformed_answer (2xx not in the documented shape)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly outboxUnstored = new Gauge({
    name: 'roomcount_outbox_unstored_events',
    help: 'Events held in memory because the outbox cannot be written (disk full, broken file); lost if the process stops',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'roomcount_' });
  }

  setCameraState(room: string, state: CameraState): void {
    for (const s of CAMERA_STATES) this.cameraState.set({ room, state: s }, s === state ? 1 : 0);
  }

  /** Drops a room's series (room removed on reload). */
  forgetRoom(room: string): void {
    for (const metric of [
      this.framesAnalysed,
      this.framesDropped,
      this.framesStill,
      this.framesFailed,
      this.roomCount,
    ])
      metric.remove({ room });
    for (const outcome of EVENT_OUTCOMES) this.events.remove({ room, outcome });
    for (const state of CAMERA_STATES) this.cameraState.remove({ room, state });
  }
}
