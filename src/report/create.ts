import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { CalvenSink } from './calven/sink.js';
import { StdoutSink, type EventSink } from './sink.js';

/** The configured sink: `stdout` (dry run) or `calven` (outbox + delivery), wired to the service's metrics. */
export function createSink(config: Config, deps: { log: Logger; metrics?: Metrics }): EventSink {
  if (config.sink === 'stdout') return new StdoutSink(config.sourceId);
  const auth = config.calven?.auth;
  if (!auth) throw new Error('sink "calven" needs calven.auth'); // the schema already insists
  const { metrics } = deps;
  return new CalvenSink({
    sourceId: config.sourceId,
    baseUrl: config.calven!.baseUrl,
    auth,
    stateDir: config.stateDir,
    log: deps.log.child({ sink: 'calven' }),
    observer: metrics && {
      request(seconds, error) {
        metrics.calvenRequestSeconds.observe({ endpoint: 'occupancy' }, seconds);
        if (error) metrics.calvenErrors.inc({ kind: error });
      },
      settled: (room, outcome) => metrics.events.inc({ room, outcome }),
      unstored: (count) => metrics.outboxUnstored.set(count),
    },
  });
}
