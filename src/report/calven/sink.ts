import type { Logger } from '../../log.js';
import { CalvenClient, type CalvenAuth, type CalvenTimeouts } from './client.js';
import { settle, type PostOutcome, type Settlement } from './settle.js';
import { MAX_EVENTS_PER_REQUEST, type OccupancyEvent } from '../event.js';
import { Outbox, type OutboxRow, type OutboxStats } from './outbox.js';
import type { EventSink } from '../sink.js';

/**
 * Sends occupancy events to Calven through the durable outbox.
 *
 * - `send()` commits the event to `stateDir/outbox.sqlite` and wakes the delivery loop; it never waits for the
 *   network. Sends arriving in the same event-loop turn share one transaction (one fsync); the returned promise
 *   resolves once the event is on disk.
 * - One delivery loop POSTs the oldest pending events (insertion order, all rooms mixed) in batches of up to 100,
 *   one request at a time, so Calven sees events in the order they were produced.
 * - Outcomes: loaded → deleted; per-event non-zero resultCode → dead_letter (warn with room and message);
 *   4xx for the request → the whole batch to dead_letter (error with the message), delivery goes on;
 *   5xx/408/429/timeouts/connection errors/token failures → events stay pending, exponential backoff with jitter.
 * - Delivery is at-least-once with a stable eventId: a crash between Calven's 200 and our DELETE (or a timeout
 *   after Calven processed the body) sends the same event again, with the same eventId.
 */

export interface BackoffOptions {
  /** First retry delay (ms). Default 1000. */
  initialMs?: number;
  /** Cap (ms). Default 300 000 (5 min). */
  maxMs?: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
  /** 0..1: the delay is drawn from [d·(1−jitter), d]. Default 0.5. */
  jitter?: number;
}

export interface CalvenSinkOptions {
  sourceId: string;
  baseUrl: string;
  auth: CalvenAuth;
  stateDir: string;
  log: Logger;
  /** HTTP timeouts (ms); each defaults to 10 000. */
  timeouts?: CalvenTimeouts;
  backoff?: BackoffOptions;
  /** After waking from idle, wait this long so that events produced together share a request (ms, default 10). */
  batchDelayMs?: number;
  /** Events per request, 1..100 (default 100). */
  maxBatch?: number;
  /** Even without send(), look at the outbox this often (picks up `outbox --retry-dead`; ms, default 30 000). */
  idlePollMs?: number;
  /** Token refresh margin before expiry (ms, default 60 000). */
  refreshMarginMs?: number;
  /**
   * An event a 2xx answer does not say was loaded or rejected (left out of `results`, or the answer not in the
   * documented shape) is sent again; after this many such answers it is dead-lettered. Default 10.
   */
  maxMissingResults?: number;
  /** SQLite durability (default FULL). */
  synchronous?: 'FULL' | 'NORMAL';
  /** For tests: a ready client (the sink closes it on close()). */
  client?: CalvenClient;
  /** Told about every request and every event's fate (metrics). */
  observer?: CalvenSinkObserver;
}

export interface CalvenSinkObserver {
  /** One POST /v1/occupancy: how long it took and how it ended (status undefined: no HTTP answer). */
  request?(seconds: number, kind: PostOutcome['kind'], status: number | undefined): void;
  /** An event left the outbox: sent (loaded), rejected (its resultCode), dead_lettered (whole request refused). */
  settled?(roomId: string, outcome: 'sent' | 'rejected' | 'dead_lettered'): void;
}

export interface CalvenSinkStatus extends OutboxStats {
  /** Events Calven loaded since start. */
  delivered: number;
  /** Events moved to dead_letter since start. */
  deadLettered: number;
  requests: number;
  failedRequests: number;
  consecutiveFailures: number;
  lastDeliveredAt: string | null;
  lastError: string | null;
  /** When the next attempt is due while backing off. */
  nextAttemptAt: string | null;
}

interface Buffered {
  event: OccupancyEvent;
  roomId: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class CalvenSink implements EventSink {
  private readonly outbox: Outbox;
  private readonly client: CalvenClient;
  private readonly log: Logger;
  private readonly sourceJson: string;
  private readonly maxBatch: number;
  private readonly batchDelayMs: number;
  private readonly idlePollMs: number;
  private readonly maxMissing: number;
  private readonly backoff: Required<BackoffOptions>;
  private readonly observer: CalvenSinkObserver | undefined;

  private buffer: Buffered[] = [];
  private flushHandle: NodeJS.Immediate | undefined;
  private woken = false;
  private idleResolve: (() => void) | undefined;
  private backoffResolve: (() => void) | undefined;
  private drainWaiters: (() => void)[] = [];
  private abort: AbortController | undefined;
  private closing = false;
  private stopped = false;
  private dbClosed = false;
  private closeDeadline = Infinity;
  private closePromise: Promise<void> | undefined;
  private readonly loopDone: Promise<void>;

  private delivered = 0;
  private deadLettered = 0;
  private requests = 0;
  private failedRequests = 0;
  private consecutiveFailures = 0;
  private lastDeliveredAt: number | undefined;
  private lastError: string | undefined;
  private nextAttemptAt: number | undefined;

  constructor(opts: CalvenSinkOptions) {
    this.log = opts.log;
    this.observer = opts.observer;
    this.sourceJson = JSON.stringify(opts.sourceId);
    this.maxBatch = Math.min(
      MAX_EVENTS_PER_REQUEST,
      Math.max(1, Math.floor(opts.maxBatch ?? MAX_EVENTS_PER_REQUEST)),
    );
    this.batchDelayMs = Math.max(0, opts.batchDelayMs ?? 10);
    this.idlePollMs = Math.max(10, opts.idlePollMs ?? 30_000);
    this.maxMissing = Math.max(1, opts.maxMissingResults ?? 10);
    this.backoff = {
      initialMs: opts.backoff?.initialMs ?? 1000,
      maxMs: opts.backoff?.maxMs ?? 300_000,
      factor: opts.backoff?.factor ?? 2,
      jitter: Math.min(1, Math.max(0, opts.backoff?.jitter ?? 0.5)),
    };
    this.outbox = Outbox.open(opts.stateDir, { synchronous: opts.synchronous });
    this.client =
      opts.client ??
      new CalvenClient({
        baseUrl: opts.baseUrl,
        auth: opts.auth,
        log: opts.log,
        timeouts: opts.timeouts,
        refreshMarginMs: opts.refreshMarginMs,
      });
    const left = this.outbox.stats();
    if (left.pending > 0) {
      this.log.info(
        { pending: left.pending, oldestPendingAt: left.oldestPendingAt },
        'calven outbox: events from a previous run are pending; delivering them first',
      );
    }
    if (left.deadLetter > 0) {
      this.log.warn(
        { deadLetter: left.deadLetter },
        'calven outbox: dead-lettered events exist (see `roomcount outbox`)',
      );
    }
    this.loopDone = this.run().catch((err: unknown) => {
      this.log.error({ err }, 'calven delivery loop crashed');
    });
  }

  /** Commits the event to the outbox and wakes the delivery loop. Resolves once it is on disk. */
  send(event: OccupancyEvent, roomId: string): Promise<void> {
    if (this.dbClosed) return Promise.reject(new Error('CalvenSink is closed'));
    if (typeof event?.eventId !== 'string' || event.eventId === '') {
      return Promise.reject(new Error('occupancy event without eventId'));
    }
    return new Promise<void>((resolve, reject) => {
      this.buffer.push({ event, roomId, resolve, reject });
      this.flushHandle ??= setImmediate(() => this.flushInserts());
    });
  }

  /** Group commit of everything sent since the last flush. */
  private flushInserts(): void {
    if (this.flushHandle) clearImmediate(this.flushHandle);
    this.flushHandle = undefined;
    const items = this.buffer;
    if (items.length === 0) return;
    this.buffer = [];
    try {
      this.outbox.insert(items);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.log.error({ err: e, events: items.length }, 'calven outbox: could not store events');
      for (const it of items) it.reject(e);
      return;
    }
    for (const it of items) it.resolve();
    this.wake();
  }

  private wake(): void {
    this.woken = true;
    const r = this.idleResolve;
    this.idleResolve = undefined;
    r?.();
  }

  /** Ends idle and backoff waits (close started, or the deadline passed). */
  private interrupt(): void {
    this.wake();
    const b = this.backoffResolve;
    this.backoffResolve = undefined;
    b?.();
  }

  private idle(): Promise<void> {
    if (this.woken || this.stopped || this.closing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.idleResolve = undefined;
        resolve();
      }, this.idlePollMs);
      timer.unref();
      this.idleResolve = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private backoffDelay(retryAfterMs?: number): number {
    const { initialMs, maxMs, factor, jitter } = this.backoff;
    const exp = Math.min(this.consecutiveFailures - 1, 60);
    const base = Math.min(maxMs, initialMs * factor ** Math.max(0, exp));
    const d = base * (1 - jitter * Math.random());
    return Math.min(maxMs, Math.max(d, retryAfterMs ?? 0));
  }

  private waitBackoff(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.closing) ms = Math.min(ms, Math.max(0, this.closeDeadline - Date.now()));
    this.nextAttemptAt = Date.now() + ms;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.backoffResolve = undefined;
        this.nextAttemptAt = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.backoffResolve = done;
    });
  }

  private async run(): Promise<void> {
    let fromIdle = false;
    while (!this.stopped) {
      if (fromIdle && this.batchDelayMs > 0 && !this.closing) await sleep(this.batchDelayMs);
      fromIdle = false;
      this.woken = false;
      let rows: OutboxRow[];
      try {
        rows = this.outbox.peek(this.maxBatch);
      } catch (err) {
        this.consecutiveFailures++;
        this.lastError = `outbox read failed: ${String(err)}`;
        this.log.error({ err }, 'calven outbox: read failed');
        await this.waitBackoff(this.backoffDelay());
        continue;
      }
      if (rows.length === 0) {
        for (const w of this.drainWaiters.splice(0)) w();
        if (this.closing) return;
        await this.idle();
        fromIdle = true;
        continue;
      }
      const retryAfter = await this.deliver(rows);
      if (retryAfter !== false && !this.stopped) {
        const delay = this.backoffDelay(retryAfter);
        this.log.warn(
          {
            attempt: this.consecutiveFailures,
            retryInMs: Math.round(delay),
            error: this.lastError,
            pending: this.safePendingCount(),
          },
          'calven delivery failed; events stay in the outbox',
        );
        await this.waitBackoff(delay);
      }
    }
  }

  private safePendingCount(): number | undefined {
    try {
      return this.outbox.pendingCount();
    } catch {
      return undefined;
    }
  }

  /** One request for `rows`. Returns false when it made progress, else the server's Retry-After (or undefined). */
  private async deliver(rows: OutboxRow[]): Promise<number | undefined | false> {
    const body = `{"sourceId":${this.sourceJson},"occupancyEvents":[${rows.map((r) => r.body).join(',')}]}`;
    this.abort = new AbortController();
    let outcome: PostOutcome;
    const started = performance.now();
    try {
      outcome = await this.client.postOccupancy(body, this.abort.signal);
      this.observer?.request?.((performance.now() - started) / 1000, outcome.kind, outcome.status);
    } catch (err) {
      outcome = { kind: 'retry', cause: 'network', message: `unexpected error: ${String(err)}` };
    } finally {
      this.abort = undefined;
    }
    this.requests++;
    try {
      return this.apply(rows, outcome);
    } catch (err) {
      // Could not record the outcome (disk?): the rows stay pending and go again — same eventIds.
      this.failedRequests++;
      this.consecutiveFailures++;
      this.lastError = `outbox update failed: ${String(err)}`;
      return undefined;
    }
  }

  private apply(rows: OutboxRow[], outcome: PostOutcome): number | undefined | false {
    const s = settle(outcome, rows, { maxUnanswered: this.maxMissing });
    if (s.delivered.length + s.dead.length + s.retry.length > 0) this.outbox.settle(s);
    for (const row of s.delivered) this.observer?.settled?.(row.roomId, 'sent');
    for (const { row, info } of s.dead) {
      this.observer?.settled?.(row.roomId, info.reason === 'rejected' ? 'rejected' : 'dead_lettered');
    }
    this.delivered += s.delivered.length;
    this.deadLettered += s.dead.length;
    if (s.delivered.length > 0) this.lastDeliveredAt = Date.now();
    this.logSettlement(rows, outcome, s);
    if (s.backoff) {
      this.failedRequests++;
      this.consecutiveFailures++;
      this.lastError = this.stopped ? `${s.problem} (shutdown deadline)` : s.problem;
      return s.retryAfterMs;
    }
    if (this.consecutiveFailures > 0) {
      this.log.info({ failedAttempts: this.consecutiveFailures }, 'calven delivery recovered');
    }
    this.consecutiveFailures = 0;
    this.lastError = s.problem;
    return false;
  }

  private logSettlement(rows: OutboxRow[], outcome: PostOutcome, s: Settlement): void {
    if (outcome.kind === 'rejected') {
      this.log.error(
        {
          status: outcome.status,
          message: outcome.message,
          events: rows.length,
          rooms: [...new Set(rows.map((r) => r.roomId))],
        },
        'calven refused the request; its events were moved to the dead-letter table (see `roomcount outbox`)',
      );
      return;
    }
    for (const { row, info } of s.dead) {
      const fields = {
        room: row.roomId,
        eventId: row.eventId,
        locationId: locationIdOf(row.body),
        resultCode: info.resultCode,
        reason: info.reason,
        message: info.message,
      };
      if (info.reason === 'rejected') {
        this.log.warn(fields, 'calven rejected an event; moved to the dead-letter table');
      } else {
        this.log.error(fields, 'calven never said it loaded this event; moved to the dead-letter table');
      }
    }
    if (s.retry.length > 0) {
      this.log.warn(
        { events: s.retry.length, status: outcome.status, problem: s.problem },
        s.malformed
          ? 'calven answered, but not in the documented shape; its events stay pending and are sent again'
          : 'calven answered without a result for some events; re-sending them',
      );
    }
  }

  /** Resolves the next time the outbox is seen empty (tests, benchmarks). */
  whenDrained(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.drainWaiters.push(resolve);
      this.wake();
    });
  }

  status(): CalvenSinkStatus {
    const stats: OutboxStats = this.dbClosed
      ? { pending: 0, deadLetter: 0, oldestPendingAt: null }
      : this.outbox.stats();
    return {
      ...stats,
      delivered: this.delivered,
      deadLettered: this.deadLettered,
      requests: this.requests,
      failedRequests: this.failedRequests,
      consecutiveFailures: this.consecutiveFailures,
      lastDeliveredAt:
        this.lastDeliveredAt === undefined ? null : new Date(this.lastDeliveredAt).toISOString(),
      lastError: this.lastError ?? null,
      nextAttemptAt: this.nextAttemptAt === undefined ? null : new Date(this.nextAttemptAt).toISOString(),
    };
  }

  /**
   * Delivers what is pending, retrying (with backoff cut to the deadline) until the outbox is empty or `deadlineMs`
   * has passed; then aborts a request still in flight and closes the database. What was not delivered stays in
   * the outbox for the next start.
   */
  close(deadlineMs = 10_000): Promise<void> {
    this.closePromise ??= this.shutdown(deadlineMs);
    return this.closePromise;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.flushInserts();
    this.closing = true;
    this.closeDeadline = Date.now() + Math.max(0, deadlineMs);
    const timer = setTimeout(
      () => {
        this.stopped = true;
        this.abort?.abort(new Error('shutdown deadline'));
        this.interrupt();
      },
      Math.max(0, deadlineMs),
    );
    this.interrupt();
    await this.loopDone;
    clearTimeout(timer);
    this.stopped = true;
    for (const w of this.drainWaiters.splice(0)) w();
    this.flushInserts();
    try {
      const left = this.outbox.stats();
      if (left.pending > 0) {
        this.log.warn(
          { pending: left.pending, oldestPendingAt: left.oldestPendingAt, error: this.lastError },
          'calven: events not delivered before shutdown stay in the outbox for the next start',
        );
      } else {
        this.log.info({ delivered: this.delivered }, 'calven outbox flushed');
      }
    } finally {
      this.outbox.close();
      this.dbClosed = true;
      await this.client.close();
    }
  }
}

function locationIdOf(body: string): string | undefined {
  try {
    const e = JSON.parse(body) as { locationId?: unknown };
    return typeof e.locationId === 'string' ? e.locationId : undefined;
  } catch {
    return undefined;
  }
}
