import { backoffDelay, type BackoffPolicy } from '../../backoff.js';
import type { Logger } from '../../log.js';
import { MAX_EVENTS_PER_REQUEST, requestBodyText, type OccupancyEvent } from '../event.js';
import type { EventSink } from '../sink.js';
import { CalvenClient, type CalvenAuth, type CalvenTimeouts } from './client.js';
import { DeliveryCounters, type DeliveryStatus } from './counters.js';
import type { OutboxRow } from './outbox.js';
import { settle, type PostOutcome, type Settlement } from './settle.js';
import { OutboxStore, type StoreStatus } from './store.js';
import { Waits } from './waits.js';

/**
 * Sends occupancy events to Calven through the durable outbox.
 *
 * - `send()` hands the event to the outbox store (group commit; held in memory if the disk fails) and wakes the
 *   delivery loop; it never waits for the network.
 * - One delivery loop POSTs the oldest pending events (insertion order, all rooms mixed) in batches of up to 100,
 *   one request at a time, so Calven sees events in the order they were produced.
 * - What an answer means is settle()'s (pure) decision; failures back off (capped exponential, jitter; 1 s doubling
 *   to 30 s by default), and an event stored during a wait ends it once 2 s of it have passed.
 * - Delivery is at-least-once with a stable eventId: a crash between Calven's 200 and our DELETE (or a timeout
 *   after Calven processed the body) sends the same event again, with the same eventId.
 */

export interface CalvenSinkOptions {
  sourceId: string;
  baseUrl: string;
  auth: CalvenAuth;
  stateDir: string;
  log: Logger;
  /** HTTP timeouts (ms); each defaults to 10 000. */
  timeouts?: CalvenTimeouts;
  /** Retry delays after failed requests. Default 1 s doubling to 30 s, jitter 0.5. */
  backoff?: Partial<BackoffPolicy>;
  /** An event stored during a backoff wait ends it once this much of it has passed (ms, default 2000). */
  probeAfterMs?: number;
  /** Even without send(), look at the outbox this often (picks up `outbox --retry-dead`; ms, default 30 000). */
  idlePollMs?: number;
  /** How often a failing outbox is tried again and the file checked (ms, default 5000). */
  repairMs?: number;
  /** Told about every request and every event's fate (metrics). */
  observer?: CalvenSinkObserver;
}

/** What went wrong with one request, for `roomcount_calven_errors_total{kind}`. */
export type CalvenErrorKind =
  'http_3xx' | 'http_4xx' | 'http_5xx' | 'auth' | 'timeout' | 'network' | 'malformed_answer';

export interface CalvenSinkObserver {
  /** One POST /v1/occupancy: how long it took and, unless it succeeded, what went wrong. */
  request?(seconds: number, error: CalvenErrorKind | undefined): void;
  /** An event left the outbox: sent (loaded), rejected (its resultCode), dead_lettered (whole request refused). */
  settled?(roomId: string, outcome: 'sent' | 'rejected' | 'dead_lettered'): void;
  /** How many events are held in memory because the outbox cannot be written. */
  unstored?(count: number): void;
}

export interface CalvenSinkStatus extends StoreStatus, DeliveryStatus {
  /** When the next attempt is due while backing off. */
  nextAttemptAt: string | null;
}

/** The metric kind of an outcome (undefined: success, or a request refused as a whole is still an answer). */
export function errorKind(outcome: PostOutcome): CalvenErrorKind | undefined {
  switch (outcome.kind) {
    case 'accepted':
      return undefined;
    case 'malformed':
      return 'malformed_answer';
    case 'rejected':
      return 'http_4xx';
    case 'retry':
      if (outcome.cause !== 'http') return outcome.cause;
      if (outcome.status === 401) return 'auth';
      return outcome.status !== undefined && outcome.status >= 500
        ? 'http_5xx'
        : outcome.status !== undefined && outcome.status < 400
          ? 'http_3xx'
          : 'http_4xx';
  }
}

/** After waking from idle, wait this long so that events produced together share a request (ms). */
const BATCH_DELAY_MS = 10;
/**
 * An event a 2xx answer does not say was loaded or rejected (left out of `results`, or the answer not in the
 * documented shape) is sent again; after this many such answers it is dead-lettered.
 */
const MAX_UNANSWERED = 10;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class CalvenSink implements EventSink {
  private readonly store: OutboxStore;
  private readonly client: CalvenClient;
  private readonly log: Logger;
  private readonly sourceId: string;
  private readonly backoff: BackoffPolicy;
  private readonly observer: CalvenSinkObserver | undefined;
  private readonly waits: Waits;

  private abort: AbortController | undefined;
  private closing = false;
  private stopped = false;
  private dbClosed = false;
  private closeDeadline = Infinity;
  private closePromise: Promise<void> | undefined;
  private readonly loopDone: Promise<void>;

  private readonly counters = new DeliveryCounters();

  constructor(opts: CalvenSinkOptions) {
    this.log = opts.log;
    this.observer = opts.observer;
    this.sourceId = opts.sourceId;
    this.backoff = { initialMs: 1000, maxMs: 30_000, ...opts.backoff };
    this.waits = new Waits({
      pollMs: Math.max(10, opts.idlePollMs ?? 30_000),
      minBackoffMs: Math.max(0, opts.probeAfterMs ?? 2000),
    });
    this.store = new OutboxStore({
      stateDir: opts.stateDir,
      log: opts.log,
      repairMs: opts.repairMs,
      onStored: () => this.waits.wake(),
      onHeld: (count) => this.observer?.unstored?.(count),
    });
    this.client = new CalvenClient({
      baseUrl: opts.baseUrl,
      auth: opts.auth,
      log: opts.log,
      timeouts: opts.timeouts,
    });
    const left = this.store.status();
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

  /** Hands the event to the outbox and wakes the delivery loop. Resolves once it is on disk (or held in memory). */
  send(event: OccupancyEvent, roomId: string): Promise<void> {
    if (this.dbClosed) return Promise.reject(new Error('CalvenSink is closed'));
    if (typeof event?.eventId !== 'string' || event.eventId === '') {
      return Promise.reject(new Error('occupancy event without eventId'));
    }
    return this.store.add(event, roomId);
  }

  /** Why the sink is not ready (events not safe on disk, folder not writable), or undefined. */
  problem(): string | undefined {
    return this.dbClosed ? undefined : this.store.problem();
  }

  private wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.closing) ms = Math.min(ms, Math.max(0, this.closeDeadline - Date.now()));
    return this.waits.backoff(ms);
  }

  private async run(): Promise<void> {
    let fromIdle = false;
    while (!this.stopped) {
      if (fromIdle && BATCH_DELAY_MS > 0 && !this.closing) await sleep(BATCH_DELAY_MS);
      fromIdle = false;
      this.waits.reset();
      const rows = this.store.peek(MAX_EVENTS_PER_REQUEST);
      if (rows === undefined) {
        // Cannot read the outbox: the store has logged it once; look again later (it also retries by itself).
        this.counters.failure(this.store.problem() ?? 'outbox read failed');
        await this.wait(backoffDelay(this.counters.failures, this.backoff));
        continue;
      }
      if (rows.length === 0) {
        if (this.closing) return;
        await this.waits.idle();
        fromIdle = true;
        continue;
      }
      const retryAfter = await this.deliver(rows);
      if (retryAfter !== false && !this.stopped) {
        const delay = backoffDelay(this.counters.failures, this.backoff, Math.random, retryAfter);
        this.log.warn(
          {
            attempt: this.counters.failures,
            retryInMs: Math.round(delay),
            error: this.counters.error,
            pending: this.store.pendingCount(),
          },
          'calven delivery failed; events stay in the outbox',
        );
        await this.wait(delay);
      }
    }
  }

  /** One request for `rows`. Returns false when it made progress, else the server's Retry-After (or undefined). */
  private async deliver(rows: OutboxRow[]): Promise<number | undefined | false> {
    const body = requestBodyText(
      this.sourceId,
      rows.map((r) => r.body),
    );
    this.abort = new AbortController();
    let outcome: PostOutcome;
    const started = performance.now();
    try {
      outcome = await this.client.postOccupancy(body, this.abort.signal);
    } catch (err) {
      outcome = { kind: 'retry', cause: 'network', message: `unexpected error: ${String(err)}` };
    } finally {
      this.abort = undefined;
    }
    this.observer?.request?.((performance.now() - started) / 1000, errorKind(outcome));
    return this.apply(rows, outcome);
  }

  private apply(rows: OutboxRow[], outcome: PostOutcome): number | undefined | false {
    const s = settle(outcome, rows, { maxUnanswered: MAX_UNANSWERED });
    this.store.record(s);
    for (const row of s.delivered) this.observer?.settled?.(row.roomId, 'sent');
    for (const { row, info } of s.dead) {
      this.observer?.settled?.(row.roomId, info.reason === 'rejected' ? 'rejected' : 'dead_lettered');
    }
    this.logSettlement(rows, outcome, s);
    const recovered = this.counters.request(s, this.stopped ? ' (shutdown deadline)' : '');
    if (recovered > 0) this.log.info({ failedAttempts: recovered }, 'calven delivery recovered');
    return s.backoff ? s.retryAfterMs : false;
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

  status(): CalvenSinkStatus {
    const until = this.waits.until;
    return {
      ...this.store.status(),
      ...this.counters.status(),
      nextAttemptAt: until === undefined ? null : new Date(until).toISOString(),
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
    this.store.flush();
    this.closing = true;
    this.closeDeadline = Date.now() + Math.max(0, deadlineMs);
    const timer = setTimeout(
      () => {
        this.stopped = true;
        this.abort?.abort(new Error('shutdown deadline'));
        this.waits.interrupt();
      },
      Math.max(0, deadlineMs),
    );
    this.waits.interrupt();
    await this.loopDone;
    clearTimeout(timer);
    this.stopped = true;
    this.store.flush();
    try {
      const left = this.store.status();
      if (left.pending > 0) {
        this.log.warn(
          { pending: left.pending, oldestPendingAt: left.oldestPendingAt, error: this.counters.error },
          'calven: events not delivered before shutdown stay in the outbox for the next start',
        );
      } else {
        this.log.info({ delivered: this.counters.deliveredCount }, 'calven outbox flushed');
      }
    } finally {
      this.store.close();
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
