/**
 * Reporting throughput and latency: CalvenSink (SQLite outbox + undici client) against the strict fake Calven on
 * loopback, in this process (so the fake's JSON validation shares the CPU with the sink).
 *
 *   npm run bench:report [-- --events 20000 --rooms 50]
 *
 * Scenarios
 * - burst:     EVENTS events from ROOMS rooms, each round every room sends at once; from first send to last event
 *              loaded by the fake.
 * - backlog:   the same number of events piled up while Calven answers 503, then Calven recovers: drain rate.
 * - one by one: each send awaited before the next (one fsync per event): the producer-bound worst case.
 * - latency:   a healthy, lightly loaded sink: send() call → the POST carrying that event arriving at the fake.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/log.js';
import { CalvenSink } from '../src/report/calven/sink.js';
import { buildOccupancyEvent, type OccupancyEvent } from '../src/report/event.js';
import { FakeCalven, TEST_HMAC } from '../test/helpers/fake-calven.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    rooms: { type: 'string', default: '50' },
    latency: { type: 'string', default: '300' },
    sequential: { type: 'string', default: '3000' },
  },
});
const EVENTS = Number(values.events);
const ROOMS = Number(values.rooms);
const LATENCY_EVENTS = Number(values.latency);
const SEQUENTIAL = Number(values.sequential);

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
const progress = (msg: string) => process.stderr.write(`[bench:report] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const rooms = Array.from({ length: ROOMS }, (_, i) => ({
  id: `room-${String(i).padStart(2, '0')}`,
  locationId: `0B7E6C39-8C2B-4A5E-9B6F-${String(i).padStart(12, '0')}`,
  locationType: i % 10 === 9 ? ('place' as const) : ('space' as const),
}));
let counter = 0;
function nextEvent(room: (typeof rooms)[number]): OccupancyEvent {
  counter++;
  return buildOccupancyEvent(room, counter % 6, Date.now());
}

interface Row {
  scenario: string;
  events: number;
  seconds: number;
  requests: number;
}
const rows: Row[] = [];

async function withSink<T>(fake: FakeCalven, name: string, fn: (sink: CalvenSink) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `roomcount-bench-${name}-`));
  const sink = new CalvenSink({
    sourceId: 'roomcount bench',
    baseUrl: fake.url,
    auth: { type: 'hmac', ...TEST_HMAC },
    stateDir: dir,
    log,
    backoff: { initialMs: 50, maxMs: 500 },
  });
  try {
    return await fn(sink);
  } finally {
    await sink.close(5000);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitAccepted(fake: FakeCalven, target: number, label: string): Promise<void> {
  let lastReport = Date.now();
  while (fake.accepted.length < target) {
    await sleep(2);
    if (Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      progress(`${label}: ${fake.accepted.length}/${target} loaded`);
    }
  }
}

function reset(fake: FakeCalven): { requestsBefore: number } {
  fake.accepted.length = 0;
  return { requestsBefore: fake.occupancyRequests().length };
}

function verifyOrder(fake: FakeCalven, sent: string[], label: string): void {
  const got = fake.acceptedIds();
  if (got.length !== sent.length || got.some((id, i) => id !== sent[i])) {
    throw new Error(`${label}: delivered ${got.length} events, not exactly the ${sent.length} sent in order`);
  }
}

async function burst(fake: FakeCalven): Promise<void> {
  progress(`burst: ${EVENTS} events from ${ROOMS} rooms`);
  const { requestsBefore } = reset(fake);
  await withSink(fake, 'burst', async (sink) => {
    const sent: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < EVENTS; i += ROOMS) {
      const round = rooms.slice(0, Math.min(ROOMS, EVENTS - i)).map((room) => {
        const e = nextEvent(room);
        sent.push(e.eventId);
        return sink.send(e, room.id);
      });
      await Promise.all(round);
    }
    const tInserted = performance.now();
    await waitAccepted(fake, EVENTS, 'burst');
    const t1 = performance.now();
    verifyOrder(fake, sent, 'burst');
    progress(`burst: all sends committed in ${((tInserted - t0) / 1000).toFixed(2)} s`);
    rows.push({
      scenario: `burst (${ROOMS} rooms)`,
      events: EVENTS,
      seconds: (t1 - t0) / 1000,
      requests: fake.occupancyRequests().length - requestsBefore,
    });
  });
}

async function backlog(fake: FakeCalven): Promise<void> {
  progress(`backlog: ${EVENTS} events while Calven answers 503, then recovery`);
  const { requestsBefore } = reset(fake);
  await withSink(fake, 'backlog', async (sink) => {
    await sink.send(nextEvent(rooms[0]!), rooms[0]!.id); // token first, so the outage hits /v1/occupancy
    await waitAccepted(fake, 1, 'backlog warm-up');
    fake.accepted.length = 0;
    fake.outage('503');
    const sent: string[] = [];
    for (let i = 0; i < EVENTS; i += ROOMS) {
      await Promise.all(
        rooms.slice(0, Math.min(ROOMS, EVENTS - i)).map((room) => {
          const e = nextEvent(room);
          sent.push(e.eventId);
          return sink.send(e, room.id);
        }),
      );
    }
    progress(`backlog: ${sink.status().pending} pending; Calven back`);
    const requestsAtRecovery = fake.occupancyRequests().length;
    fake.outage(undefined);
    const t0 = performance.now();
    await waitAccepted(fake, EVENTS, 'backlog');
    const t1 = performance.now();
    verifyOrder(fake, sent, 'backlog');
    progress(`backlog: ${requestsAtRecovery - requestsBefore} requests refused during the outage`);
    rows.push({
      scenario: 'backlog drain after outage',
      events: EVENTS,
      seconds: (t1 - t0) / 1000,
      requests: fake.occupancyRequests().length - requestsAtRecovery,
    });
  });
}

async function sequential(fake: FakeCalven): Promise<void> {
  progress(`one by one: ${SEQUENTIAL} events, each send awaited`);
  const { requestsBefore } = reset(fake);
  await withSink(fake, 'seq', async (sink) => {
    const sent: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < SEQUENTIAL; i++) {
      const room = rooms[i % ROOMS]!;
      const e = nextEvent(room);
      sent.push(e.eventId);
      await sink.send(e, room.id);
    }
    await waitAccepted(fake, SEQUENTIAL, 'one by one');
    const t1 = performance.now();
    verifyOrder(fake, sent, 'one by one');
    rows.push({
      scenario: 'one by one (await each send)',
      events: SEQUENTIAL,
      seconds: (t1 - t0) / 1000,
      requests: fake.occupancyRequests().length - requestsBefore,
    });
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function latency(fake: FakeCalven): Promise<{ post: number[]; commit: number[] }> {
  progress(`latency: ${LATENCY_EVENTS} events, one every 20 ms from random rooms`);
  reset(fake);
  return withSink(fake, 'latency', async (sink) => {
    await sink.send(nextEvent(rooms[0]!), rooms[0]!.id); // token
    await waitAccepted(fake, 1, 'latency warm-up');
    fake.accepted.length = 0;
    const calledAt = new Map<string, number>();
    const commit: number[] = [];
    for (let i = 0; i < LATENCY_EVENTS; i++) {
      const room = rooms[Math.floor(Math.random() * ROOMS)]!;
      const e = nextEvent(room);
      const t = Date.now();
      const p0 = performance.now();
      calledAt.set(e.eventId, t);
      await sink.send(e, room.id);
      commit.push(performance.now() - p0);
      await sleep(20);
    }
    await waitAccepted(fake, LATENCY_EVENTS, 'latency');
    const post = fake.accepted.map((a) => a.receivedAt - calledAt.get(a.eventId)!).sort((a, b) => a - b);
    return { post, commit: commit.sort((a, b) => a - b) };
  });
}

async function main(): Promise<void> {
  const fake = await FakeCalven.start({ locationIds: rooms.map((r) => r.locationId) });
  try {
    await burst(fake);
    await backlog(fake);
    await sequential(fake);
    const lat = await latency(fake);

    const pad = (s: string, n: number) => s.padEnd(n);
    const out: string[] = [];
    out.push(
      `${pad('scenario', 30)} ${pad('events', 7)} ${pad('seconds', 8)} ${pad('events/s', 9)} ${pad('requests', 9)} ev/request`,
    );
    for (const r of rows) {
      out.push(
        `${pad(r.scenario, 30)} ${pad(String(r.events), 7)} ${pad(r.seconds.toFixed(2), 8)} ${pad(
          Math.round(r.events / r.seconds).toString(),
          9,
        )} ${pad(String(r.requests), 9)} ${(r.events / Math.max(1, r.requests)).toFixed(1)}`,
      );
    }
    out.push('');
    out.push(`latency, healthy (${lat.post.length} events, 1 per 20 ms):`);
    out.push(
      `  send() → POST at Calven   median ${percentile(lat.post, 50)} ms   p95 ${percentile(lat.post, 95)} ms   max ${lat.post.at(-1)} ms`,
    );
    out.push(
      `  send() resolved (on disk) median ${percentile(lat.commit, 50).toFixed(2)} ms   p95 ${percentile(lat.commit, 95).toFixed(2)} ms`,
    );
    const burstRow = rows[0]!;
    const ok = burstRow.events / burstRow.seconds >= 2000 && percentile(lat.post, 95) <= 1000;
    out.push('');
    out.push(`targets: ≥ 2000 events/s batched, send → POST ≤ 1 s: ${ok ? 'met' : 'NOT met'}`);
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await fake.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
