import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../log.js';
import type { OccupancyEvent } from '../event.js';
import { Outbox, type OutboxDump, type OutboxRow, type OutboxStats } from './outbox.js';
import type { Settlement } from './settle.js';

/**
 * Keeps every event safe around the outbox file, whatever the disk does:
 *
 * - Group commit: sends in the same event-loop turn share one transaction (one fsync).
 * - An event that cannot be stored (disk full, corrupt or read-only file) is not dropped: it is held in memory, in
 *   order, and storing is tried again (every `repairMs` and before each delivery) until it works.
 * - An answer that cannot be recorded (delivered events that cannot be deleted) is remembered in memory: those
 *   events are not sent again (no resend loop on a broken database), and recording is tried again.
 * - The file deleted or replaced under the running service is noticed (its inode, checked on every write and every
 *   `repairMs`): it is recreated with everything the old, still open, file held.
 *
 * Each of these is one loud error log (naming the file) and a readiness problem until it is resolved, not a log
 * line per try.
 */

interface Item {
  event: OccupancyEvent;
  roomId: string;
}

export interface OutboxStoreOptions {
  stateDir: string;
  log: Logger;
  /** Called when events reached the file (the delivery loop wakes up). */
  onStored: () => void;
  /** Told how many events are held in memory, whenever that changes (metrics). */
  onHeld?: (count: number) => void;
  /** How often a failing outbox is tried again, and the file checked (ms, default 5000). */
  repairMs?: number;
}

export interface StoreStatus extends OutboxStats {
  /** Events held in memory because the outbox could not be written. */
  unstored: number;
  /** Delivered or dead-lettered events whose outcome could not be written yet. */
  unrecorded: number;
}

function identity(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

export class OutboxStore {
  readonly path: string;
  private outbox: Outbox;
  private fileId: string | undefined;
  private buffer: { item: Item; resolve: () => void }[] = [];
  private flushHandle: NodeJS.Immediate | undefined;
  private held: Item[] = [];
  private unrecorded = new Map<string, Settlement['dead'][number] | OutboxRow>();
  private failure: string | undefined;
  /** What the deleted file held, until it is in the new one. */
  private carried: OutboxDump | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: OutboxStoreOptions) {
    this.outbox = Outbox.open(opts.stateDir);
    this.path = this.outbox.path;
    this.fileId = identity(this.path);
    this.timer = setInterval(() => this.repair(), Math.max(10, opts.repairMs ?? 5000));
    this.timer.unref();
  }

  /** Takes the event into custody: resolves once it is on disk, or held in memory when the disk fails. */
  add(event: OccupancyEvent, roomId: string): Promise<void> {
    return new Promise<void>((resolve) => {
      this.buffer.push({ item: { event, roomId }, resolve });
      this.flushHandle ??= setImmediate(() => this.flush());
    });
  }

  /** Group commit of everything added since the last flush (behind anything held in memory). */
  flush(): void {
    if (this.flushHandle) clearImmediate(this.flushHandle);
    this.flushHandle = undefined;
    const items = this.buffer;
    this.buffer = [];
    if (items.length === 0) return;
    this.held.push(...items.map((b) => b.item));
    this.repair();
    for (const b of items) b.resolve();
  }

  /**
   * The oldest pending events not settled in memory; undefined when the outbox cannot be read (the caller waits).
   */
  peek(limit: number): OutboxRow[] | undefined {
    this.repair();
    if (this.carried !== undefined) return undefined; // no file to read yet
    try {
      const rows = this.outbox.peek(limit + this.unrecorded.size);
      return rows.filter((r) => !this.unrecorded.has(r.eventId)).slice(0, limit);
    } catch (err) {
      this.fail(err);
      return undefined;
    }
  }

  /** Writes the outcome of a request; if that fails, its delivered and dead events are kept out of peek(). */
  record(s: Settlement): void {
    if (s.delivered.length + s.dead.length + s.retry.length === 0) return;
    try {
      this.outbox.settle(s);
    } catch (err) {
      for (const row of s.delivered) this.unrecorded.set(row.eventId, row);
      for (const d of s.dead) this.unrecorded.set(d.row.eventId, d);
      this.fail(err);
    }
  }

  /** Tries again what failed: the file's identity, held events, unrecorded outcomes. */
  repair(): void {
    if (this.closed) return;
    const id = identity(this.path);
    if (this.carried !== undefined || id === undefined || id !== this.fileId) {
      this.recreate(id === undefined ? 'deleted' : 'replaced');
      if (this.carried !== undefined) return;
    }
    if (this.held.length > 0) {
      try {
        this.outbox.insert(this.held);
        this.held = [];
        this.opts.onHeld?.(0);
        this.opts.onStored();
      } catch (err) {
        this.opts.onHeld?.(this.held.length);
        this.fail(err);
        return;
      }
    }
    if (this.unrecorded.size > 0) {
      const delivered: OutboxRow[] = [];
      const dead: Settlement['dead'] = [];
      for (const v of this.unrecorded.values()) {
        if ('info' in v) dead.push(v);
        else delivered.push(v);
      }
      try {
        this.outbox.settle({ delivered, dead });
        this.unrecorded.clear();
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    if (this.failure !== undefined) {
      this.opts.log.info({ file: this.path }, 'calven outbox works again; every event is on disk');
      this.failure = undefined;
    }
  }

  /**
   * The file is gone (or another is in its place): take everything from the old file, still open, and put it into
   * a new one. If that cannot be done yet, what was taken stays in memory and the next repair tries again.
   */
  private recreate(how: 'deleted' | 'replaced'): void {
    if (this.carried === undefined) {
      this.carried = { pending: [], dead: [] };
      try {
        this.carried = this.outbox.dump();
      } catch (err) {
        this.opts.log.error({ err: String(err) }, 'calven outbox: the old file could not be read');
      }
      try {
        this.outbox.close();
      } catch {
        // it is being replaced anyway
      }
      this.failure = `outbox ${this.path} was ${how} while running`;
      this.opts.log.error(
        {
          file: this.path,
          pending: this.carried.pending.length,
          deadLetter: this.carried.dead.length,
          held: this.held.length,
        },
        `calven ${this.failure}: recreating it with the events it held (do not delete it: use \`roomcount outbox\`)`,
      );
    }
    try {
      this.outbox = Outbox.open(this.opts.stateDir);
      this.outbox.restore(this.carried);
      this.carried = undefined;
      this.fileId = identity(this.path);
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (this.failure === undefined) {
      this.opts.log.error(
        { err: message, file: this.path, held: this.held.length, unrecorded: this.unrecorded.size },
        'calven outbox cannot be written: events are kept in memory and storing is tried again (free disk space, or check the file)',
      );
    } else {
      this.opts.log.debug({ err: message }, 'calven outbox still failing');
    }
    if (this.carried === undefined) this.failure = message;
  }

  /** Why events are not safe on disk now (readiness), or undefined. */
  problem(): string | undefined {
    if (this.failure !== undefined) {
      const held = this.held.length > 0 ? `; ${this.held.length} event(s) held in memory` : '';
      return `calven outbox failing: ${this.failure}${held}`;
    }
    try {
      accessSync(dirname(this.path), constants.W_OK);
    } catch {
      return `outbox folder ${dirname(this.path)} is not writable`;
    }
    return undefined;
  }

  status(): StoreStatus {
    let stats: OutboxStats = { pending: 0, deadLetter: 0, oldestPendingAt: null };
    if (!this.closed) {
      try {
        stats = this.outbox.stats();
      } catch {
        // reported through problem()
      }
    }
    return { ...stats, unstored: this.held.length, unrecorded: this.unrecorded.size };
  }

  pendingCount(): number | undefined {
    try {
      return this.outbox.pendingCount();
    } catch {
      return undefined;
    }
  }

  /** Last try to store and record; what is still only in memory is logged whole (it can be replayed), then lost. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.repair();
    this.closed = true;
    clearInterval(this.timer);
    const lost = [...(this.carried?.pending ?? []).map((r) => r.body), ...this.held.map((h) => h.event)];
    if (lost.length > 0) {
      this.opts.log.error(
        { file: this.path, events: lost },
        'calven outbox: events that could not be stored are lost at shutdown (they are in this log line)',
      );
    }
    this.outbox.close();
  }
}
