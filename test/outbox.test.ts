import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { buildOccupancyEvent, type OccupancyEvent } from '../src/report/event.js';
import {
  Outbox,
  listDeadLetters,
  outboxPath,
  outboxStats,
  retryDeadLetters,
  type OutboxRow,
} from '../src/report/calven/outbox.js';
import { tempDir } from './helpers/media.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function stateDir(): string {
  const t = tempDir('roomcount-outbox-');
  cleanups.push(t.cleanup);
  return join(t.dir, 'nested', 'state');
}

function open(dir: string): Outbox {
  const o = Outbox.open(dir);
  cleanups.unshift(() => o.close());
  return o;
}

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

function ev(room: number, i: number, type: 'space' | 'place' = 'space'): OccupancyEvent {
  return buildOccupancyEvent({ locationId: `loc-${room}`, locationType: type }, i % 5, T0 + i * 1000);
}

/** `n` events round-robin over `rooms` rooms, as [{event, roomId}]. */
function events(n: number, rooms: number) {
  return Array.from({ length: n }, (_, i) => ({ event: ev(i % rooms, i), roomId: `room-${i % rooms}` }));
}

describe('outbox', () => {
  it('creates stateDir and a WAL database with both tables', () => {
    const dir = stateDir();
    const o = open(dir);
    expect(existsSync(outboxPath(dir))).toBe(true);
    const db = new Database(outboxPath(dir), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const tables = (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
      )
        .map((t) => t.name)
        .filter((n) => !n.startsWith('sqlite_'))
        .sort();
      expect(tables).toEqual(['dead_letter', 'pending']);
    } finally {
      db.close();
    }
    expect(o.stats()).toEqual({ pending: 0, deadLetter: 0, oldestPendingAt: null });
  });

  it('keeps insertion order across rooms and batches at most 100, storing the exact event JSON', () => {
    const o = open(stateDir());
    const items = events(250, 7);
    // Inserted in several transactions, like group commits from the sink.
    expect(o.insert(items.slice(0, 3))).toBe(3);
    expect(o.insert(items.slice(3, 180))).toBe(177);
    expect(o.insert(items.slice(180))).toBe(70);

    const first = o.peek(100);
    expect(first).toHaveLength(100);
    expect(first.map((r) => r.eventId)).toEqual(items.slice(0, 100).map((x) => x.event.eventId));
    expect(new Set(first.map((r) => r.roomId)).size).toBe(7);
    expect(first[0]!.body).toBe(JSON.stringify(items[0]!.event));
    expect(JSON.parse(first[5]!.body)).toEqual(items[5]!.event);

    // Deliver in batches of 100 and read everything back in order.
    const seen: string[] = [];
    for (;;) {
      const batch = o.peek(100);
      if (batch.length === 0) break;
      expect(batch.length).toBeLessThanOrEqual(100);
      seen.push(...batch.map((r) => r.eventId));
      o.settle({ delivered: batch });
    }
    expect(seen).toEqual(items.map((x) => x.event.eventId));
    expect(o.pendingCount()).toBe(0);
  });

  it('ignores a second insert of the same eventId', () => {
    const o = open(stateDir());
    const e = ev(1, 1);
    expect(o.insert([{ event: e, roomId: 'r1' }])).toBe(1);
    expect(o.insert([{ event: e, roomId: 'r1' }])).toBe(0);
    expect(o.pendingCount()).toBe(1);
  });

  it('place events keep their shape (no occupancy key)', () => {
    const o = open(stateDir());
    const e = ev(1, 3, 'place');
    o.insert([{ event: e, roomId: 'desk' }]);
    const body = JSON.parse(o.peek(1)[0]!.body) as Record<string, unknown>;
    expect('occupancy' in body).toBe(false);
    expect(body).toEqual(e);
  });

  it('survives closing and reopening; new events queue behind the old ones', () => {
    const dir = stateDir();
    const items = events(30, 3);
    const a = Outbox.open(dir);
    a.insert(items.slice(0, 20), T0);
    a.settle({ delivered: a.peek(5), retry: a.peek(7).slice(5) });
    a.close();

    const b = open(dir);
    b.insert(items.slice(20));
    const rows = b.peek(100);
    expect(rows.map((r) => r.eventId)).toEqual(items.slice(5).map((x) => x.event.eventId));
    expect(rows.slice(0, 2).map((r) => r.attempts)).toEqual([1, 1]);
    expect(rows[2]!.attempts).toBe(0);
    expect(rows[0]!.createdAt).toBe(T0);
    expect(b.stats().oldestPendingAt).toBe(new Date(T0).toISOString());
  });

  it('dead-letters with reason, status, result code and message; retry-dead moves them back in order', () => {
    const dir = stateDir();
    const o = open(dir);
    const items = events(10, 2);
    o.insert(items);
    const rows = o.peek(10);
    const byRoom = (room: string) => rows.filter((r) => r.roomId === room);
    // room-0's events rejected one by one; two of room-1's by a 400 for their request; one delivered.
    o.settle({
      delivered: [rows[3]!],
      dead: [
        ...byRoom('room-0').map((row: OutboxRow) => ({
          row,
          info: {
            reason: 'rejected' as const,
            httpStatus: 200,
            resultCode: 1,
            message: 'Location not found',
          },
        })),
        ...[rows[1]!, rows[5]!].map((row) => ({
          row,
          info: { reason: 'http' as const, httpStatus: 400, message: 'bad body' },
        })),
      ],
    });
    expect(o.stats()).toMatchObject({ pending: 2, deadLetter: 7 });

    const dead = listDeadLetters(dir, { roomId: 'room-0' });
    expect(dead).toHaveLength(5);
    expect(dead[0]).toMatchObject({
      eventId: rows[0]!.eventId,
      roomId: 'room-0',
      reason: 'rejected',
      httpStatus: 200,
      resultCode: 1,
      message: 'Location not found',
      body: rows[0]!.body,
    });
    expect(listDeadLetters(dir, { roomId: 'room-1' })[0]).toMatchObject({
      httpStatus: 400,
      resultCode: null,
    });

    // Filter by room: only room-1's go back, behind what is pending, same body.
    expect(retryDeadLetters(dir, { roomId: 'room-1' })).toBe(2);
    expect(outboxStats(dir)).toMatchObject({ pending: 4, deadLetter: 5 });
    // The untouched room-1 events (7, 9) first, then the retried ones (1, 5) in their original order.
    let pending = o.peek(100);
    expect(pending.map((r) => r.eventId)).toEqual(
      [rows[7], rows[9], rows[1], rows[5]].map((r) => r!.eventId),
    );
    expect(pending.find((r) => r.eventId === rows[1]!.eventId)!.body).toBe(rows[1]!.body);

    // Everything else.
    expect(retryDeadLetters(dir)).toBe(5);
    expect(outboxStats(dir)).toMatchObject({ pending: 9, deadLetter: 0 });
    pending = o.peek(100);
    expect(pending.slice(-5).map((r) => r.eventId)).toEqual(byRoom('room-0').map((r) => r.eventId));
  });

  it('admin functions on a stateDir without an outbox report zeros and create nothing', () => {
    const dir = stateDir();
    expect(outboxStats(dir)).toEqual({ pending: 0, deadLetter: 0, oldestPendingAt: null });
    expect(retryDeadLetters(dir)).toBe(0);
    expect(listDeadLetters(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('admin functions work while another connection has the outbox open', () => {
    const dir = stateDir();
    const o = open(dir);
    o.insert(events(3, 1), T0);
    expect(outboxStats(dir)).toEqual({
      pending: 3,
      deadLetter: 0,
      oldestPendingAt: new Date(T0).toISOString(),
    });
    o.settle({
      dead: o
        .peek(1)
        .map((row) => ({ row, info: { reason: 'http' as const, httpStatus: 422, message: 'x' } })),
    });
    expect(retryDeadLetters(dir)).toBe(1);
    expect(o.stats().pending).toBe(3);
  });
});
