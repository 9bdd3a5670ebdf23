import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { CalvenSink, type CalvenSinkObserver } from './calven/sink.js';
import { StdoutSink, type EventSink } from './sink.js';

/** The configured sink: `stdout` (dry run) or `calven` (outbox + delivery, reporting to `observer`). */
export function createSink(config: Config, deps: { log: Logger; observer?: CalvenSinkObserver }): EventSink {
  if (config.sink === 'stdout') return new StdoutSink(config.sourceId);
  const auth = config.calven?.auth;
  if (!auth) throw new Error('sink "calven" needs calven.auth'); // the schema already insists
  return new CalvenSink({
    sourceId: config.sourceId,
    baseUrl: config.calven!.baseUrl,
    auth,
    stateDir: config.stateDir,
    log: deps.log.child({ sink: 'calven' }),
    observer: deps.observer,
  });
}
