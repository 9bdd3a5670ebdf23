import { createHmac } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from '../../log.js';
import { redactText } from '../../redact.js';
import { readResults, type CalvenEventResult, type PostOutcome } from './settle.js';

/**
 * Calven Occupancy API client: tokens (HMAC or OAuth), `POST /v1/occupancy`, and a classification of every answer
 * into accepted / rejected (do not retry) / retry. It never retries by itself except once after a 401 (new token);
 * backoff belongs to the caller (CalvenSink), which owns the outbox.
 *
 * Secrets (apiSecret, clientSecret) and tokens are never logged nor put into error messages; text that comes back
 * from the server is passed through `redactText` with them before it is logged or returned.
 */

export type CalvenAuth =
  | { type: 'hmac'; apiKey: string; apiSecret: string }
  | { type: 'oauth'; clientId: string; clientSecret: string };

export interface CalvenTimeouts {
  /** TCP/TLS connect (ms). Default 10 000. */
  connectMs?: number;
  /** Request sent → response headers (ms). Default 10 000. */
  headersMs?: number;
  /** Between body chunks of the response (ms). Default 10 000. */
  bodyMs?: number;
  /**
   * Whole request, connect to last byte of the answer (ms). Default 30 000. Exact (an AbortSignal), unlike undici's
   * headers/body timeouts, which run on a coarse ~1 s clock.
   */
  totalMs?: number;
}

export interface CalvenClientOptions {
  baseUrl: string;
  auth: CalvenAuth;
  log: Logger;
  timeouts?: CalvenTimeouts;
  /** Get a new token this long before it expires (ms, default 60 000; at most half the token's lifetime). */
  refreshMarginMs?: number;
}

export type { CalvenEventResult, PostOutcome };

/** A token endpoint failure (bad credentials, outage, unparsable answer). Always retryable for the caller. */
export class CalvenAuthError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CalvenAuthError';
  }
}

interface Token {
  value: string;
  expiresAt: number;
  refreshAt: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Lifetime assumed when the auth answer has no usable expiration. */
const DEFAULT_TOKEN_LIFETIME_MS = 600_000;
const MAX_MESSAGE = 500;
/** Most of an error answer (or a token answer) that is read: more is not a message worth keeping. */
export const MAX_ERROR_BODY = 64 * 1024;
/** Most of a 2xx occupancy answer that is read: 100 results with long messages fit many times over. */
export const MAX_SUCCESS_BODY = 512 * 1024;
/** Server text looked at for a message: what is shown is MAX_MESSAGE characters, so more only costs time. */
const MAX_MESSAGE_SOURCE = 4096;

/** HMAC-SHA256(key = apiSecret, message = apiKey + timestamp), hex. */
export function hmacHash(apiKey: string, apiSecret: string, timestamp: number): string {
  return createHmac('sha256', apiSecret)
    .update(apiKey + String(timestamp))
    .digest('hex');
}

/**
 * Token expiry as ms since the epoch, read liberally: unix seconds, unix ms, a relative number of seconds
 * (small numbers, as `expires_in`), a numeric string, or a date string (ISO-8601; without a zone it is taken as UTC).
 * Undefined when nothing usable is there.
 */
export function parseExpiration(value: unknown, now = Date.now(), relative = false): number | undefined {
  if (typeof value === 'string') {
    const s = value.trim();
    if (s === '') return undefined;
    if (/^-?\d+(\.\d+)?$/.test(s)) return parseExpiration(Number(s), now, relative);
    const zoned = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(s) ? `${s}Z` : s;
    const t = Date.parse(zoned);
    return Number.isFinite(t) ? t : undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined;
  if (relative || value < 1e9) return now + value * 1000; // seconds from now
  if (value < 1e11) return value * 1000; // unix seconds (until year 5138)
  return value; // unix ms
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Retry-After: seconds or an HTTP date. */
function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/** undici's connect/headers/body timeouts, or the whole-request one. */
function isTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return (
    code === 'ROOMCOUNT_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  );
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = (err as { cause?: unknown }).cause;
    const causeText = cause instanceof Error && cause.message !== err.message ? ` (${cause.message})` : '';
    return `${typeof code === 'string' ? code + ': ' : ''}${err.message}${causeText}`;
  }
  return String(err);
}

interface Answer {
  status: number;
  /** The body as text; empty when it was larger than `limit` (then not read past it). */
  text: string;
  tooLarge: boolean;
  limit: number;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Reads a body up to `limit` bytes. A larger one (by its Content-Length or as it arrives) is not read further: the
 * stream is destroyed (the connection is not reused) and undefined returned. A proxy's 10 MB page must not be
 * buffered, parsed or redacted.
 */
async function readLimited(
  body: Dispatcher.ResponseData['body'],
  limit: number,
  declaredLength: string | string[] | undefined,
): Promise<string | undefined> {
  if (Number(Array.isArray(declaredLength) ? declaredLength[0] : declaredLength) > limit) {
    body.destroy();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The first `max` characters of `text`, cut so that no part of a secret is left at the end (a secret cut in two
 * would escape redaction), nor a URL whose user info the cut separated from its "@".
 */
export function clipForRedaction(text: string, max: number, secrets: readonly string[]): string {
  if (text.length <= max) return text;
  let t = text.slice(0, max);
  for (const secret of secrets) {
    for (let k = Math.min(secret.length - 1, t.length); k > 0; k--) {
      if (t.endsWith(secret.slice(0, k))) {
        t = t.slice(0, t.length - k);
        break;
      }
    }
  }
  return t.replace(/[a-z][a-z0-9+.-]*:\/\/[^/\s]*$/i, '');
}

export class CalvenClient {
  private readonly base: string;
  private readonly auth: CalvenAuth;
  private readonly log: Logger;
  private readonly dispatcher: Dispatcher;
  private readonly headersTimeout: number;
  private readonly bodyTimeout: number;
  private readonly totalTimeout: number;
  private readonly refreshMarginMs: number;
  private token: Token | undefined;
  private tokenPromise: Promise<Token> | undefined;

  constructor(opts: CalvenClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.auth = opts.auth;
    this.log = opts.log;
    const t = opts.timeouts ?? {};
    this.headersTimeout = t.headersMs ?? DEFAULT_TIMEOUT_MS;
    this.bodyTimeout = t.bodyMs ?? DEFAULT_TIMEOUT_MS;
    this.totalTimeout = t.totalMs ?? 3 * DEFAULT_TIMEOUT_MS;
    this.refreshMarginMs = opts.refreshMarginMs ?? 60_000;
    this.dispatcher = new Agent({
      connect: { timeout: t.connectMs ?? DEFAULT_TIMEOUT_MS },
      headersTimeout: this.headersTimeout,
      bodyTimeout: this.bodyTimeout,
      keepAliveTimeout: 30_000,
    });
  }

  private secrets(): string[] {
    const s = this.auth.type === 'hmac' ? [this.auth.apiSecret] : [this.auth.clientSecret];
    if (this.token) s.push(this.token.value);
    return s;
  }

  /** Server text made safe to log: secrets and the token replaced, length capped. */
  private clean(text: string): string {
    const secrets = this.secrets();
    const t = redactText(clipForRedaction(text, MAX_MESSAGE_SOURCE, secrets), secrets)
      .replace(/\s+/g, ' ')
      .trim();
    return t.length > MAX_MESSAGE ? t.slice(0, MAX_MESSAGE) + '…' : t;
  }

  private async post(
    path: string,
    body: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Answer> {
    const timeout = AbortSignal.timeout(this.totalTimeout);
    try {
      return await this.send(path, body, headers, signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (err) {
      if (timeout.aborted && !signal?.aborted)
        throw Object.assign(new Error(`no complete answer within ${this.totalTimeout} ms`), {
          code: 'ROOMCOUNT_TIMEOUT',
        });
      throw err;
    }
  }

  private async send(
    path: string,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<Answer> {
    const res = await request(this.base + path, {
      method: 'POST',
      dispatcher: this.dispatcher,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': 'roomcount',
        ...headers,
      },
      body,
      headersTimeout: this.headersTimeout,
      bodyTimeout: this.bodyTimeout,
      signal,
    });
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    const limit = ok && path === '/v1/occupancy' ? MAX_SUCCESS_BODY : MAX_ERROR_BODY;
    const text = await readLimited(res.body, limit, res.headers['content-length']);
    return {
      status: res.statusCode,
      text: text ?? '',
      tooLarge: text === undefined,
      limit,
      headers: res.headers,
    };
  }

  /** A valid token, from cache unless it is within the refresh margin of its expiry (or `force`). */
  async getToken(opts: { force?: boolean; signal?: AbortSignal } = {}): Promise<string> {
    if (!opts.force && this.token && Date.now() < this.token.refreshAt) return this.token.value;
    if (opts.force) this.token = undefined;
    this.tokenPromise ??= this.fetchToken(opts.signal).finally(() => {
      this.tokenPromise = undefined;
    });
    const token = await this.tokenPromise;
    return token.value;
  }

  private async fetchToken(signal?: AbortSignal): Promise<Token> {
    const auth = this.auth;
    let path: string;
    let payload: string;
    if (auth.type === 'hmac') {
      const timestamp = Math.floor(Date.now() / 1000);
      path = '/v1/auth';
      payload = JSON.stringify({
        apiKey: auth.apiKey,
        timestamp,
        hash: hmacHash(auth.apiKey, auth.apiSecret, timestamp),
      });
    } else {
      path = '/v1/auth/token';
      payload = JSON.stringify({ client_id: auth.clientId, client_secret: auth.clientSecret });
    }
    const started = Date.now();
    let res: Answer;
    try {
      res = await this.post(path, payload, {}, signal);
    } catch (err) {
      throw new CalvenAuthError(`token request failed: ${this.clean(errorText(err))}`);
    }
    if (res.tooLarge) {
      throw new CalvenAuthError(
        `token request: HTTP ${res.status} with an answer over ${res.limit} bytes (not read)`,
        res.status,
      );
    }
    const json = parseJson(res.text);
    const obj = isObject(json) ? json : {};
    const serverMessage = typeof obj.message === 'string' ? this.clean(obj.message) : '';
    if (res.status < 200 || res.status >= 300) {
      const detail = serverMessage || this.clean(res.text) || 'no message';
      throw new CalvenAuthError(`token request: HTTP ${res.status}: ${detail}`, res.status);
    }
    if (obj.authenticated === false) {
      throw new CalvenAuthError(
        `token request: not authenticated: ${serverMessage || 'no message'}`,
        res.status,
      );
    }
    const value =
      typeof obj.token === 'string'
        ? obj.token
        : typeof obj.access_token === 'string'
          ? obj.access_token
          : '';
    if (value === '') throw new CalvenAuthError('token request: the answer has no token', res.status);

    const now = Date.now();
    const expiresAt =
      parseExpiration(obj.expiration, now) ??
      parseExpiration(obj.expires_in, started, true) ??
      parseExpiration(obj.expiresIn, started, true) ??
      now + DEFAULT_TOKEN_LIFETIME_MS;
    // Refresh `refreshMarginMs` early, but never earlier than half-way through the token's life: a short-lived
    // token (or a clock a bit off) must not make every request fetch a new one.
    const lifetime = Math.max(0, expiresAt - started);
    const refreshAt = expiresAt - Math.min(this.refreshMarginMs, lifetime / 2);
    const token: Token = { value, expiresAt, refreshAt };
    this.token = token;
    this.log.info(
      {
        auth: auth.type,
        expiresAt: new Date(expiresAt).toISOString(),
        lifetimeS: Math.round(lifetime / 1000),
      },
      'calven token obtained',
    );
    return token;
  }

  /**
   * POSTs one ready-made `{"sourceId","occupancyEvents":[...]}` body. A 401 gets one new token and one retry of the
   * same body. Never throws (except for programming errors): every failure is an outcome.
   */
  async postOccupancy(body: string, signal?: AbortSignal): Promise<PostOutcome> {
    for (let attempt = 0; ; attempt++) {
      let token: string;
      try {
        token = await this.getToken({ force: attempt > 0, signal });
      } catch (err) {
        const message = err instanceof CalvenAuthError ? err.message : this.clean(errorText(err));
        const status = err instanceof CalvenAuthError ? err.status : undefined;
        return { kind: 'retry', cause: 'auth', status, message };
      }
      let res: Answer;
      try {
        res = await this.post('/v1/occupancy', body, { authorization: `Bearer ${token}` }, signal);
      } catch (err) {
        return {
          kind: 'retry',
          cause: isTimeout(err) ? 'timeout' : 'network',
          message: this.clean(errorText(err)),
        };
      }
      const { status } = res;
      const overLimit = `HTTP ${status} with an answer over ${res.limit} bytes (not read)`;
      if (status >= 200 && status < 300) {
        // An answer too large to read, or not in the documented shape, says nothing about what was loaded.
        if (res.tooLarge) return { kind: 'malformed', status, message: overLimit };
        // The usual answer: parsed once, by readResults; no error text to build.
        const read = readResults(res.text);
        if ('malformed' in read) return { kind: 'malformed', status, message: read.malformed };
        const results = read.results.map((r) => ({ ...r, message: this.clean(r.message) }));
        return { kind: 'accepted', status, results };
      }
      const json = parseJson(res.text);
      const obj = isObject(json) ? json : undefined;
      const message = res.tooLarge
        ? overLimit
        : this.clean(
            typeof obj?.message === 'string' ? obj.message : res.text || `HTTP ${status} with an empty body`,
          );
      if (status === 401) {
        if (this.token?.value === token) this.token = undefined;
        if (attempt === 0) {
          this.log.info({ status }, 'calven answered 401; getting a new token');
          continue;
        }
        return { kind: 'retry', cause: 'auth', status, message: `HTTP 401 with a fresh token: ${message}` };
      }
      if (
        status === 408 ||
        status === 429 ||
        status >= 500 ||
        status < 200 ||
        (status >= 300 && status < 400)
      ) {
        return {
          kind: 'retry',
          cause: 'http',
          status,
          message: `HTTP ${status}: ${message}`,
          retryAfterMs: retryAfterMs(res.headers['retry-after']),
        };
      }
      return { kind: 'rejected', status, message };
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }
}
