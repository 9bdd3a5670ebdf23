import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A strict stand-in for Calven's Occupancy API on 127.0.0.1 (random port). It checks what the real API checks —
 * HMAC hash and clock skew, OAuth client credentials, expiring bearer tokens, Content-Type, the exact body shape —
 * and answers in the documented formats. Faults can be injected (503s, dropped connections, slow answers, tokens
 * expired at once, arbitrary statuses). It records every request and every event it loaded, so tests can assert
 * exactly-once delivery and order.
 */

export const TEST_HMAC = { apiKey: 'rc-test-key-5f2a', apiSecret: 'rc-test-SECRET-hmac-9d41c7e0' } as const;
export const TEST_OAUTH = {
  clientId: 'rc-test-client-77b1',
  clientSecret: 'rc-test-SECRET-oauth-3e8a5b12',
} as const;

const LOCATION_TYPES = new Set(['level', 'location', 'place', 'space', 'zone']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const EVENT_KEYS = new Set(['timestamp', 'locationId', 'locationType', 'eventId', 'occupied', 'occupancy']);
const MAX_BODY = 1 << 20;

export interface FakeCalvenOptions {
  hmac?: { apiKey: string; apiSecret: string };
  oauth?: { clientId: string; clientSecret: string };
  /** Token lifetime in seconds (fractions allowed). Default 3600. */
  tokenLifetimeSec?: number;
  /** How /v1/auth reports `expiration`: unix seconds (default) or an ISO string. */
  expirationFormat?: 'unix' | 'iso';
  /** How /v1/auth/token answers: `{access_token, expires_in}` (default) or `{token, expiration}`. */
  oauthStyle?: 'access_token' | 'token';
  /** Known locationIds; an event for any other gets resultCode 1. Undefined: every locationId is known. */
  locationIds?: Iterable<string>;
  /** Allowed |server time − HMAC timestamp| (s). Default 300. */
  maxSkewSec?: number;
}

export interface AcceptedEvent {
  sourceId: string;
  event: Record<string, unknown>;
  eventId: string;
  receivedAt: number;
  request: number;
}

export interface RecordedRequest {
  no: number;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  receivedAt: number;
  /** HTTP status sent, or what happened instead. */
  status: number | 'dropped' | 'aborted';
  /** Parsed JSON body (undefined if not JSON). */
  body: unknown;
  /** eventIds of an occupancy request (if the body had them). */
  eventIds?: string[];
}

type Json = Record<string, unknown>;

class BadRequest extends Error {}

export class FakeCalven {
  readonly accepted: AcceptedEvent[] = [];
  readonly requests: RecordedRequest[] = [];
  /** Every token handed out, so tests can check none of them reaches a log. */
  readonly issuedTokens: string[] = [];
  /** Events answered with a non-zero resultCode. */
  readonly rejected: { eventId: string; resultCode: number; message: string }[] = [];
  /** Delay before handling each request (ms). A client that gave up meanwhile gets nothing processed. */
  delayMs = 0;
  tokenLifetimeSec: number;
  expirationFormat: 'unix' | 'iso';
  oauthStyle: 'access_token' | 'token';
  locationIds: Set<string> | undefined;
  /** `absent`: 200 answers carry no `results` array. */
  resultsMode: 'all' | 'absent' = 'all';

  private readonly server: Server;
  private readonly hmac: { apiKey: string; apiSecret: string };
  private readonly oauth: { clientId: string; clientSecret: string };
  private readonly maxSkewSec: number;
  private readonly tokens = new Map<string, number>();
  private fail503Left = 0;
  private dropLeft = 0;
  private statusQueue: { status: number; message: string }[] = [];
  private rawQueue: { status: number; body: Buffer; contentType: string }[] = [];
  /** For each answer given by `answerNext`: whether the client read it to the end or cut it off. */
  readonly rawAnswers: ('finished' | 'cut')[] = [];
  private outageMode: '503' | 'drop' | undefined;
  private readonly omitOnce = new Set<string>();
  private seq = 0;
  url = '';

  private constructor(opts: FakeCalvenOptions) {
    this.hmac = opts.hmac ?? { ...TEST_HMAC };
    this.oauth = opts.oauth ?? { ...TEST_OAUTH };
    this.tokenLifetimeSec = opts.tokenLifetimeSec ?? 3600;
    this.expirationFormat = opts.expirationFormat ?? 'unix';
    this.oauthStyle = opts.oauthStyle ?? 'access_token';
    this.locationIds = opts.locationIds ? new Set(opts.locationIds) : undefined;
    this.maxSkewSec = opts.maxSkewSec ?? 300;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) this.json(res, 500, { message: String(err) });
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(opts: FakeCalvenOptions = {}): Promise<FakeCalven> {
    const fake = new FakeCalven(opts);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = fake.server.address() as AddressInfo;
    fake.url = `http://127.0.0.1:${port}`;
    return fake;
  }

  // ---- fault injection ----

  /** The next `n` requests (any path) get 503. */
  fail503(n: number): void {
    this.fail503Left += n;
  }
  /** The next `n` requests (any path) have their connection destroyed without an answer. */
  dropConnections(n: number): void {
    this.dropLeft += n;
  }
  /** The next requests (any path) get these statuses with `{message}`, one each. */
  failNext(status: number, n = 1, message = `injected HTTP ${status}`): void {
    for (let i = 0; i < n; i++) this.statusQueue.push({ status, message });
  }
  /** The next request (any path) gets exactly this answer, processing nothing. */
  answerNext(status: number, body: string | Buffer, contentType = 'application/json'): void {
    this.rawQueue.push({ status, body: Buffer.from(body), contentType });
  }
  /** Every request fails this way until `outage(undefined)`. */
  outage(mode: '503' | 'drop' | undefined): void {
    this.outageMode = mode;
  }
  /** All tokens issued so far are expired now: the next occupancy request with one gets 401. */
  expireAllTokens(): void {
    for (const t of this.tokens.keys()) this.tokens.set(t, 0);
  }
  /** The first request that carries this eventId leaves it unprocessed and out of `results`. */
  omitResultOnce(eventId: string): void {
    this.omitOnce.add(eventId.toLowerCase());
  }

  // ---- assertions helpers ----

  occupancyRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/v1/occupancy');
  }
  acceptedIds(): string[] {
    return this.accepted.map((a) => a.eventId);
  }
  statusCount(status: number | 'dropped' | 'aborted', path?: string): number {
    return this.requests.filter((r) => r.status === status && (path === undefined || r.path === path)).length;
  }

  /** Polls until `cond()` is true; throws with `what` after `timeoutMs`. */
  async until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`fake calven: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- server ----

  private json(res: ServerResponse, status: number, body: Json, rec?: RecordedRequest): void {
    if (rec) rec.status = status;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  private async readBody(req: IncomingMessage): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) return undefined;
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const rec: RecordedRequest = {
      no: ++this.seq,
      method: req.method ?? '',
      path,
      headers: req.headers,
      receivedAt,
      status: 0,
      body: undefined,
    };
    this.requests.push(rec);

    if (this.dropLeft > 0 || this.outageMode === 'drop') {
      if (this.dropLeft > 0) this.dropLeft--;
      rec.status = 'dropped';
      req.socket.destroy();
      return;
    }
    const text = await this.readBody(req);
    if (text !== undefined) {
      try {
        rec.body = JSON.parse(text) as unknown;
        const events = (rec.body as Json | undefined)?.occupancyEvents;
        if (Array.isArray(events)) rec.eventIds = events.map((e) => String((e as Json | null)?.eventId));
      } catch {
        rec.body = undefined;
      }
    }
    if (this.delayMs > 0) {
      await new Promise((r) => setTimeout(r, this.delayMs));
      if (res.destroyed || req.socket.destroyed) {
        rec.status = 'aborted';
        return;
      }
    }
    if (this.fail503Left > 0 || this.outageMode === '503') {
      if (this.fail503Left > 0) this.fail503Left--;
      return this.json(res, 503, { message: 'Service Unavailable' }, rec);
    }
    const raw = this.rawQueue.shift();
    if (raw) {
      rec.status = raw.status;
      res.writeHead(raw.status, { 'content-type': raw.contentType, 'content-length': raw.body.length });
      // Written in 64 KiB pieces, each once the socket has taken the last: a client that stops reading and closes
      // the connection leaves the rest unwritten.
      let finished = false;
      res.on('finish', () => (finished = true));
      res.on('close', () => this.rawAnswers.push(finished ? 'finished' : 'cut'));
      const write = async () => {
        for (let at = 0; at < raw.body.length && !res.destroyed; at += 65536) {
          const piece = raw.body.subarray(at, at + 65536);
          if (!res.write(piece)) await new Promise((r) => res.once('drain', r).once('close', r));
        }
        if (!res.destroyed) res.end();
      };
      void write();
      return;
    }
    const injected = this.statusQueue.shift();
    if (injected) return this.json(res, injected.status, { message: injected.message }, rec);

    if (text === undefined) return this.json(res, 413, { message: 'Payload too large' }, rec);
    if (req.method !== 'POST') return this.json(res, 405, { message: `${req.method} not allowed` }, rec);

    switch (path) {
      case '/v1/auth':
        return this.authHmac(req, res, text, rec);
      case '/v1/auth/token':
        return this.authOauth(req, res, text, rec);
      case '/v1/occupancy':
        return this.occupancy(req, res, text, rec);
      default:
        return this.json(res, 404, { message: `no route ${path}` }, rec);
    }
  }

  private isJson(req: IncomingMessage): boolean {
    const ct = (req.headers['content-type'] ?? '').toLowerCase();
    return ct === 'application/json' || ct.startsWith('application/json;');
  }

  private parseObject(text: string): Json {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new BadRequest('body is not valid JSON');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new BadRequest('body must be a JSON object');
    return v as Json;
  }

  private issueToken(): { token: string; expiresAtMs: number } {
    const token = randomBytes(24).toString('base64url');
    let expiresAtMs = Date.now() + this.tokenLifetimeSec * 1000;
    // Unix seconds cannot say more; the token really expires when the answer says it does.
    if (this.expirationFormat === 'unix') expiresAtMs = Math.floor(expiresAtMs / 1000) * 1000;
    this.tokens.set(token, expiresAtMs);
    this.issuedTokens.push(token);
    return { token, expiresAtMs };
  }

  private authHmac(req: IncomingMessage, res: ServerResponse, text: string, rec: RecordedRequest): void {
    const fail = (status: number, message: string) =>
      this.json(res, status, { authenticated: false, message }, rec);
    if (!this.isJson(req)) return fail(415, 'Content-Type must be application/json');
    let body: Json;
    try {
      body = this.parseObject(text);
    } catch (err) {
      return fail(400, (err as Error).message);
    }
    const keys = Object.keys(body).sort().join(',');
    if (keys !== 'apiKey,hash,timestamp')
      return fail(400, `expected exactly apiKey, timestamp, hash; got ${keys}`);
    const { apiKey, timestamp, hash } = body;
    if (typeof apiKey !== 'string' || typeof hash !== 'string')
      return fail(400, 'apiKey and hash must be strings');
    if (typeof timestamp !== 'number' || !Number.isInteger(timestamp)) {
      return fail(400, 'timestamp must be an integer (unix seconds)');
    }
    if (!/^[0-9a-f]{64}$/i.test(hash)) return fail(400, 'hash must be 64 hex digits');
    if (apiKey !== this.hmac.apiKey) return fail(401, 'Invalid API key');
    if (Math.abs(Date.now() / 1000 - timestamp) > this.maxSkewSec) return fail(401, 'timestamp out of range');
    const expected = createHmac('sha256', this.hmac.apiSecret)
      .update(apiKey + String(timestamp))
      .digest();
    if (!timingSafeEqual(expected, Buffer.from(hash, 'hex'))) return fail(401, 'Invalid hash');
    const { token, expiresAtMs } = this.issueToken();
    const expiration =
      this.expirationFormat === 'iso' ? new Date(expiresAtMs).toISOString() : Math.floor(expiresAtMs / 1000);
    this.json(res, 200, { authenticated: true, message: 'Authenticated', token, expiration }, rec);
  }

  private authOauth(req: IncomingMessage, res: ServerResponse, text: string, rec: RecordedRequest): void {
    if (!this.isJson(req))
      return this.json(res, 415, { message: 'Content-Type must be application/json' }, rec);
    let body: Json;
    try {
      body = this.parseObject(text);
    } catch (err) {
      return this.json(res, 400, { message: (err as Error).message }, rec);
    }
    const keys = Object.keys(body).sort().join(',');
    if (
      keys !== 'client_id,client_secret' ||
      typeof body.client_id !== 'string' ||
      typeof body.client_secret !== 'string'
    ) {
      return this.json(
        res,
        400,
        { message: `expected client_id and client_secret strings; got ${keys}` },
        rec,
      );
    }
    if (body.client_id !== this.oauth.clientId || body.client_secret !== this.oauth.clientSecret) {
      return this.json(res, 401, { message: 'invalid_client' }, rec);
    }
    const { token, expiresAtMs } = this.issueToken();
    if (this.oauthStyle === 'access_token') {
      this.json(
        res,
        200,
        {
          access_token: token,
          token_type: 'Bearer',
          expires_in: Math.round((expiresAtMs - Date.now()) / 1000),
        },
        rec,
      );
    } else {
      this.json(res, 200, { token, expiration: new Date(expiresAtMs).toISOString() }, rec);
    }
  }

  private occupancy(req: IncomingMessage, res: ServerResponse, text: string, rec: RecordedRequest): void {
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer (\S+)$/.exec(auth);
    const expiresAt = m ? this.tokens.get(m[1] ?? '') : undefined;
    if (expiresAt === undefined)
      return this.json(res, 401, { message: 'Unauthorized: missing or unknown token' }, rec);
    if (Date.now() >= expiresAt) return this.json(res, 401, { message: 'Unauthorized: token expired' }, rec);
    if (!this.isJson(req))
      return this.json(res, 415, { message: 'Content-Type must be application/json' }, rec);

    let body: Json;
    let events: Json[];
    try {
      body = this.parseObject(text);
      events = validateOccupancyBody(body);
    } catch (err) {
      if (err instanceof BadRequest) return this.json(res, 400, { message: err.message }, rec);
      throw err;
    }
    const sourceId = body.sourceId as string;
    const results: { eventId: string; resultCode: number; message: string }[] = [];
    for (const event of events) {
      const eventId = event.eventId as string;
      if (this.omitOnce.delete(eventId.toLowerCase())) continue;
      if (this.locationIds && !this.locationIds.has(event.locationId as string)) {
        const r = { eventId, resultCode: 1, message: `Location ${String(event.locationId)} not found` };
        this.rejected.push(r);
        results.push(r);
        continue;
      }
      this.accepted.push({ sourceId, event, eventId, receivedAt: rec.receivedAt, request: rec.no });
      results.push({ eventId, resultCode: 0, message: 'OK' });
    }
    const answer: Json = { sourceId, timestamp: new Date().toISOString() };
    if (this.resultsMode === 'all') answer.results = results;
    this.json(res, 200, answer, rec);
  }
}

/** The documented body, exactly; throws BadRequest naming the first problem. */
function validateOccupancyBody(body: Json): Json[] {
  const keys = Object.keys(body).sort().join(',');
  if (keys !== 'occupancyEvents,sourceId')
    throw new BadRequest(`expected exactly sourceId and occupancyEvents; got ${keys}`);
  if (typeof body.sourceId !== 'string' || body.sourceId === '')
    throw new BadRequest('sourceId must be a non-empty string');
  const events = body.occupancyEvents;
  if (!Array.isArray(events) || events.length < 1 || events.length > 100) {
    throw new BadRequest('occupancyEvents must be an array of 1..100 events');
  }
  const seen = new Set<string>();
  events.forEach((e: unknown, i) => {
    const at = `occupancyEvents[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e))
      throw new BadRequest(`${at} must be an object`);
    const ev = e as Json;
    for (const k of Object.keys(ev))
      if (!EVENT_KEYS.has(k)) throw new BadRequest(`${at}.${k} is not a known field`);
    const ts = ev.timestamp;
    if (typeof ts !== 'string' || !ISO_UTC.test(ts) || !Number.isFinite(Date.parse(ts))) {
      throw new BadRequest(`${at}.timestamp must be ISO-8601 UTC ending in Z`);
    }
    if (typeof ev.locationId !== 'string' || ev.locationId === '')
      throw new BadRequest(`${at}.locationId is required`);
    if (typeof ev.locationType !== 'string' || !LOCATION_TYPES.has(ev.locationType)) {
      throw new BadRequest(`${at}.locationType must be level, location, place, space or zone`);
    }
    if (typeof ev.eventId !== 'string' || !UUID.test(ev.eventId))
      throw new BadRequest(`${at}.eventId must be a UUID`);
    if (seen.has(ev.eventId.toLowerCase())) throw new BadRequest(`${at}.eventId is repeated in the request`);
    seen.add(ev.eventId.toLowerCase());
    if (typeof ev.occupied !== 'boolean') throw new BadRequest(`${at}.occupied must be a boolean`);
    if (ev.locationType === 'place') {
      if ('occupancy' in ev) throw new BadRequest(`${at}.occupancy is not accepted for a place`);
    } else {
      const n = ev.occupancy;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
        throw new BadRequest(`${at}.occupancy must be a non-negative integer`);
      }
      if (ev.occupied !== n > 0) throw new BadRequest(`${at}.occupied must equal occupancy > 0`);
    }
  });
  return events as Json[];
}
