import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeDirectory } from '../../dirs.js';
import type { OccupancyEvent } from '../event.js';

/**
 * Durable outbox: every occupancy event is committed here before anything is sent, and leaves `pending` only once
 * Calven has answered for it (accepted → deleted; rejected → moved to `dead_letter`). One SQLite file
 * `stateDir/outbox.sqlite` in WAL mode; `synchronous = FULL`, so a committed event survives kill -9 and
 * power loss. Order of delivery = insertion order (`seq`), across all rooms.
 *
 * The event is stored as the exact JSON that goes into the request body, so a retry (even after a restart) sends
 * byte-for-byte the same event with the same eventId.
 *
 * One process delivers from a stateDir at a time (the running service); admin commands (stats, retry-dead) may
 * open the same file concurrently — SQLite's locking plus busy_timeout make that safe.
 */

export const OUTBOX_FILE = 'outbox.sqlite';
const SCHEMA_VERSION = 1;

export interface OutboxRow {
  seq: number;
  eventId: string;
  roomId: string;
  /** The event exactly as it goes into `occupancyEvents` (JSON text). */
  body: string;
  /** ms since the epoch, when the event entered the outbox. */
  createdAt: number;
  /** Delivery attempts that ended without an answer for this event (outage, timeout, missing result). */
  attempts: number;
}

export interface DeadLetterInfo {
  /**
   * `rejected`: per-event non-zero resultCode; `http`: the whole request got a 4xx; `no-result`: Calven's answers
   * never had a result for it; `malformed`: the 2xx answers were not in the documented shape.
   */
  reason: 'rejected' | 'http' | 'no-result' | 'malformed';
  httpStatus?: number;
  resultCode?: number;
  message?: string;
}

export interface DeadLetterRow {
  eventId: string;
  roomId: string;
  body: string;
  reason: string;
  httpStatus: number | null;
  resultCode: number | null;
  message: string | null;
  createdAt: number;
  deadAt: number;
}

export interface OutboxStats {
  pending: number;
  deadLetter: number;
  /** ISO-8601 time the oldest pending event entered the outbox; null when nothing is pending. */
  oldestPendingAt: string | null;
}

export interface OutboxOptions {
  /**
   * Open for reading only (`roomcount outbox` without --retry-dead): nothing is created, migrated or written, so
   * it works on a full disk and on a read-only file.
   */
  readonly?: boolean;
}

export function outboxPath(stateDir: string): string {
  return join(stateDir, OUTBOX_FILE);
}

interface PendingDbRow {
  seq: number;
  event_id: string;
  room_id: string;
  body: string;
  created_at: number;
  attempts: number;
}

export interface OutboxDump {
  pending: PendingDbRow[];
  dead: (DeadDbRow & { orig_seq: number })[];
}

/** An outbox failure, worded with the file and what was being done; `code` is SQLite's (e.g. SQLITE_FULL). */
export class OutboxError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'OutboxError';
  }
}

function outboxError(path: string, what: string, err: unknown): OutboxError {
  if (err instanceof OutboxError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return new OutboxError(`outbox ${path}: ${what}: ${message}`, typeof code === 'string' ? code : undefined);
}

interface DeadDbRow {
  event_id: string;
  room_id: string;
  body: string;
  reason: string;
  http_status: number | null;
  result_code: number | null;
  message: string | null;
  created_at: number;
  dead_at: number;
}

export class Outbox {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<Outbox['prepare']>;
  private closed = false;

  private constructor(path: string, opts: OutboxOptions) {
    this.path = path;
    this.db = new Database(path, opts.readonly ? { readonly: true, fileMustExist: true } : {});
    try {
      this.db.pragma('busy_timeout = 5000'); // a lock held by another process (an admin command)
      if (opts.readonly) {
        this.checkVersion();
      } else {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = FULL');
        this.migrate();
      }
      this.stmts = this.prepare();
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  /**
   * Opens (creating the folder and the file if needed, unless read-only) `stateDir/outbox.sqlite`. Errors name the
   * file.
   */
  static open(stateDir: string, opts: OutboxOptions = {}): Outbox {
    const path = outboxPath(stateDir);
    try {
      if (!opts.readonly) makeDirectory(stateDir);
      return new Outbox(path, opts);
    } catch (err) {
      throw outboxError(path, 'cannot open', err);
    }
  }

  /** Runs one database operation; a failure is thrown as an error naming the file and what was being done. */
  private guard<T>(what: string, fn: () => T): T {
    this.check();
    try {
      return fn();
    } catch (err) {
      throw outboxError(this.path, what, err);
    }
  }

  private checkVersion(): number {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `${this.path} was written by a newer roomcount (schema ${version} > ${SCHEMA_VERSION})`,
      );
    }
    return version;
  }

  private migrate(): void {
    this.checkVersion();
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS pending (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id   TEXT    NOT NULL UNIQUE,
        room_id    TEXT    NOT NULL,
        body       TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS dead_letter (
        event_id    TEXT    PRIMARY KEY,
        room_id     TEXT    NOT NULL,
        body        TEXT    NOT NULL,
        reason      TEXT    NOT NULL,
        http_status INTEGER,
        result_code INTEGER,
        message     TEXT,
        created_at  INTEGER NOT NULL,
        orig_seq    INTEGER NOT NULL,
        dead_at     INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS dead_letter_room ON dead_letter (room_id);
      PRAGMA user_version = ${SCHEMA_VERSION};
    `);
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare(
        'INSERT OR IGNORE INTO pending (event_id, room_id, body, created_at, attempts) VALUES (?, ?, ?, ?, 0)',
      ),
      peek: db.prepare(
        'SELECT seq, event_id, room_id, body, created_at, attempts FROM pending ORDER BY seq LIMIT ?',
      ),
      remove: db.prepare('DELETE FROM pending WHERE event_id = ?'),
      attempt: db.prepare('UPDATE pending SET attempts = attempts + 1 WHERE event_id = ?'),
      dead: db.prepare(
        `INSERT OR REPLACE INTO dead_letter
           (event_id, room_id, body, reason, http_status, result_code, message, created_at, orig_seq, dead_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      pendingCount: db.prepare('SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM pending'),
      deadCount: db.prepare('SELECT COUNT(*) AS n FROM dead_letter'),
    };
  }

  private check(): void {
    if (this.closed) throw new Error('outbox is closed');
  }

  /**
   * Commits the events in one transaction (one fsync however many). An eventId already pending is ignored, so a
   * repeated send of the same event is harmless. Returns how many rows were added.
   */
  insert(items: readonly { event: OccupancyEvent; roomId: string }[], now = Date.now()): number {
    this.check();
    if (items.length === 0) return 0;
    for (const { event } of items) {
      if (typeof event?.eventId !== 'string' || event.eventId === '') throw new Error('event has no eventId');
    }
    const tx = this.db.transaction(() => {
      let added = 0;
      for (const { event, roomId } of items) {
        added += this.stmts.insert.run(event.eventId, roomId, JSON.stringify(event), now).changes;
      }
      return added;
    });
    return this.guard('storing events', () => tx());
  }

  /** The oldest `limit` pending events, in insertion order. */
  peek(limit: number): OutboxRow[] {
    return this.guard('reading pending events', () => this.stmts.peek.all(limit) as PendingDbRow[]).map(
      (r) => ({
        seq: r.seq,
        eventId: r.event_id,
        roomId: r.room_id,
        body: r.body,
        createdAt: r.created_at,
        attempts: r.attempts,
      }),
    );
  }

  /**
   * Applies the outcome of one request atomically: delivered rows leave `pending`, rejected rows move to
   * `dead_letter`, unanswered rows get `attempts + 1` and stay.
   */
  settle(
    outcome: {
      delivered?: readonly OutboxRow[];
      dead?: readonly { row: OutboxRow; info: DeadLetterInfo }[];
      retry?: readonly OutboxRow[];
    },
    now = Date.now(),
  ): void {
    this.check();
    const tx = this.db.transaction(() => {
      for (const row of outcome.delivered ?? []) this.stmts.remove.run(row.eventId);
      for (const { row, info } of outcome.dead ?? []) {
        this.stmts.dead.run(
          row.eventId,
          row.roomId,
          row.body,
          info.reason,
          info.httpStatus ?? null,
          info.resultCode ?? null,
          info.message ?? null,
          row.createdAt,
          row.seq,
          now,
        );
        this.stmts.remove.run(row.eventId);
      }
      for (const row of outcome.retry ?? []) this.stmts.attempt.run(row.eventId);
    });
    // Settling is committed without its own fsync (synchronous = NORMAL for this transaction): losing it to a
    // power cut only means those events are sent again, with the same eventId. The next insert's FULL commit syncs
    // the WAL, this transaction included. Inserts (the only copy of an event) always get FULL.
    this.guard('recording delivered events', () => {
      this.db.pragma('synchronous = NORMAL');
      try {
        tx();
      } finally {
        this.db.pragma('synchronous = FULL');
      }
    });
  }

  pendingCount(): number {
    return this.guard('counting', () => (this.stmts.pendingCount.get() as { n: number }).n);
  }

  stats(): OutboxStats {
    const [p, d] = this.guard('counting', () => [
      this.stmts.pendingCount.get() as { n: number; oldest: number | null },
      this.stmts.deadCount.get() as { n: number },
    ]);
    return {
      pending: p.n,
      deadLetter: d.n,
      oldestPendingAt: p.oldest === null ? null : new Date(p.oldest).toISOString(),
    };
  }

  /** Dead letters, oldest first (optionally one room's only). */
  deadLetters(opts: { roomId?: string; limit?: number } = {}): DeadLetterRow[] {
    const where = opts.roomId === undefined ? '' : 'WHERE room_id = @roomId';
    const rows = this.guard(
      'reading dead letters',
      () =>
        this.db
          .prepare(`SELECT * FROM dead_letter ${where} ORDER BY dead_at, orig_seq LIMIT @limit`)
          .all({ roomId: opts.roomId, limit: opts.limit ?? -1 }) as DeadDbRow[],
    );
    return rows.map((r) => ({
      eventId: r.event_id,
      roomId: r.room_id,
      body: r.body,
      reason: r.reason,
      httpStatus: r.http_status,
      resultCode: r.result_code,
      message: r.message,
      createdAt: r.created_at,
      deadAt: r.dead_at,
    }));
  }

  /**
   * Moves dead letters (all, or one room's) back to `pending`, behind what is pending now, in their original
   * order, with the same body and eventId and attempts reset. Returns how many were moved.
   */
  retryDeadLetters(opts: { roomId?: string } = {}): number {
    this.check();
    const where = opts.roomId === undefined ? '' : 'WHERE room_id = @roomId';
    const tx = this.db.transaction(() => {
      const moved = this.db
        .prepare(
          `INSERT OR IGNORE INTO pending (event_id, room_id, body, created_at, attempts)
           SELECT event_id, room_id, body, created_at, 0 FROM dead_letter ${where} ORDER BY orig_seq`,
        )
        .run({ roomId: opts.roomId }).changes;
      this.db.prepare(`DELETE FROM dead_letter ${where}`).run({ roomId: opts.roomId });
      return moved;
    });
    return this.guard('moving dead letters back', () => tx.immediate());
  }

  /** Everything in the file, for moving it to a new one (the file was deleted under the running service). */
  dump(): OutboxDump {
    return this.guard('reading everything', () => ({
      pending: this.db.prepare('SELECT * FROM pending ORDER BY seq').all() as PendingDbRow[],
      dead: this.db.prepare('SELECT * FROM dead_letter ORDER BY orig_seq').all() as OutboxDump['dead'],
    }));
  }

  /** Puts a dump back (behind what is here; an eventId already here is kept as it is). */
  restore(dump: OutboxDump): void {
    const tx = this.db.transaction(() => {
      const pending = this.db.prepare(
        'INSERT OR IGNORE INTO pending (event_id, room_id, body, created_at, attempts) VALUES (?, ?, ?, ?, ?)',
      );
      for (const r of dump.pending) pending.run(r.event_id, r.room_id, r.body, r.created_at, r.attempts);
      for (const r of dump.dead) {
        this.stmts.dead.run(
          r.event_id,
          r.room_id,
          r.body,
          r.reason,
          r.http_status,
          r.result_code,
          r.message,
          r.created_at,
          r.orig_seq,
          r.dead_at,
        );
      }
    });
    this.guard('restoring events', () => tx());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/**
 * Reads an outbox without writing to its folder. Opened read-only in place; where even that fails (a full disk:
 * SQLite cannot size the shared-memory file; a read-only folder) it reads a copy of the file and its WAL in a
 * temporary folder, so `roomcount outbox` still shows what is pending.
 */
function readOutbox<T>(stateDir: string, read: (outbox: Outbox) => T): T {
  let outbox: Outbox;
  try {
    outbox = Outbox.open(stateDir, { readonly: true });
  } catch (inPlace) {
    return readCopy(stateDir, read, inPlace);
  }
  try {
    return read(outbox);
  } catch (err) {
    if (err instanceof OutboxError && err.code?.startsWith('SQLITE_IOERR'))
      return readCopy(stateDir, read, err);
    throw err;
  } finally {
    outbox.close();
  }
}

function readCopy<T>(stateDir: string, read: (outbox: Outbox) => T, inPlace: unknown): T {
  const dir = mkdtempSync(join(tmpdir(), 'roomcount-outbox-'));
  try {
    try {
      copyFileSync(outboxPath(stateDir), outboxPath(dir));
      if (existsSync(outboxPath(stateDir) + '-wal')) {
        copyFileSync(outboxPath(stateDir) + '-wal', outboxPath(dir) + '-wal');
      }
    } catch (err) {
      throw new Error(
        `${String(inPlace instanceof Error ? inPlace.message : inPlace)}; reading a copy in ${dir} failed too: ${String(err)} (free some disk space)`,
      );
    }
    const copy = Outbox.open(dir);
    try {
      return read(copy);
    } finally {
      copy.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Counts for `roomcount outbox`. A stateDir without an outbox reports zeros (and creates nothing). */
export function outboxStats(stateDir: string): OutboxStats {
  if (!existsSync(outboxPath(stateDir))) return { pending: 0, deadLetter: 0, oldestPendingAt: null };
  return readOutbox(stateDir, (outbox) => outbox.stats());
}

/** `roomcount outbox --retry-dead`: dead letters back to pending; a running service picks them up within its idle poll. */
export function retryDeadLetters(stateDir: string, opts: { roomId?: string } = {}): number {
  if (!existsSync(outboxPath(stateDir))) return 0;
  const outbox = Outbox.open(stateDir);
  try {
    return outbox.retryDeadLetters(opts);
  } finally {
    outbox.close();
  }
}

/** Dead letters for display (`roomcount outbox` may list them). */
export function listDeadLetters(
  stateDir: string,
  opts: { roomId?: string; limit?: number } = {},
): DeadLetterRow[] {
  if (!existsSync(outboxPath(stateDir))) return [];
  return readOutbox(stateDir, (outbox) => outbox.deadLetters(opts));
}
