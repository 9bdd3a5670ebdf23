import type { Config } from './config/schema.js';
import type { Detector } from './detect/detector.js';
import { createDetector } from './detect/index.js';
import { DetectionQueue } from './detect/queue.js';
import { Room } from './room.js';
import { StdoutSink, type EventSink } from './report/sink.js';
import type { Logger } from './log.js';

export interface Service {
  readonly rooms: readonly Room[];
  readonly detector: Detector;
  /** Stops cameras, finishes in-flight detection, flushes the sink within the deadline. */
  stop(deadlineMs?: number): Promise<void>;
}

export function createSink(config: Config): EventSink {
  if (config.sink === 'stdout') return new StdoutSink(config.sourceId);
  throw new Error(
    'sink "calven" is not available in this version yet (the durable outbox is still being built); ' +
      'use "sink: stdout" for a dry run',
  );
}

/** Wires every room to one shared detector and the configured sink. */
export async function startService(
  config: Config,
  opts: { log: Logger; sink?: EventSink; detector?: Detector },
): Promise<Service> {
  const { log } = opts;
  const sink = opts.sink ?? createSink(config);
  const detector = opts.detector ?? (await createDetector(config.detector, log));
  log.info({ model: detector.model, backend: detector.backend }, 'detector ready');
  const queue = new DetectionQueue(detector);
  const rooms = config.rooms.map(
    (rc) => new Room(rc, { queue, sink, log, fit: detector.inputSize, minScore: config.detector.minScore }),
  );
  for (const room of rooms) room.start();
  log.info({ rooms: rooms.length, sink: config.sink }, 'service running');

  let stopping: Promise<void> | undefined;
  return {
    rooms,
    detector,
    stop(deadlineMs = 10_000) {
      stopping ??= (async () => {
        await Promise.all(rooms.map((r) => r.stop()));
        await queue.idle();
        await Promise.all(rooms.map((r) => r.settled()));
        await sink.close(deadlineMs);
        await detector.dispose();
        log.info('service stopped');
      })();
      return stopping;
    },
  };
}
