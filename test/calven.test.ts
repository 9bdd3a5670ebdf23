import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type Database from 'better-sqlite3';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../src/log.js';
import { CalvenSink, type CalvenSinkOptions } from '../src/report/calven/sink.js';
import { clipForRedaction, parseExpiration } from '../src/report/calven/client.js';
import { buildOccupancyEvent, type OccupancyEvent } from '../src/report/event.js';
import { listDeadLetters, outboxStats, retryDeadLetters } from '../src/report/calven/outbox.js';
import { FakeCalven, TEST_HMAC, TEST_OAUTH, type FakeCalvenOptions } from './helpers/fake-calven.js';
import { tempDir } from './helpers/media.js';

const ROOT = resolve(import.meta.dirname, '..');
const LOC = [
  '0B7E6C39-8C2B-4A5E-9B6F-2F1D3A4C5E01',
  '0B7E6C39-8C2B-4A5E-9B6F-2F1D3A4C5E02',
  'D0FA9F18-6E7F-449A',
];

interface Captured {
  log: Logger;
  text: () => string;
  lines: () => Record<string, unknown>[];
}

function capture(): Captured {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ level: 'debug', destination });
  const text = () => chunks.join('');
  return {
    log,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const fakes: FakeCalven[] = [];
const sinks: CalvenSink[] = [];
const logs: Captured[] = [];
const cleanups: (() => void)[] = [];

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close(0)));
  // Secrets and tokens never reach a log line, whatever happened in the test.
  const forbidden = [TEST_HMAC.apiSecret, TEST_OAUTH.clientSecret, ...fakes.flatMap((f) => f.issuedTokens)];
  for (const c of logs.splice(0)) {
    const text = c.text();
    for (const secret of forbidden) expect(text.includes(secret), 'a secret or token was logged').toBe(false);
  }
  await Promise.all(fakes.splice(0).map((f) => f.close()));
  for (const c of cleanups.splice(0)) c();
});

async function fake(opts: FakeCalvenOptions = {}): Promise<FakeCalven> {
  const f = await FakeCalven.start(opts);
  fakes.push(f);
  return f;
}

function stateDir(): string {
  const t = tempDir('roomcount-calven-');
  cleanups.push(t.cleanup);
  return join(t.dir, 'state');
}

function sink(
  f: FakeCalven,
  dir: string,
  extra: Partial<CalvenSinkOptions> = {},
): { sink: CalvenSink } & Captured {
  const c = capture();
  logs.push(c);
  const s = new CalvenSink({
    sourceId: 'roomcount test',
    baseUrl: f.url,
    auth: { type: 'hmac', ...TEST_HMAC },
    stateDir: dir,
    log: c.log,
    backoff: { initialMs: 20, maxMs: 200 },
    timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 },
    idlePollMs: 100,
    ...extra,
  });
  sinks.push(s);
  return { sink: s, ...c };
}

let n = 0;
function ev(loc = 0, type: 'space' | 'place' = 'space'): OccupancyEvent {
  n++;
  return buildOccupancyEvent({ locationId: LOC[loc]!, locationType: type }, n % 4, Date.now() - 1000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('token expiration parsing', () => {
  const now = Date.UTC(2026, 0, 1);
  it('reads unix seconds, unix ms, ISO (with or without zone), numeric strings and relative seconds', () => {
    expect(parseExpiration(1767229200, now)).toBe(1767229200_000);
    expect(parseExpiration(1767229200_000, now)).toBe(1767229200_000);
    expect(parseExpiration('1767229200', now)).toBe(1767229200_000);
    expect(parseExpiration('2026-01-01T01:00:00Z', now)).toBe(now + 3600_000);
    expect(parseExpiration('2026-01-01T01:00:00', now)).toBe(now + 3600_000);
    expect(parseExpiration('2026-01-01T02:00:00+01:00', now)).toBe(now + 3600_000);
    expect(parseExpiration(3600, now)).toBe(now + 3600_000);
    expect(parseExpiration(3600, now, true)).toBe(now + 3600_000);
    expect(parseExpiration('soon', now)).toBeUndefined();
    expect(parseExpiration(undefined, now)).toBeUndefined();
  });
});

describe('clipping server text before redaction', () => {
  it('leaves no part of a secret, nor of a URL user info, at the cut', () => {
    const secret = 'rc-SECRET-1234';
    expect(clipForRedaction('short', 10, [secret])).toBe('short');
    for (let cut = 1; cut < secret.length; cut++) {
      const text = 'error: ' + secret.slice(0, cut) + secret.slice(cut) + ' and more';
      const clipped = clipForRedaction(text, 7 + cut, [secret]);
      expect(clipped).toBe('error: ');
    }
    expect(clipForRedaction('see rtsp://admin:pw@cam/1', 19, [])).toBe('see ');
    expect(clipForRedaction('abcdefgh', 4, [secret])).toBe('abcd');
  });
});

describe('the fake Calven is strict', () => {
  it('refuses bad credentials, missing/expired tokens, wrong Content-Type and malformed bodies', async () => {
    const f = await fake({ tokenLifetimeSec: 60 });
    const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await request(f.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
    };
    const ts = Math.floor(Date.now() / 1000);
    const hash = (secret: string, t = ts) =>
      createHmac('sha256', secret).update(`${TEST_HMAC.apiKey}${t}`).digest('hex');
    expect(
      (await post('/v1/auth', { apiKey: TEST_HMAC.apiKey, timestamp: ts, hash: hash('wrong') })).status,
    ).toBe(401);
    expect(
      (
        await post('/v1/auth', {
          apiKey: TEST_HMAC.apiKey,
          timestamp: ts - 3600,
          hash: hash(TEST_HMAC.apiSecret, ts - 3600),
        })
      ).status,
    ).toBe(401);
    expect(
      (await post('/v1/auth', { apiKey: TEST_HMAC.apiKey, timestamp: String(ts), hash: 'x' })).status,
    ).toBe(400);
    expect(
      (await post('/v1/auth/token', { client_id: TEST_OAUTH.clientId, client_secret: 'nope' })).status,
    ).toBe(401);
    const ok = await post('/v1/auth', {
      apiKey: TEST_HMAC.apiKey,
      timestamp: ts,
      hash: hash(TEST_HMAC.apiSecret),
    });
    expect(ok.json).toMatchObject({
      authenticated: true,
      token: expect.any(String),
      expiration: expect.any(Number),
    });
    const bearer = { authorization: `Bearer ${String(ok.json.token)}` };

    const good = ev();
    const body = (events: unknown[]) => ({ sourceId: 's', occupancyEvents: events });
    expect((await post('/v1/occupancy', body([good]))).status).toBe(401);
    expect(
      (await post('/v1/occupancy', body([good]), { ...bearer, 'content-type': 'text/plain' })).status,
    ).toBe(415);
    expect((await post('/v1/occupancy', '{"sourceId":', bearer)).status).toBe(400);
    const bad: [string, unknown][] = [
      ['no events', body([])],
      ['101 events', body(Array.from({ length: 101 }, () => ev()))],
      ['extra top-level key', { ...body([good]), extra: 1 }],
      ['timestamp without Z', body([{ ...good, timestamp: good.timestamp.replace('Z', '+00:00') }])],
      ['eventId not a UUID', body([{ ...good, eventId: 'evt-1' }])],
      ['unknown locationType', body([{ ...good, locationType: 'room' }])],
      ['occupancy on a place', body([{ ...ev(0, 'place'), occupancy: 1 }])],
      ['no occupancy on a space', body([{ ...good, occupancy: undefined }])],
      ['negative occupancy', body([{ ...good, occupancy: -1, occupied: false }])],
      ['occupied inconsistent', body([{ ...good, occupancy: 0, occupied: true }])],
      ['unknown event key', body([{ ...good, note: 'x' }])],
    ];
    for (const [what, b] of bad) {
      const res = await post('/v1/occupancy', b, bearer);
      expect(res.status, what).toBe(400);
      expect(res.json.message, what).toEqual(expect.any(String));
    }
    expect(f.accepted).toHaveLength(0);
    const res = await post('/v1/occupancy', body([good]), bearer);
    expect(res).toMatchObject({
      status: 200,
      json: { sourceId: 's', results: [{ eventId: good.eventId, resultCode: 0 }] },
    });
    f.expireAllTokens();
    expect((await post('/v1/occupancy', body([ev()]), bearer)).status).toBe(401);
  });
});

describe('CalvenSink against a strict fake Calven', () => {
  it('hmac: token, the documented request, events in order, send → POST well under a second', async () => {
    const f = await fake();
    const { sink: s } = sink(f, stateDir());
    const sent: OccupancyEvent[] = [];
    const calledAt = new Map<string, number>();
    for (let i = 0; i < 5; i++) {
      const e = ev(i % 2);
      sent.push(e);
      calledAt.set(e.eventId, Date.now());
      const t0 = performance.now();
      await s.send(e, `room-${i % 2}`);
      expect(performance.now() - t0).toBeLessThan(250); // on disk, not on the network
      await sleep(60);
    }
    await f.until(() => f.accepted.length === 5, '5 events');
    expect(f.accepted.map((a) => a.event)).toEqual(sent);
    expect(f.accepted.every((a) => a.sourceId === 'roomcount test')).toBe(true);
    const latencies = f.accepted.map((a) => a.receivedAt - calledAt.get(a.eventId)!);
    expect(Math.max(...latencies)).toBeLessThan(1500);

    expect(f.requests[0]!.path).toBe('/v1/auth');
    expect(f.issuedTokens).toHaveLength(1);
    const post = f.occupancyRequests()[0]!;
    expect(post.headers['content-type']).toBe('application/json');
    expect(post.headers.authorization).toBe(`Bearer ${f.issuedTokens[0]}`);
    expect(Object.keys(post.body as object)).toEqual(['sourceId', 'occupancyEvents']);
    await until(() => s.status().pending === 0, 'outbox empty');
    expect(s.status()).toMatchObject({ deadLetter: 0, delivered: 5, failedRequests: 0 });
  });

  it('oauth: accepts {access_token, expires_in} and {token, expiration}', async () => {
    for (const oauthStyle of ['access_token', 'token'] as const) {
      const f = await fake({ oauthStyle });
      const { sink: s } = sink(f, stateDir(), { auth: { type: 'oauth', ...TEST_OAUTH } });
      const e = ev();
      await s.send(e, 'boardroom');
      await f.until(() => f.accepted.length === 1, `oauth ${oauthStyle} delivery`);
      expect(f.requests.filter((r) => r.path === '/v1/auth/token').map((r) => r.status)).toEqual([200]);
      expect(f.acceptedIds()).toEqual([e.eventId]);
    }
  });

  it('gets a new token before the old one expires (ISO expiration), without a 401', async () => {
    const f = await fake({ tokenLifetimeSec: 2, expirationFormat: 'iso' });
    const { sink: s } = sink(f, stateDir());
    await s.send(ev(), 'a');
    await f.until(() => f.accepted.length === 1, 'first event');
    const firstTokenAt = f.requests[0]!.receivedAt;
    await sleep(firstTokenAt + 1300 - Date.now()); // past refresh time (half the lifetime), before expiry
    await s.send(ev(), 'a');
    await f.until(() => f.accepted.length === 2, 'second event');
    expect(f.issuedTokens).toHaveLength(2);
    expect(f.statusCount(401)).toBe(0);
  });

  it('after a 401 gets one new token and re-sends the same batch; a 401 that persists is retried, not dropped', async () => {
    const f = await fake();
    const { sink: s } = sink(f, stateDir());
    const e1 = ev();
    await s.send(e1, 'a');
    await f.until(() => f.accepted.length === 1, 'first event');
    f.expireAllTokens();
    const e2 = ev();
    await s.send(e2, 'a');
    await f.until(() => f.accepted.length === 2, 'second event');
    const posts = f.occupancyRequests();
    expect(posts.map((r) => r.status)).toEqual([200, 401, 200]);
    expect(posts[1]!.eventIds).toEqual([e2.eventId]);
    expect(posts[2]!.eventIds).toEqual([e2.eventId]);
    expect(f.issuedTokens).toHaveLength(2);
    expect(s.status().failedRequests).toBe(0);

    // 401, then the token endpoint refuses too, then 401 with a fresh token: all retried later.
    f.failNext(401, 4, 'Unauthorized');
    const e3 = ev();
    await s.send(e3, 'a');
    await f.until(() => f.accepted.length === 3, 'third event');
    expect(f.acceptedIds()).toEqual([e1.eventId, e2.eventId, e3.eventId]);
    // The fake has answered; the sink deletes the event once it has read that answer.
    await until(() => s.status().pending === 0, 'outbox empty');
    expect(s.status()).toMatchObject({ deadLetter: 0, pending: 0 });
  });

  it('outage (503s, dropped connections, timeouts): every event delivered exactly once, in order', async () => {
    const f = await fake();
    const { sink: s, lines } = sink(f, stateDir(), { timeouts: { totalMs: 250 } });
    const sent: string[] = [];
    const sendMany = async (count: number) => {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const e = ev(i % 3);
        sent.push(e.eventId);
        batch.push(s.send(e, `room-${i % 5}`));
        if (i % 37 === 0) await Promise.all(batch.splice(0)); // mixed: some awaited one by one
      }
      await Promise.all(batch);
    };
    await sendMany(1);
    await f.until(() => f.accepted.length === 1, 'first event');

    f.outage('503');
    await sendMany(150);
    await f.until(() => f.statusCount(503) >= 5, '5 × 503');
    f.outage('drop');
    await sendMany(60);
    await f.until(() => f.statusCount('dropped') >= 3, '3 dropped connections');
    f.outage(undefined);
    f.delayMs = 600; // > headersTimeout: the client gives up, the fake processes nothing
    await f.until(() => f.statusCount('aborted') >= 1, 'a timed-out request', 5000);
    f.delayMs = 0;
    await sendMany(100);
    await f.until(() => f.accepted.length === sent.length, `all ${sent.length} events`, 15_000);

    expect(f.acceptedIds()).toEqual(sent);
    expect(new Set(f.acceptedIds()).size).toBe(sent.length);
    for (const r of f.occupancyRequests()) expect(r.eventIds?.length ?? 0).toBeLessThanOrEqual(100);
    // Batched: far fewer requests than events once healthy.
    expect(f.occupancyRequests().filter((r) => r.status === 200).length).toBeLessThan(20);
    await until(() => s.status().pending === 0, 'outbox empty');
    expect(s.status()).toMatchObject({ pending: 0, deadLetter: 0 });

    // Backoff grows (jitter keeps each delay within [d/2, d], d doubling from 20 ms).
    const t503 = f.requests.filter((r) => r.status === 503).map((r) => r.receivedAt);
    expect(t503[4]! - t503[3]!).toBeGreaterThan(t503[1]! - t503[0]!);
    const msgs = lines().map((l) => l.msg);
    expect(msgs).toContain('calven delivery failed; events stay in the outbox');
    expect(msgs).toContain('calven delivery recovered');
  });

  it('unknown locationId: that event is dead-lettered with room and message, the others load; retry-dead resends it', async () => {
    const f = await fake({ locationIds: [LOC[0]!, LOC[1]!] });
    const dir = stateDir();
    const { sink: s, lines } = sink(f, dir);
    const a = ev(0);
    const bad = ev(2);
    const b = ev(1);
    await Promise.all([s.send(a, 'room-a'), s.send(bad, 'lobby'), s.send(b, 'room-b')]);
    await until(() => s.status().deadLetter === 1 && s.status().pending === 0, 'dead letter');
    expect(f.occupancyRequests()).toHaveLength(1); // one request for the three
    expect(f.acceptedIds()).toEqual([a.eventId, b.eventId]);
    const warn = lines().find((l) => l.msg === 'calven rejected an event; moved to the dead-letter table');
    expect(warn).toMatchObject({ room: 'lobby', eventId: bad.eventId, resultCode: 1, locationId: LOC[2] });
    expect(String(warn!.message)).toMatch(/not found/);
    expect(listDeadLetters(dir)).toMatchObject([
      { eventId: bad.eventId, roomId: 'lobby', reason: 'rejected', resultCode: 1, body: JSON.stringify(bad) },
    ]);

    // The space is created in Calven; the operator runs `roomcount outbox --retry-dead` while the service runs.
    f.locationIds!.add(LOC[2]!);
    expect(retryDeadLetters(dir)).toBe(1);
    await f.until(() => f.accepted.length === 3, 'retried event');
    expect(f.acceptedIds()).toEqual([a.eventId, b.eventId, bad.eventId]);
    await until(() => outboxStats(dir).pending === 0, 'outbox empty');
    expect(outboxStats(dir).deadLetter).toBe(0);
  });

  it('400: the whole batch is dead-lettered and the message logged; later events are still delivered', async () => {
    const f = await fake();
    const dir = stateDir();
    const { sink: s, lines } = sink(f, dir);
    const good1 = ev();
    await s.send(good1, 'a');
    await f.until(() => f.accepted.length === 1, 'first event');

    const bad = { ...ev(1, 'place'), occupancy: 2 }; // a place takes no occupancy: Calven refuses the body
    const mate = ev();
    await Promise.all([s.send(bad, 'desk-1'), s.send(mate, 'a')]);
    await until(() => s.status().deadLetter === 2, 'batch dead-lettered');
    const good2 = ev();
    await s.send(good2, 'a');
    await f.until(() => f.accepted.length === 2, 'event after the 400');

    expect(f.acceptedIds()).toEqual([good1.eventId, good2.eventId]);
    expect(f.statusCount(400)).toBe(1); // not retried blindly
    const dead = listDeadLetters(dir);
    expect(dead.map((d) => d.eventId)).toEqual([bad.eventId, mate.eventId]);
    expect(dead[0]).toMatchObject({ reason: 'http', httpStatus: 400, roomId: 'desk-1' });
    expect(dead[0]!.message).toMatch(/occupancy is not accepted for a place/);
    const err = lines().find((l) => l.level === 50);
    expect(err).toMatchObject({ status: 400, events: 2, rooms: ['desk-1', 'a'] });
    expect(String(err!.message)).toMatch(/occupancy is not accepted/);
  });

  it('200 without a result for an event: re-sent with the same eventId; no results array at all: kept, sent again', async () => {
    const f = await fake();
    const { sink: s } = sink(f, stateDir());
    const [e1, e2, e3] = [ev(), ev(), ev()];
    f.omitResultOnce(e2.eventId);
    await Promise.all([s.send(e1, 'a'), s.send(e2, 'a'), s.send(e3, 'a')]);
    await f.until(() => f.accepted.length === 3, 'three events');
    expect(f.acceptedIds()).toEqual([e1.eventId, e3.eventId, e2.eventId]);
    expect(f.occupancyRequests().map((r) => r.eventIds)).toEqual([
      [e1.eventId, e2.eventId, e3.eventId],
      [e2.eventId],
    ]);

    // A 200 without `results` says nothing about what was loaded: the event stays and goes again.
    f.resultsMode = 'absent';
    const e4 = ev();
    await s.send(e4, 'a');
    await f.until(() => f.occupancyRequests().length >= 4, 'a 200 without results, then a retry');
    expect(s.status().pending).toBe(1);
    f.resultsMode = 'all';
    await until(() => s.status().pending === 0, 'fourth event');
    expect(
      f
        .occupancyRequests()
        .slice(2)
        .map((r) => r.eventIds),
    ).toEqual(
      f
        .occupancyRequests()
        .slice(2)
        .map(() => [e4.eventId]),
    );
  });

  it('close(deadline) flushes what it can, aborts a hung request at the deadline, keeps the rest for the next start', async () => {
    const f = await fake();
    const dir = stateDir();
    // Healthy: close() waits for delivery.
    const first = sink(f, dir).sink;
    const flushed = [ev(), ev(), ev()];
    for (const e of flushed) await first.send(e, 'a');
    await first.close(5000);
    expect(f.acceptedIds()).toEqual(flushed.map((e) => e.eventId));

    // Calven hangs: send() still returns at once; close(300) gives up at the deadline.
    const second = sink(f, dir, { timeouts: { headersMs: 10_000 } }).sink;
    await second.send(ev(), 'a'); // has a token now
    await f.until(() => f.accepted.length === 4, 'warm-up event');
    f.delayMs = 5000;
    const before = f.occupancyRequests().length;
    const stuck: OccupancyEvent[] = [];
    for (let i = 0; i < 20; i++) {
      const e = ev(i % 2);
      stuck.push(e);
      const t0 = performance.now();
      await second.send(e, `room-${i % 2}`);
      expect(performance.now() - t0).toBeLessThan(250);
    }
    await until(() => f.occupancyRequests().length > before, 'a request in flight');
    const t0 = Date.now();
    await second.close(300);
    expect(Date.now() - t0).toBeLessThan(1300);
    expect(outboxStats(dir).pending).toBe(20);
    await expect(second.send(ev(), 'a')).rejects.toThrow(/closed/);

    // Next start, Calven fine again: the leftovers go first, in order.
    f.delayMs = 0;
    const third = sink(f, dir).sink;
    await f.until(() => f.accepted.length === 24, 'leftovers');
    expect(f.acceptedIds().slice(4)).toEqual(stuck.map((e) => e.eventId));
    await third.close(1000);
  });

  it('kill -9 while Calven is down: after a restart every event is delivered exactly once, in order', async () => {
    const f = await fake();
    f.outage('503');
    const dir = stateDir();
    const script = join(dir, '..', 'child.mts'); // .mts: ESM without a package.json next to it
    const mod = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, p)).href);
    writeFileSync(
      script,
      `import { CalvenSink } from ${mod('src/report/calven/sink.ts')};
import { buildOccupancyEvent } from ${mod('src/report/event.ts')};
import { createLogger } from ${mod('src/log.ts')};
const [url, stateDir, count] = process.argv.slice(2);
const sink = new CalvenSink({
  sourceId: 'kill test', baseUrl: url, stateDir, log: createLogger({ level: 'silent' }),
  auth: { type: 'hmac', apiKey: ${JSON.stringify(TEST_HMAC.apiKey)}, apiSecret: ${JSON.stringify(TEST_HMAC.apiSecret)} },
  backoff: { initialMs: 20, maxMs: 100 },
});
const ids = [];
let burst = [];
for (let i = 0; i < Number(count); i++) {
  const e = buildOccupancyEvent({ locationId: 'loc-' + (i % 7), locationType: i % 7 === 6 ? 'place' : 'space' }, i % 4, Date.now());
  ids.push(e.eventId);
  burst.push(sink.send(e, 'room-' + (i % 7)));
  if (i % 10 === 0) await Promise.all(burst.splice(0));
}
await Promise.all(burst);
process.stdout.write(JSON.stringify(ids) + '\\n');
setInterval(() => {}, 1000);
`,
    );
    const N = 230;
    const child = spawn(process.execPath, ['--import', 'tsx', script, f.url, dir, String(N)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errOut = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (errOut += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    try {
      await until(() => out.includes('\n') || child.exitCode !== null, 'child ready', 15_000).catch(
        (err: Error) => {
          throw new Error(`${err.message}; child stderr: ${errOut}`);
        },
      );
      const before = f.statusCount(503);
      await f.until(() => f.statusCount(503) >= before + 3, 'child retrying');
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    const ids = JSON.parse(out) as string[];
    expect(ids).toHaveLength(N);
    expect(f.accepted).toHaveLength(0);

    f.outage(undefined);
    const { sink: s } = sink(f, dir);
    await f.until(() => f.accepted.length === N, `all ${N} events after restart`);
    await until(() => s.status().pending === 0, 'outbox empty');
    await sleep(50);
    expect(f.acceptedIds()).toEqual(ids);
    expect(f.occupancyRequests().filter((r) => r.status === 200)).toHaveLength(3); // 100 + 100 + 30
  });
});

/** Largest gap between 20 ms ticks while `fn` runs: how long the event loop was blocked (ms). */
async function maxLoopGap(fn: () => Promise<void>): Promise<number> {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
  }, 20);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return Math.max(max, performance.now() - last);
}

describe('CalvenSink against hostile answers', () => {
  it('does not read a huge answer body (error or 200): cuts it off, keeps the event, stays responsive', async () => {
    const f = await fake();
    const { sink: s, lines } = sink(f, stateDir());
    const huge = Buffer.alloc(16 << 20, 'x'); // 16 MiB of text without a newline: redaction's worst case
    const e = ev();
    await s.send(ev(), 'a'); // a token first: the huge answers are for occupancy requests
    await f.until(() => f.accepted.length === 1, 'warm-up event');
    await until(() => s.status().pending === 0, 'warm-up delivered');
    const gap = await maxLoopGap(async () => {
      f.answerNext(503, huge, 'text/html');
      f.answerNext(200, huge, 'text/html');
      f.answerNext(400, huge, 'text/html');
      await s.send(e, 'a');
      await f.until(() => f.rawAnswers.length === 3, 'three huge answers', 15_000);
      await until(() => s.status().deadLetter === 1, 'the 400 dead-letters the event');
    });
    expect(f.rawAnswers).toEqual(['cut', 'cut', 'cut']);
    expect(gap).toBeLessThan(1000);
    expect(f.accepted).toHaveLength(1);
    // The 503 and the unreadable 200 kept the event; the 400 refused it (its status says so), with a short message.
    expect(s.status()).toMatchObject({ pending: 0, deadLetter: 1 });
    const dead = lines().find((l) => l.msg?.toString().startsWith('calven refused the request'));
    expect(String(dead?.message)).toMatch(/over 65536 bytes \(not read\)/);
  });

  it('a 200 that is HTML, {}, empty or names other events deletes nothing; the event goes again until loaded', async () => {
    const f = await fake();
    const { sink: s, lines } = sink(f, stateDir());
    await s.send(ev(), 'a');
    await until(() => f.accepted.length === 1 && s.status().pending === 0, 'warm-up event');
    const stranger = JSON.stringify({ results: [{ eventId: ev().eventId, resultCode: 0, message: 'OK' }] });
    for (const [body, type] of [
      ['<html><body>Welcome to the hotel Wi-Fi</body></html>', 'text/html'],
      ['{}', 'application/json'],
      ['', 'application/json'],
      [stranger, 'application/json'],
    ] as const) {
      f.answerNext(200, body, type);
    }
    const e = ev();
    await s.send(e, 'a');
    await until(() => s.status().pending === 0, 'event loaded after the hostile answers');
    expect(
      f
        .occupancyRequests()
        .slice(1)
        .map((r) => r.eventIds),
    ).toEqual(Array(5).fill([e.eventId]));
    expect(f.acceptedIds().slice(1)).toEqual([e.eventId]);
    expect(s.status()).toMatchObject({ deadLetter: 0, delivered: 2 });
    const warned = lines().filter((l) => String(l.msg).includes('not in the documented shape'));
    expect(warned.map((l) => String(l.problem))).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/no results array/),
      expect.stringMatching(/empty/),
      expect.stringMatching(/not sent/),
    ]);
  });
});

/** The sink's own database connection (to make its disk "full" or read-only from the test). */
function outboxDb(s: CalvenSink): Database.Database {
  return s['store']['outbox']['db'] as Database.Database;
}

describe('CalvenSink when the outbox fails', () => {
  it('disk full: events are held in memory (not dropped), readiness says so, and stored once space returns', async () => {
    const f = await fake();
    const dir = stateDir();
    const held: number[] = [];
    const { sink: s, lines } = sink(f, dir, { repairMs: 50, observer: { unstored: (n) => held.push(n) } });
    await s.send(ev(), 'a');
    await until(() => f.accepted.length === 1 && s.status().pending === 0, 'warm-up event');
    expect(s.problem()).toBeUndefined();

    const db = outboxDb(s);
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const events = Array.from({ length: 100 }, () => ev());
    await Promise.all(events.map((e) => s.send(e, 'a'))); // resolves: the sink has them
    expect(s.status()).toMatchObject({ unstored: 100 });
    expect(s.problem()).toMatch(/outbox\.sqlite.*full.*100 event\(s\) held in memory/);
    await sleep(300); // several repair attempts while the disk stays full
    const errors = lines().filter((l) => String(l.msg).startsWith('calven outbox cannot be written'));
    expect(errors).toHaveLength(1); // loud once, not per attempt
    expect(String(errors[0]!.err)).toContain(join(dir, 'outbox.sqlite'));
    expect(held.at(-1)).toBe(100);

    db.pragma('max_page_count = 1073741823');
    await f.until(() => f.accepted.length === 101, 'the held events, once stored');
    expect(f.acceptedIds().slice(1)).toEqual(events.map((e) => e.eventId));
    await until(() => s.status().pending === 0, 'outbox empty');
    expect(s.problem()).toBeUndefined();
    expect(held.at(-1)).toBe(0);
    expect(lines().map((l) => l.msg)).toContain('calven outbox works again; every event is on disk');
  });

  it('delivered events that cannot be deleted are not sent again; recorded once the file can be written', async () => {
    const f = await fake();
    const { sink: s, lines } = sink(f, stateDir(), { repairMs: 50 });
    await s.send(ev(), 'a');
    await until(() => f.accepted.length === 1 && s.status().pending === 0, 'warm-up event');
    f.delayMs = 200;
    const e = ev();
    await s.send(e, 'a');
    await f.until(() => f.occupancyRequests().length === 2, 'the request in flight');
    outboxDb(s).pragma('query_only = ON'); // every write fails from now on, as with a broken file
    await f.until(() => f.accepted.length === 2, 'Calven loaded it');
    await sleep(600); // with the outcome unrecorded, an old sink re-sent it every backoff (20..200 ms)
    expect(f.occupancyRequests().filter((r) => r.eventIds?.includes(e.eventId))).toHaveLength(1);
    expect(s.problem()).toMatch(/outbox\.sqlite.*readonly/);
    expect(lines().filter((l) => String(l.msg).startsWith('calven outbox cannot be written'))).toHaveLength(
      1,
    );
    expect(s.status()).toMatchObject({ unrecorded: 1 });

    outboxDb(s).pragma('query_only = OFF');
    await until(() => s.status().pending === 0 && s.status().unrecorded === 0, 'the outcome recorded');
    expect(s.problem()).toBeUndefined();
    expect(f.acceptedIds()).toHaveLength(2);
  });

  it('outbox.sqlite deleted while running: noticed, logged, recreated with every pending event', async () => {
    const f = await fake();
    const dir = stateDir();
    const { sink: s, lines } = sink(f, dir, { repairMs: 50 });
    f.outage('503');
    const events = Array.from({ length: 5 }, () => ev());
    for (const e of events) await s.send(e, 'a');
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `outbox.sqlite${suffix}`), { force: true });
    await until(
      () => lines().some((l) => String(l.msg).includes('was deleted while running')),
      'the deletion noticed',
    );
    expect(existsSync(join(dir, 'outbox.sqlite'))).toBe(true);
    expect(outboxStats(dir).pending).toBe(5); // a restart now would still have them
    const later = ev();
    await s.send(later, 'a');
    expect(outboxStats(dir).pending).toBe(6);

    f.outage(undefined);
    await f.until(() => f.accepted.length === 6, 'every event');
    expect(f.acceptedIds()).toEqual([...events, later].map((x) => x.eventId));
    await until(() => outboxStats(dir).pending === 0, 'the new file empty');
  });
});

describe('CalvenSink recovery after an outage', () => {
  it('a new event ends a long backoff wait once its short minimum has passed', async () => {
    const f = await fake();
    const { sink: s } = sink(f, stateDir(), { backoff: { initialMs: 8000, maxMs: 8000 }, probeAfterMs: 100 });
    await s.send(ev(), 'a');
    await until(() => f.accepted.length === 1, 'warm-up event');
    f.outage('503');
    const first = ev();
    await s.send(first, 'a');
    await f.until(() => f.statusCount(503) === 1, 'a failed request');
    await until(() => s.status().nextAttemptAt !== null, 'backing off');
    f.outage(undefined);
    await sleep(200);
    const t0 = Date.now();
    const fresh = ev();
    await s.send(fresh, 'a');
    await f.until(() => f.accepted.length === 3, 'both events', 4000); // the wait was 4..8 s
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(f.acceptedIds().slice(1)).toEqual([first.eventId, fresh.eventId]);
  });

  it('waits at most 30 s by default, however long the outage', () => {
    const f = { url: 'http://127.0.0.1:9' } as FakeCalven;
    const { sink: s } = sink(f, stateDir(), { backoff: undefined });
    expect(s['backoff']).toMatchObject({ initialMs: 1000, maxMs: 30_000 });
  });
});

describe('CalvenSink when the outbox folder cannot be recreated at once', () => {
  it('keeps what the deleted file held in memory, not ready, until the folder can be made again', async () => {
    const f = await fake();
    const dir = stateDir();
    const { sink: s } = sink(f, dir, { repairMs: 50 });
    f.outage('503');
    const events = [ev(), ev(), ev()];
    for (const e of events) await s.send(e, 'a');
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(dir, 'not a folder'); // mkdir fails until this is gone
    await until(() => s.problem()?.includes('was deleted while running') === true, 'the deletion noticed');
    const later = ev();
    await s.send(later, 'a');
    await sleep(200);
    expect(s.problem()).toMatch(/was deleted while running/);
    rmSync(dir);
    await until(() => s.problem() === undefined, 'the outbox recreated');
    expect(outboxStats(dir).pending).toBe(4);
    f.outage(undefined);
    await f.until(() => f.accepted.length === 4, 'every event');
    expect(f.acceptedIds()).toEqual([...events, later].map((e) => e.eventId));
  });
});
