import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, resolveConfigPaths } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { errorKind } from '../src/report/calven/sink.js';
import { requestBodyText } from '../src/report/event.js';
import { StdoutSink, type EventSink } from '../src/report/sink.js';
import { buildOccupancyEvent } from '../src/report/event.js';
import { startService } from '../src/service.js';
import { fakeDetector } from './helpers/detector.js';
import { tempDir } from './helpers/media.js';
import { freePort } from './helpers/net.js';
import { textSink } from './helpers/streams.js';

describe('sinks', () => {
  it('/readyz lists the sink’s own problem, and is ready again when it is gone', async () => {
    const tmp = tempDir();
    const port = await freePort();
    let problem: string | undefined =
      'calven outbox failing: database or disk is full; 3 event(s) held in memory';
    const sink: EventSink = { send: async () => {}, close: async () => {}, problem: () => problem };
    const config = resolveConfigPaths(
      parseConfig(
        `sink: stdout\nhttp: { port: ${port}, host: 127.0.0.1 }\nrooms:\n  - { id: r1, locationId: L1, locationType: space, camera: { url: no-such.mp4 } }\n`,
        join(tmp.dir, 'roomcount.yaml'),
      ),
      tmp.dir,
    );
    const service = await startService(config, {
      log: createLogger({ level: 'silent' }),
      sink,
      detector: fakeDetector(async () => []),
    });
    try {
      const notReady = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ status: 'not ready', problems: [problem] });
      problem = undefined;
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    } finally {
      await service.stop();
      tmp.cleanup();
    }
  });

  it('the stdout sink prints the exact bytes the Calven sink posts', async () => {
    const out = textSink();
    const e = buildOccupancyEvent({ locationId: 'L1', locationType: 'space' }, 2, Date.UTC(2026, 0, 1));
    await new StdoutSink('roomcount "floor 3"', out).send(e);
    const text = out.text();
    expect(text).toBe(requestBodyText('roomcount "floor 3"', [JSON.stringify(e)]) + '\n');
    expect(JSON.parse(text)).toEqual({ sourceId: 'roomcount "floor 3"', occupancyEvents: [e] });
  });

  it('maps every failed request to one metric kind', () => {
    const retry = (status: number | undefined, cause: 'http' | 'auth' | 'timeout' | 'network' = 'http') =>
      errorKind({ kind: 'retry', cause, status, message: '' });
    expect(errorKind({ kind: 'accepted', status: 200, results: [] })).toBeUndefined();
    expect(errorKind({ kind: 'malformed', status: 200, message: '' })).toBe('malformed_answer');
    expect(errorKind({ kind: 'rejected', status: 400, message: '' })).toBe('http_4xx');
    expect([503, 500, 429, 408, 401, 302].map((s) => retry(s))).toEqual([
      'http_5xx',
      'http_5xx',
      'http_4xx',
      'http_4xx',
      'auth',
      'http_3xx',
    ]);
    expect(retry(undefined, 'timeout')).toBe('timeout');
    expect(retry(undefined, 'network')).toBe('network');
    expect(retry(401, 'auth')).toBe('auth');
  });
});
