import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

function fileState(path: string): { sha: string; mtimeMs: number } {
  return {
    sha: createHash('sha256').update(readFileSync(path)).digest('hex'),
    mtimeMs: statSync(path).mtimeMs,
  };
}

/** A 1 MiB tmpfs at a fresh folder, if this process may mount one (root); undefined otherwise. */
function tinyDisk(): { dir: string; cleanup: () => void } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const t = tempDir('roomcount-full-');
  const dir = join(t.dir, 'disk');
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    t.cleanup();
    return undefined;
  }
  return {
    dir,
    cleanup: () => {
      execFileSync('umount', [dir]);
      t.cleanup();
    },
  };
}

describe('roomcount outbox reads without writing', () => {
  const fill = (dir: string) => {
    const outbox = Outbox.open(dir);
    outbox.insert([
      {
        event: buildOccupancyEvent({ locationId: 'L1', locationType: 'space' }, 2, Date.now()),
        roomId: 'r1',
      },
    ]);
    outbox.close();
  };
  const configFor = (dir: string) =>
    parseConfig(
      `sink: stdout\nstateDir: ${dir}\nrooms:\n  - { id: r1, locationId: L1, locationType: space, camera: { url: x.mp4 } }`,
      'test.yaml',
    );

  it('leaves the outbox file exactly as it was', async () => {
    const tmp = tempDir();
    try {
      fill(tmp.dir);
      const file = join(tmp.dir, 'outbox.sqlite');
      const before = fileState(file);
      await new Promise((r) => setTimeout(r, 20)); // a write now would show in mtime
      expect(run(configFor(tmp.dir), { retryDead: false, list: true })).toMatch(/: 1 pending/);
      expect(fileState(file)).toEqual(before);
    } finally {
      tmp.cleanup();
    }
  });

  it('reads an outbox on a full disk', (ctx) => {
    const disk = tinyDisk();
    if (!disk) {
      ctx.skip('needs root to mount a 1 MiB tmpfs (mount -t tmpfs); the disk-full case is not checked');
      return;
    }
    try {
      fill(disk.dir);
      try {
        writeFileSync(join(disk.dir, 'filler'), Buffer.alloc(2 << 20));
      } catch {
        // ENOSPC: the disk is full now
      }
      expect(run(configFor(disk.dir), { retryDead: false, list: true })).toMatch(/: 1 pending/);
    } finally {
      disk.cleanup();
    }
  });
});
