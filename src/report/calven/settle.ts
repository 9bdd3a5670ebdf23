import type { DeadLetterInfo, OutboxRow } from './outbox.js';

/**
 * What one answer from Calven means for the events of the request: pure, so every kind of answer — documented or
 * hostile — is tested without a server or a database.
 *
 * Only an answer in Calven's documented shape may take an event out of the outbox: a 2xx whose `results` has one
 * entry `{eventId, resultCode, message}` per event, resultCode 0 meaning loaded. A 200 from a proxy (HTML), `{}`,
 * an empty body, a results list naming events that were not sent, or entries without a numeric resultCode say
 * nothing about what was loaded: the events stay pending and are sent again (same eventId), and only after
 * `maxUnanswered` such answers is an event dead-lettered (loudly), never silently deleted.
 */

export interface CalvenEventResult {
  eventId: string;
  resultCode: number;
  message: string;
}

export type PostOutcome =
  /** 2xx in the documented shape (each entry checked; whether they match the request is settle()'s question). */
  | { kind: 'accepted'; status: number; results: CalvenEventResult[] }
  /** 2xx that is not in the documented shape (not JSON, no results array, bad entries, too large to read). */
  | { kind: 'malformed'; status: number; message: string }
  /** 4xx other than 401/408/429: the body was refused as a whole; nothing was loaded; do not send it again. */
  | { kind: 'rejected'; status: number; message: string }
  /** 5xx, 408, 429, 3xx, 401 twice, token failures, timeouts, connection errors: send it again later. */
  | {
      kind: 'retry';
      /** auth: the token could not be had; timeout: no (complete) answer in time; network: no answer at all. */
      cause: 'http' | 'auth' | 'timeout' | 'network';
      status?: number;
      message: string;
      retryAfterMs?: number;
    };

/** The `results` of a 2xx answer's text, or why they cannot be used. */
export function readResults(text: string): { results: CalvenEventResult[] } | { malformed: string } {
  if (text.trim() === '') return { malformed: 'the answer is empty' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { malformed: 'the answer is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { malformed: 'the answer is not a JSON object' };
  }
  const list = (json as { results?: unknown }).results;
  if (!Array.isArray(list)) return { malformed: 'the answer has no results array' };
  const results: CalvenEventResult[] = [];
  for (const [i, r] of list.entries()) {
    if (typeof r !== 'object' || r === null) return { malformed: `results[${i}] is not an object` };
    const { eventId, resultCode, message } = r as Record<string, unknown>;
    if (typeof eventId !== 'string' || eventId === '') return { malformed: `results[${i}] has no eventId` };
    if (typeof resultCode !== 'number' || !Number.isInteger(resultCode)) {
      return { malformed: `results[${i}] has no integer resultCode` };
    }
    results.push({ eventId, resultCode, message: typeof message === 'string' ? message : '' });
  }
  return { results };
}

export interface Settlement {
  /** Loaded (resultCode 0): leave the outbox. */
  delivered: OutboxRow[];
  /** Refused (per event or the whole request), or unanswered too often: to the dead-letter table. */
  dead: { row: OutboxRow; info: DeadLetterInfo }[];
  /** Answered without saying the event was loaded: stay pending with one more attempt counted. */
  retry: OutboxRow[];
  /** The 2xx answer was not in the documented shape (so it settled nothing but counted an attempt). */
  malformed?: true;
  /** True when the answer took no event out of pending: wait (back off) before the next request. */
  backoff: boolean;
  /** Why the answer was not a clean success (for the log and status). */
  problem?: string;
  /** The server's Retry-After (ms). */
  retryAfterMs?: number;
}

export function settle(
  outcome: PostOutcome,
  rows: readonly OutboxRow[],
  opts: { maxUnanswered: number },
): Settlement {
  const s: Settlement = { delivered: [], dead: [], retry: [], backoff: false };
  if (outcome.kind === 'retry') {
    return { ...s, backoff: true, problem: outcome.message, retryAfterMs: outcome.retryAfterMs };
  }
  if (outcome.kind === 'rejected') {
    const info: DeadLetterInfo = { reason: 'http', httpStatus: outcome.status, message: outcome.message };
    return {
      ...s,
      dead: rows.map((row) => ({ row, info })),
      problem: `HTTP ${outcome.status}: ${outcome.message}`,
    };
  }

  const unanswered = (row: OutboxRow, reason: 'malformed' | 'no-result', why: string) => {
    if (row.attempts + 1 >= opts.maxUnanswered) {
      const message = `${why} (${opts.maxUnanswered} answers without a result for this event)`;
      s.dead.push({ row, info: { reason, httpStatus: outcome.status, message } });
    } else {
      s.retry.push(row);
    }
  };

  let malformed = outcome.kind === 'malformed' ? outcome.message : undefined;
  const byId = new Map<string, CalvenEventResult>();
  if (outcome.kind === 'accepted') {
    const sent = new Set(rows.map((r) => r.eventId.toLowerCase()));
    for (const r of outcome.results) {
      const id = r.eventId.toLowerCase();
      if (!sent.has(id)) malformed ??= `the results name an event that was not sent (${r.eventId})`;
      else if (byId.has(id)) malformed ??= `the results name an event twice (${r.eventId})`;
      byId.set(id, r);
    }
  }
  if (malformed !== undefined) {
    const why = `HTTP ${outcome.status} not in the documented shape: ${malformed}`;
    for (const row of rows) unanswered(row, 'malformed', why);
    return { ...s, backoff: true, problem: why, malformed: true };
  }

  for (const row of rows) {
    const r = byId.get(row.eventId.toLowerCase());
    if (!r) unanswered(row, 'no-result', 'no result for this event');
    else if (r.resultCode === 0) s.delivered.push(row);
    else {
      s.dead.push({
        row,
        info: {
          reason: 'rejected',
          httpStatus: outcome.status,
          resultCode: r.resultCode,
          message: r.message,
        },
      });
    }
  }
  if (s.delivered.length + s.dead.length === 0) {
    return { ...s, backoff: true, problem: 'the answer had no result for any event of the request' };
  }
  return s;
}
