import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { outboxCommand } from '../src/commands/outbox.js';
import { parseConfig } from '../src/config/load.js';
import { buildOccupancyEvent } from '../src/report/event.js';
import { Outbox } from '../src/report/calven/outbox.js';
import { tempDir } from './helpers/media.js';

function run(config: ReturnType<typeof parseConfig>, opts: Parameters<typeof outboxCommand>[1]): string {
  let text = '';
  const out = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  outboxCommand(config, opts, out);
  return text;
}

describe('roomcount outbox', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const config = parseConfig(
    `sink: stdout\nstateDir: ${tmp.dir}\nrooms:\n  - { id: r1, locationId: L1, locationType: space, camera: { url: x.mp4 } }`,
    'test.yaml',
  );

  it('shows counts, lists dead letters with their reason, and re-queues them', () => {
    const outbox = Outbox.open(tmp.dir);
    const at = Date.UTC(2026, 10, 28, 9, 0, 0);
    outbox.insert([
      { event: buildOccupancyEvent({ locationId: 'L1', locationType: 'space' }, 2, at), roomId: 'r1' },
      { event: buildOccupancyEvent({ locationId: 'BAD', locationType: 'space' }, 1, at), roomId: 'r2' },
    ]);
    const [good, bad] = outbox.peek(10);
    outbox.settle({
      dead: [
        {
          row: bad!,
          info: { reason: 'rejected', httpStatus: 200, resultCode: 3, message: 'unknown locationId' },
        },
      ],
    });
    outbox.close();

    expect(run(config, { retryDead: false, list: false })).toMatch(
      /: 1 pending \(oldest 20\d\d-.*Z\), 1 dead-lettered\n$/,
    );
    const listed = run(config, { retryDead: false, list: true });
    expect(listed).toContain(`r2  ${bad!.eventId}  rejected: HTTP 200 resultCode 3 unknown locationId`);
    expect(listed).not.toContain(good!.eventId);

    expect(run(config, { retryDead: true, list: false, room: 'r1' })).toMatch(
      /^0 dead-lettered event\(s\) moved/,
    );
    const retried = run(config, { retryDead: true, list: false });
    expect(retried).toMatch(/^1 dead-lettered event\(s\) moved back to pending/);
    expect(retried).toMatch(/: 2 pending .*, 0 dead-lettered/);
  });
});
