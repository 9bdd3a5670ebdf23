import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { ANCHORS } from '../config/schema.js';
import { explainDetections, roomFilterFrom } from '../count/region.js';
import type { LiveRooms, Snapshot } from './live.js';
import { listen, type HttpServer } from '../http.js';
import { SETUP_PAGE } from './page.js';
import { EditError, needsOwnMinScore, renderRoomYaml, roundScore, type RoomEdit } from './yaml-edit.js';

/** Largest JSON body accepted (a region of a few hundred points is ~10 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;
const JPEG_QUALITY = 85;

export interface SetupServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Required as `?token=` on every request. */
  token: string;
  /** The config file (named on the page; saved to with `write`). */
  file: string;
  config: Config;
  live: LiveRooms;
  /** `showFrom`: the detector's own threshold here, below the file's minScore so that near misses show. */
  /** `minScore`: the detector's threshold (detector.minScore, or the model's own); boxes from `showFrom` are shown. */
  detector: { model: string; backend: string; showFrom: number; minScore: number };
  /** Camera URL to show for a room (credentials hidden). */
  cameraLabel: (roomId: string) => string;
  /** Set with --write: saves a room's edit, returns the config as loaded from the new file. */
  save?: (roomId: string, edit: RoomEdit) => { config: Config; changed: boolean };
}

export type SetupServer = HttpServer;

const point = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]);
const polygons = z.array(z.array(point).min(3, 'a polygon needs at least 3 points').max(1000)).max(100);
const editBody = z.strictObject({
  room: z.string(),
  /** The analysed frame the page shows; absent or null: the newest (the camera's latest frame analysed). */
  seq: z.number().int().nullish(),
  minScore: z.number().min(0).max(1),
  region: z.strictObject({ include: polygons, exclude: polygons, anchor: z.enum(ANCHORS) }),
});
type EditBody = z.infer<typeof editBody>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function tokenMatches(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpError(415, 'send JSON (content-type: application/json)');
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

function parseEdit(body: unknown): EditBody {
  const result = editBody.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new HttpError(400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return result.data;
}

const toEdit = (b: EditBody): RoomEdit => ({ region: b.region, minScore: b.minScore });

/** Security headers on every answer: nothing cached, nothing framed, no referrer (the URL holds the token). */
const BASE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** The page loads nothing from anywhere else: its script and style are inline, pictures come from this server. */
const PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra = {}): void {
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': type, ...extra });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

/**
 * The setup page's HTTP server: the page, each room's newest analysed frame as JPEG, and the recount and save
 * API. Every request needs the token; only GET and POST are answered. Frames are encoded on request and never
 * stored.
 */
export async function startSetupServer(opts: SetupServerOptions): Promise<SetupServer> {
  let config = opts.config;
  const threshold = opts.detector.minScore;
  const room = (id: string) => {
    const found = config.rooms.find((r) => r.id === id);
    if (!found || !opts.live.has(id)) throw new HttpError(404, `no room "${id}"`);
    return found;
  };

  /** The room's verdict on every detection of a frame, with the edit applied: the service's own filter code. */
  const recount = (body: EditBody, snapshot: Snapshot | undefined) => {
    const rc = room(body.room);
    const filter = roomFilterFrom({ ...rc, minScore: body.minScore, region: body.region }, threshold);
    const explained = snapshot ? explainDetections(snapshot.detections, filter, snapshot.frame) : [];
    return {
      frame: snapshot && {
        seq: snapshot.seq,
        width: snapshot.frame.width,
        height: snapshot.frame.height,
        capturedAt: snapshot.frame.capturedAt,
      },
      camera: opts.live.cameraState(body.room),
      count: snapshot ? explained.filter((e) => e.counted).length : null,
      detections: explained.map((e) => ({
        box: e.detection.box.map((v) => Math.round(v * 10) / 10),
        score: roundScore(e.detection.score),
        counted: e.counted,
        ...(e.reason && { reason: e.reason }),
      })),
      yaml: renderRoomYaml(toEdit(body), needsOwnMinScore(rc, body.minScore, threshold)),
    };
  };

  const roomsInfo = () => ({
    file: basename(opts.file),
    write: opts.save !== undefined,
    detector: opts.detector,
    rooms: config.rooms
      .filter((r) => opts.live.has(r.id))
      .map((r) => ({
        id: r.id,
        locationType: r.locationType,
        camera: opts.cameraLabel(r.id),
        minScore: Math.max(threshold, r.minScore ?? 0),
        region: {
          include: r.region.include,
          exclude: r.region.exclude,
          anchor: r.region.anchor,
        },
      })),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://setup.invalid');
    if (!tokenMatches(url.searchParams.get('token'), opts.token)) {
      throw new HttpError(403, 'forbidden: open the URL that roomcount setup printed (it holds the token)');
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.setHeader('allow', 'GET, POST');
      throw new HttpError(405, `method ${req.method} not allowed`);
    }
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /':
        return send(res, 200, 'text/html; charset=utf-8', SETUP_PAGE, {
          'content-security-policy': PAGE_CSP,
        });
      case 'GET /api/rooms':
        return sendJson(res, 200, roomsInfo());
      case 'GET /api/frame': {
        const id = url.searchParams.get('room') ?? '';
        room(id);
        const snapshot = opts.live.snapshot(id, Number(url.searchParams.get('seq')));
        if (!snapshot) throw new HttpError(404, 'that frame is gone; ask for the newest one');
        const { width, height, data } = snapshot.frame;
        const jpeg = await sharp(Buffer.from(data.buffer, data.byteOffset, data.length), {
          raw: { width, height, channels: 3 },
        })
          .jpeg({ quality: JPEG_QUALITY })
          .toBuffer();
        return send(res, 200, 'image/jpeg', jpeg);
      }
      case 'POST /api/recount': {
        const body = parseEdit(await readJson(req));
        room(body.room);
        const kept = body.seq != null ? opts.live.snapshot(body.room, body.seq) : undefined;
        return sendJson(res, 200, recount(body, kept ?? (await opts.live.newest(body.room))));
      }
      case 'POST /api/save': {
        if (!opts.save) throw new HttpError(404, 'saving is off: start roomcount setup with --write');
        const body = parseEdit(await readJson(req));
        room(body.room);
        try {
          const { config: next, changed } = opts.save(body.room, toEdit(body));
          config = next;
          const message = changed
            ? `Saved room ${body.room} to ${basename(opts.file)}.`
            : `${basename(opts.file)} already has this; nothing to change.`;
          const rc = room(body.room);
          const yaml = renderRoomYaml(toEdit(body), needsOwnMinScore(rc, body.minScore, threshold));
          return sendJson(res, 200, { ok: true, changed, message, yaml });
        } catch (err) {
          if (err instanceof EditError) throw new HttpError(409, err.message);
          throw err;
        }
      }
      default:
        throw new HttpError(404, `no ${route}`);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (res.headersSent) return res.destroy();
      // A refused body may still be arriving: close the connection after the answer instead of reading it.
      if (status === 413 || status === 415) res.setHeader('connection', 'close');
      sendJson(res, status, { error: message });
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return listen(server, opts.port, opts.host);
}
