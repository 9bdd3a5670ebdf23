import type { Config, RoomConfig } from './config/schema.js';
import { createSink } from './report/create.js';
import type { Detector } from './detect/detector.js';
import { createServiceDetector } from './detect/index.js';
import { DetectorPool } from './detect/pool.js';
import { describeGeometry } from './detect/describe.js';
import { DetectionQueue } from './detect/queue.js';
import { Room, roomDetectOptions, type RoomStatus } from './room.js';
import type { EventSink } from './report/sink.js';
import { Metrics, metricsObservers } from './metrics.js';
import { startHttpServer } from './http.js';
import { inShard, type Shard } from './shard.js';
import type { Logger } from './log.js';

export interface Service {
  readonly rooms: ReadonlyMap<string, Room>;
  readonly detector: Detector;
  readonly metrics: Metrics;
  /** Port of the HTTP server (health, metrics, status), if enabled. */
  readonly httpPort: number | undefined;
  status(): ServiceStatus;
  /** Applies a new configuration: only added, removed or changed rooms are (re)started. */
  reload(config: Config): Promise<void>;
  /** Stops cameras, finishes in-flight detection, flushes the sink within the deadline. */
  stop(deadlineMs?: number): Promise<void>;
}

export interface ServiceStatus {
  /** `starting` while the detector loads (no room runs yet), then `running`, then `stopping`. */
  state: 'starting' | 'running' | 'stopping';
  sourceId: string;
  sink: string;
  /** `configured` is detector.model as written (e.g. auto); `model` the one running. */
  detector: {
    configured: string;
    model: string;
    backend: string;
    input?: string;
    minScore?: number;
    /** Detector worker threads; 0 = on the main thread. */
    workers?: number;
  };
  shard: string | null;
  rooms: RoomStatus[];
}

export interface ServiceOptions {
  log: Logger;
  sink?: EventSink;
  /** A ready (or loading) detector instead of the configured one; tests use it. */
  detector?: Detector | Promise<Detector>;
  shard?: Shard;
}

/** Settings whose change cannot be applied by reload (they need a restart). */
function restartKeys(config: Config): string {
  const { sourceId, sink, calven, detector, stateDir, http } = config;
  return JSON.stringify({ sourceId, sink, calven, detector, stateDir, http });
}

/** Detector worker threads behind a detector (0: it runs on the main thread). */
function workersOf(detector: Detector): number {
  return detector instanceof DetectorPool ? detector.size : 0;
}

/** Wires every room to the detector (a pool of worker threads) and the configured sink. */
export async function startService(config: Config, opts: ServiceOptions): Promise<Service> {
  const { log, shard } = opts;
  const metrics = new Metrics();
  const observe = metricsObservers(metrics);
  let current = config;
  // Set once the detector has loaded; the HTTP server answers before that.
  const started: { service?: Service; sink?: EventSink } = {};
  let stopping: Promise<void> | undefined;
  const shardText = shard ? `${shard.index}/${shard.count}` : null;
  const startingStatus = (): ServiceStatus => ({
    state: 'starting',
    sourceId: config.sourceId,
    sink: config.sink,
    detector: { configured: config.detector.model, model: 'loading', backend: 'loading' },
    shard: shardText,
    rooms: [],
  });
  // Up first, so that health checks answer (and /readyz says why not ready) while the model loads.
  const http =
    config.http.port > 0
      ? await startHttpServer(config.http.port, config.http.host, {
          metrics,
          status: () => started.service?.status() ?? startingStatus(),
          readiness: () => {
            const problems: string[] = [];
            if (!started.service) problems.push('detector loading');
            const sinkIssue = started.sink?.problem?.();
            if (sinkIssue) problems.push(sinkIssue);
            if (stopping) problems.push('stopping');
            return { ready: problems.length === 0, problems };
          },
        })
      : undefined;
  let sink: EventSink;
  let detector: Detector;
  try {
    sink = started.sink = opts.sink ?? createSink(config, { log, observer: observe.sink });
    detector = await (opts.detector ??
      createServiceDetector(config.detector, log, { onRestart: observe.detectorRestarted }));
  } catch (err) {
    await http?.close();
    throw err;
  }
  const workers = workersOf(detector);
  log.info(
    {
      configured: config.detector.model,
      model: detector.model,
      backend: detector.backend,
      minScore: detector.minScore,
      input: describeGeometry(detector),
      workers,
    },
    'detector ready',
  );
  const queue = new DetectionQueue(
    detector,
    observe.queue,
    // One frame per worker in flight (a room never has two).
    { concurrency: Math.max(1, workers) },
  );
  const rooms = new Map<string, Room>();

  const startRoom = (rc: RoomConfig) => {
    const room = new Room(rc, {
      queue,
      sink,
      log,
      observer: observe.room(rc.id),
      limit: detector.frameLimit(roomDetectOptions(rc)),
      minScore: detector.minScore,
    });
    rooms.set(rc.id, room);
    room.start();
  };
  const stopRoom = async (id: string) => {
    const room = rooms.get(id);
    if (!room) return;
    rooms.delete(id);
    await room.stop();
    // Its last frame's event, if any, would otherwise bring its metrics back after they are forgotten.
    await room.settled();
    metrics.forgetRoom(id);
  };

  const mine = (cfg: Config) => cfg.rooms.filter((r) => inShard(r.id, shard));
  for (const rc of mine(config)) startRoom(rc);
  if (rooms.size === 0) log.warn({ shard }, 'no rooms in this shard');

  log.info(
    { rooms: rooms.size, sink: config.sink, http: http ? `${config.http.host}:${http.port}` : 'off' },
    'service running',
  );

  let reloading: Promise<void> = Promise.resolve();
  const service: Service = {
    rooms,
    detector,
    metrics,
    httpPort: http?.port,
    status: () => ({
      state: stopping ? 'stopping' : 'running',
      sourceId: current.sourceId,
      sink: current.sink,
      detector: {
        configured: config.detector.model,
        model: detector.model,
        backend: detector.backend,
        input: describeGeometry(detector),
        minScore: detector.minScore,
        workers,
      },
      shard: shardText,
      rooms: [...rooms.values()].map((r) => r.status()),
    }),
    reload(next) {
      reloading = reloading.then(async () => {
        if (stopping) return;
        if (restartKeys(next) !== restartKeys(current)) {
          log.warn(
            'sourceId, sink, calven, detector, stateDir or http changed: those need a restart to apply',
          );
        }
        const wanted = new Map(mine(next).map((r) => [r.id, r]));
        const changed = [...rooms.keys()].filter(
          (id) => JSON.stringify(wanted.get(id)) !== JSON.stringify(rooms.get(id)!.config),
        );
        await Promise.all(changed.map(stopRoom));
        current = { ...current, rooms: next.rooms };
        const added = [...wanted.values()].filter((rc) => !rooms.has(rc.id));
        for (const rc of added) startRoom(rc);
        const kept = rooms.size - added.length;
        log.info(
          {
            stopped: changed.filter((id) => !wanted.has(id)),
            restarted: changed.filter((id) => wanted.has(id)),
            kept,
          },
          'configuration reloaded',
        );
      });
      return reloading;
    },
    stop(deadlineMs = 10_000) {
      stopping ??= (async () => {
        await reloading;
        await Promise.all([...rooms.keys()].map(stopRoom));
        await queue.idle();
        await sink.close(deadlineMs);
        await http?.close();
        await detector.dispose();
        log.info('service stopped');
      })();
      return stopping;
    },
  };
  started.service = service;
  return service;
}
