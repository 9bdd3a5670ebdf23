import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildOccupancyEvent, requestBodyText } from '../src/report/event.js';
import { StdoutSink } from '../src/report/sink.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const at = Date.UTC(2026, 10, 28, 9, 30, 15, 250);

describe('occupancy events', () => {
  it('space: occupied and occupancy, timestamp of the frame in UTC, a fresh UUID', () => {
    const a = buildOccupancyEvent({ locationId: 'L1', locationType: 'space' }, 3, at);
    const b = buildOccupancyEvent({ locationId: 'L1', locationType: 'space' }, 0, at);
    expect(a).toEqual({
      timestamp: '2026-11-28T09:30:15.250Z',
      locationId: 'L1',
      locationType: 'space',
      eventId: expect.stringMatching(UUID),
      occupied: true,
      occupancy: 3,
    });
    expect(b.occupied).toBe(false);
    expect(b.occupancy).toBe(0);
    expect(a.eventId).not.toBe(b.eventId);
  });

  it('place: occupied only', () => {
    const e = buildOccupancyEvent({ locationId: 'desk-4', locationType: 'place' }, 2, at);
    expect(Object.keys(e).sort()).toEqual(['eventId', 'locationId', 'locationType', 'occupied', 'timestamp']);
    expect(e.occupied).toBe(true);
  });

  it('rejects counts that are not whole non-negative numbers', () => {
    expect(() => buildOccupancyEvent({ locationId: 'L', locationType: 'zone' }, -1, at)).toThrow();
    expect(() => buildOccupancyEvent({ locationId: 'L', locationType: 'zone' }, 1.5, at)).toThrow();
  });

  it('request body holds 1..100 events', () => {
    const e = buildOccupancyEvent({ locationId: 'L', locationType: 'level' }, 1, at);
    const body = (events: unknown[]) =>
      requestBodyText(
        'src',
        events.map((x) => JSON.stringify(x)),
      );
    expect(JSON.parse(body([e]))).toEqual({ sourceId: 'src', occupancyEvents: [e] });
    expect(() => body([])).toThrow();
    expect(() => body(Array(101).fill(e))).toThrow();
  });

  it('stdout sink prints exactly one request body per line', async () => {
    let text = '';
    const out = new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    });
    const sink = new StdoutSink('roomcount test', out);
    const e = buildOccupancyEvent({ locationId: 'L', locationType: 'space' }, 2, at);
    await sink.send(e);
    await sink.send(e);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual({ sourceId: 'roomcount test', occupancyEvents: [e] });
  });
});
