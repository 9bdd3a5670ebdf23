import { describe, expect, it } from 'vitest';
import { readResults, settle, type PostOutcome } from '../src/report/calven/settle.js';
import type { OutboxRow } from '../src/report/calven/outbox.js';

const row = (i: number, attempts = 0): OutboxRow => ({
  seq: i,
  eventId: `0000000${i}-8c2b-4a5e-9b6f-2f1d3a4c5e0${i}`,
  roomId: `room-${i}`,
  body: '{}',
  createdAt: 0,
  attempts,
});
const rows = [row(1), row(2), row(3)];
const ok = (r: OutboxRow, resultCode = 0, message = 'OK') => ({ eventId: r.eventId, resultCode, message });
const accepted = (results: ReturnType<typeof ok>[]): PostOutcome => ({
  kind: 'accepted',
  status: 200,
  results,
});
const opts = { maxUnanswered: 3 };
const ids = (list: readonly OutboxRow[]) => list.map((r) => r.seq);

/** readResults then settle: what a 2xx body of this text does to the three rows. */
function answer200(text: string, batch = rows) {
  const read = readResults(text);
  const outcome: PostOutcome =
    'malformed' in read
      ? { kind: 'malformed', status: 200, message: read.malformed }
      : { kind: 'accepted', status: 200, results: read.results };
  return settle(outcome, batch, opts);
}

describe('settling an answer', () => {
  it('documented 200: loaded events leave, a non-zero resultCode dead-letters that event only', () => {
    const s = settle(
      accepted([ok(rows[0]!), ok(rows[1]!, 1, 'Location not found'), ok(rows[2]!)]),
      rows,
      opts,
    );
    expect(ids(s.delivered)).toEqual([1, 3]);
    expect(s.dead).toEqual([
      {
        row: rows[1],
        info: { reason: 'rejected', httpStatus: 200, resultCode: 1, message: 'Location not found' },
      },
    ]);
    expect(s.retry).toEqual([]);
    expect(s.backoff).toBe(false);
  });

  it('eventIds match case-insensitively, in any order', () => {
    const results = [ok(rows[2]!), ok(rows[0]!), ok(rows[1]!)].map((r) => ({
      ...r,
      eventId: r.eventId.toUpperCase(),
    }));
    expect(ids(settle(accepted(results), rows, opts).delivered)).toEqual([1, 2, 3]);
  });

  it('an event left out of the results is sent again, and dead-lettered after maxUnanswered answers', () => {
    const s = settle(accepted([ok(rows[0]!)]), [rows[0]!, rows[1]!, row(3, 2)], opts);
    expect(ids(s.delivered)).toEqual([1]);
    expect(ids(s.retry)).toEqual([2]);
    expect(s.dead).toMatchObject([{ row: { seq: 3 }, info: { reason: 'no-result', httpStatus: 200 } }]);
    expect(s.backoff).toBe(false);
    const none = settle(accepted([]), rows, opts);
    expect(none).toMatchObject({ delivered: [], dead: [], backoff: true });
    expect(ids(none.retry)).toEqual([1, 2, 3]);
  });

  it('a 2xx not in the documented shape deletes nothing: HTML, {}, empty, wrong entries, strangers, repeats', () => {
    const hostile = [
      '<!DOCTYPE html><html><body>Proxy says hi</body></html>',
      '{}',
      '',
      '   ',
      'null',
      '[]',
      '{"results": {}}',
      '{"results": "all fine"}',
      `{"results": [${JSON.stringify(ok(rows[0]!))}, 7]}`,
      `{"results": [{"eventId": "${rows[0]!.eventId}"}]}`,
      `{"results": [{"eventId": "${rows[0]!.eventId}", "resultCode": "0"}]}`,
      `{"results": [{"eventId": "${rows[0]!.eventId}", "resultCode": null}]}`,
      `{"results": [{"resultCode": 0}]}`,
      `{"results": [${JSON.stringify(ok(row(9)))}]}`,
      `{"results": [${JSON.stringify(ok(rows[0]!))}, ${JSON.stringify(ok(rows[0]!))}]}`,
    ];
    for (const text of hostile) {
      const s = answer200(text);
      expect(s.delivered, text).toEqual([]);
      expect(s.dead, text).toEqual([]);
      expect(ids(s.retry), text).toEqual([1, 2, 3]);
      expect(s.backoff, text).toBe(true);
      expect(s.problem, text).toMatch(/^HTTP 200 not in the documented shape: /);
    }
    expect(answer200('{"results": [], "sourceId": "x"}').problem).toMatch(/no result for any event/);
  });

  it('after maxUnanswered malformed answers an event is dead-lettered as malformed, not deleted', () => {
    const s = answer200('{}', [row(1, 1), row(2, 2)]);
    expect(ids(s.retry)).toEqual([1]);
    expect(s.dead).toMatchObject([
      {
        row: { seq: 2 },
        info: { reason: 'malformed', httpStatus: 200, message: expect.stringMatching(/no results array/) },
      },
    ]);
    expect(s.delivered).toEqual([]);
  });

  it('4xx dead-letters the whole request; no answer keeps every event as it is', () => {
    const r = settle({ kind: 'rejected', status: 400, message: 'bad body' }, rows, opts);
    expect(r.dead.map((d) => d.info)).toEqual(
      rows.map(() => ({ reason: 'http', httpStatus: 400, message: 'bad body' })),
    );
    expect(r).toMatchObject({ delivered: [], retry: [], backoff: false, problem: 'HTTP 400: bad body' });
    const w = settle(
      { kind: 'retry', cause: 'http', status: 503, message: 'HTTP 503: busy', retryAfterMs: 5000 },
      rows,
      opts,
    );
    expect(w).toEqual({
      delivered: [],
      dead: [],
      retry: [],
      backoff: true,
      problem: 'HTTP 503: busy',
      retryAfterMs: 5000,
    });
  });
});
