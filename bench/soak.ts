/**
 * Soak (issue 11): `roomcount run` as a user runs it (a child process, `node --import tsx src/cli.ts run`), three
 * rooms at 1 frame/s over RTSP, reporting to a fake Calven on 127.0.0.1, for several minutes while faults are
 * injected one after another:
 *
 *   Calven answers 503 · Calven drops connections · Calven answers 25 s late (15 s past the client's 10 s timeout)
 *   · the OAuth tokens (30 s lifetime throughout) are revoked · kill -9 of the service and a restart · the camera
 *   servers killed and restarted · a SIGHUP reload with one room's minScore changed · a 120 s Calven outage
 *   · healthy to the end · SIGTERM.
 *
 * Each camera loops a clip rendered from people cut out of a bundled photo (test/helpers/people-clip.ts), with a
 * known count that changes every 60–90 s; a 15 s heartbeat keeps deliveries going, so that every fault meets some.
 * The faults come one after another with 15 s or more between them (more with a larger --minutes; the schedule
 * needs about 6 min, counted from the service's start). The camera servers are shared GStreamer pipelines kept
 * playing by a "keeper" client of the harness's own, so a clip runs on wall-clock time whoever connects: the true
 * count of a room at any moment follows from when its clip started (the keeper's media time says when).
 *
 * Measured, with targets (table on stdout, progress on stderr, exit 1 when a target fails):
 * - no stored event lost: every eventId ever committed to the outbox (an audit trigger on the outbox's pending
 *   table, added before the service first starts, records each insert in the same transaction) was accepted by
 *   Calven by the end;
 * - duplicates (eventIds accepted more than once) ≤ the number of crashes (kill -9);
 * - after every fault, Calven's newest event for each room equals the room's true count again within 40 s;
 * - staleness after the outage: from Calven healthy to the first accepted delivery (before the final SIGTERM,
 *   whose flush sends everything at once), and the longest wait between two tries during it (what the backoff
 *   lets staleness grow to), each ≤ 60 s;
 * - RSS of the service flat: VmRSS every 5 s, median of the first third vs the last third of the longest-lived
 *   service process;
 * - exit code 0 on the final SIGTERM.
 *
 * Needs ../shared/models (yolox_nano.onnx or rtmdet_nano_person.onnx; skips, exit 0, without it), ffmpeg and the
 * GStreamer RTSP server (see the README's Quick start).
 *
 *   npm run soak [-- --minutes 6] [--model yolox-nano|rtmdet-nano] [--keep]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Outbox, outboxPath } from '../src/report/calven/outbox.js';
import { FakeCalven, TEST_OAUTH } from '../test/helpers/fake-calven.js';
import { tempDir } from '../test/helpers/media.js';
import { renderPeopleClip, type Person } from '../test/helpers/people-clip.js';
import { childrenOf, startRtspServer, type RtspServer } from '../test/helpers/rtsp.js';
import { sharedWeights } from './shared.js';
import {
  agreementPct,
  calvenCountAt,
  duplicates,
  lostIds,
  recoverySeconds,
  rssGrowth,
  truthAt,
  type Accepted,
  type ClipOrigin,
  type RssSample,
  type TruthSegment,
} from './soak/analysis.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '6' },
    model: { type: 'string', default: 'yolox-nano' },
    keep: { type: 'boolean', default: false },
  },
});
const MODELS = ['yolox-nano', 'rtmdet-nano'] as const;
const MINUTES = Number(args.minutes);
const MODEL = args.model as (typeof MODELS)[number];
if (!(MINUTES > 0) || !(MODELS as readonly string[]).includes(MODEL)) {
  console.error('usage: npm run soak [-- --minutes 6] [--model yolox-nano|rtmdet-nano] [--keep]');
  process.exit(2);
}

// ---- targets and timings -------------------------------------------------------------------------------------

/** Calven must show every room's true count again this soon after a fault ends (s). */
const RECOVERY_TARGET_S = 40;
/** After the outage, the first delivery must come this soon (s): a minute, like the camera's backoff cap. */
const STALENESS_TARGET_S = 60;
/** VmRSS growth allowed between the first and last third of the run, % of the first third. */
const RSS_GROWTH_TARGET_PCT = 10;
/** The client's request timeout (src/report/calven.ts, 10 s per phase); late answers come 15 s after it. */
const CLIENT_TIMEOUT_MS = 10_000;
const LATE_ANSWER_MS = CLIENT_TIMEOUT_MS + 15_000;
const TOKEN_LIFETIME_S = 30;
const HEARTBEAT_S = 15;
const OUTAGE_S = 120;
const MIN_GAP_S = 15;
const MIN_TAIL_S = 45;
const RSS_EVERY_MS = 5000;
const FIRST_EVENTS_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 45_000;
const CLIP_FPS = 5;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const T0 = Date.now();
const progress = (msg: string) =>
  process.stderr.write(`[soak ${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- rooms and their clips -----------------------------------------------------------------------------------

const WHO: Record<number, readonly Person[]> = {
  0: [],
  1: ['stool'],
  2: ['red', 'figure'],
  3: ['red', 'stool', 'figure'],
};

interface RoomPlan {
  id: string;
  locationId: string;
  /** The clip, looped by the camera: [count, seconds] per stretch, each 60–90 s. */
  segments: TruthSegment[];
}

const plan = (id: string, n: number, stretches: [number, number][]): RoomPlan => ({
  id,
  locationId: `5043a7f1-0000-4000-8000-00000000000${n}`,
  segments: stretches.map(([count, seconds]) => ({ count, seconds })),
});
const ROOMS: RoomPlan[] = [
  plan('soak-a', 1, [
    [2, 70],
    [0, 85],
    [3, 60],
    [1, 90],
    [2, 75],
    [0, 80],
  ]),
  plan('soak-b', 2, [
    [1, 85],
    [3, 65],
    [0, 75],
    [2, 60],
    [3, 90],
    [1, 70],
  ]),
  plan('soak-c', 3, [
    [3, 60],
    [1, 90],
    [2, 70],
    [0, 80],
    [1, 65],
    [3, 85],
  ]),
];

/** Renders the room's clip and re-encodes it as the raw H.264 the RTSP server loops, a key frame every second. */
async function renderClip(room: RoomPlan, dir: string): Promise<string> {
  const roomDir = join(dir, room.id);
  mkdirSync(roomDir);
  const mp4 = join(roomDir, 'clip.mp4');
  await renderPeopleClip(
    mp4,
    room.segments.map((s) => ({ seconds: s.seconds, people: WHO[s.count]! })),
  );
  const h264 = join(roomDir, 'clip.h264');
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-i', mp4],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'],
    ...['-g', String(CLIP_FPS), '-keyint_min', String(CLIP_FPS), '-sc_threshold', '0', '-bf', '0'],
    ...['-bsf:v', 'h264_mp4toannexb', '-f', 'h264', h264],
  ]);
  return h264;
}

// ---- cameras: a shared RTSP pipeline kept playing by a keeper client ------------------------------------------

class Camera {
  server: RtspServer | undefined;
  keeper: ChildProcess | undefined;
  port = 0;
  readonly origins: ClipOrigin[] = [];
  readonly downs: { from: number; to: number }[] = [];

  constructor(
    readonly room: RoomPlan,
    readonly file: string,
  ) {}

  get url(): string {
    return `rtsp://127.0.0.1:${this.port}/${this.room.id}`;
  }

  async start(): Promise<void> {
    this.server = await startRtspServer({
      file: this.file,
      port: this.port,
      mount: `/${this.room.id}`,
      fps: CLIP_FPS,
      shared: true,
    });
    this.port = this.server.port;
    const origin: ClipOrigin = { from: Date.now(), origin: Number.POSITIVE_INFINITY };
    this.origins.push(origin);
    // The keeper copies the stream to nowhere (no decoding) and prints its media time: arrival − media time, at
    // its smallest, is when the clip started.
    const keeper = spawn(
      'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', this.url],
        ...['-map', '0', '-c', 'copy', '-f', 'null', '-progress', 'pipe:1', '-stats_period', '0.5', '-'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.keeper = keeper;
    let buf = '';
    keeper.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^out_time_us=(\d+)$/.exec(line.trim());
        if (m) origin.origin = Math.min(origin.origin, Date.now() - Number(m[1]) / 1000);
      }
    });
    keeper.stderr!.resume();
    keeper.once('exit', (code, signal) => {
      if (this.keeper === keeper)
        progress(`WARNING: ${this.room.id}: keeper client exited (${code ?? signal})`);
    });
    const end = Date.now() + 15_000;
    while (!Number.isFinite(origin.origin)) {
      if (Date.now() > end)
        throw new Error(`${this.room.id}: the keeper client got no media from ${this.url}`);
      await sleep(100);
    }
  }

  /** kill -9 of the server (and the keeper with it, which would otherwise wait for its timeout). */
  kill(): void {
    this.downs.push({ from: Date.now(), to: Number.POSITIVE_INFINITY });
    const keeper = this.keeper;
    this.keeper = undefined;
    keeper?.kill('SIGKILL');
    this.server?.kill('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.server?.stop();
    await this.start();
    this.downs.at(-1)!.to = Date.now();
  }

  async stop(): Promise<void> {
    const keeper = this.keeper;
    this.keeper = undefined;
    keeper?.kill('SIGKILL');
    await this.server?.stop();
  }
}

// ---- the service, as a user runs it ----------------------------------------------------------------------------

class ServiceProcess {
  child: ChildProcess | undefined;
  exitCode: number | null | undefined;
  exitSignal: NodeJS.Signals | null = null;
  readonly loggedEventIds = new Set<string>();
  readonly rss: RssSample[] = [];
  starts = 0;
  private readonly log;
  private sampler: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly configFile: string,
    logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  start(): void {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'run', '--config', this.configFile],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          LOG_FORMAT: 'json',
          LOG_LEVEL: 'info',
          SOAK_CLIENT_SECRET: TEST_OAUTH.clientSecret,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.starts++;
    this.exitCode = undefined;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      }),
    );
    let buf = '';
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      buf += chunk.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('occupancy event')) continue;
        try {
          const rec = JSON.parse(line) as { msg?: string; eventId?: string };
          if (rec.msg === 'occupancy event' && rec.eventId)
            this.loggedEventIds.add(rec.eventId.toLowerCase());
        } catch {
          // not a JSON log line
        }
      }
    });
    clearInterval(this.sampler);
    const pid = child.pid!;
    const sample = () => {
      if (this.child !== child || this.exitCode !== undefined) return;
      try {
        const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) this.rss.push({ pid, at: Date.now(), kib: Number(m[1]) });
      } catch {
        // gone
      }
    };
    this.sampler = setInterval(sample, RSS_EVERY_MS);
  }

  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child!.kill(sig);
  }

  /** Waits for the exit; false after `ms`. */
  async waitExit(ms: number): Promise<boolean> {
    return Promise.race([this.exited.then(() => true), sleep(ms).then(() => false)]);
  }

  async close(): Promise<void> {
    clearInterval(this.sampler);
    if (this.running) {
      this.child!.kill('SIGKILL');
      await this.waitExit(5000);
    }
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }
}

// ---- config ------------------------------------------------------------------------------------------------

function writeConfig(
  file: string,
  fake: FakeCalven,
  cameras: Camera[],
  modelPath: string,
  bump = false,
): void {
  const lines = [
    'sourceId: roomcount-soak',
    'sink: calven',
    'calven:',
    `  baseUrl: ${fake.url}`,
    `  auth: { type: oauth, clientId: ${TEST_OAUTH.clientId}, clientSecret: "\${SOAK_CLIENT_SECRET}" }`,
    `detector: { model: ${MODEL}, modelPath: ${JSON.stringify(modelPath)}, tiles: off }`,
    'stateDir: ./state',
    'http: { port: 0 }',
    // A heartbeat keeps deliveries going, so every fault meets some (changes alone come every ~25 s).
    `defaults: { sampleFps: 1, heartbeatSeconds: ${HEARTBEAT_S}, locationType: space, minScore: 0.3 }`,
    'rooms:',
    ...cameras.flatMap((c, i) => [
      `  - id: ${c.room.id}`,
      `    locationId: ${c.room.locationId}`,
      `    camera: { url: ${c.url} }`,
      // The SIGHUP reload changes the last room's minScore: that room restarts, the others carry on.
      ...(bump && i === cameras.length - 1 ? ['    minScore: 0.35'] : []),
    ]),
  ];
  writeFileSync(file, lines.join('\n') + '\n');
}

const AUDIT_TABLE = 'soak_audit';

/**
 * Creates the outbox as the service would (its own Outbox class) and adds an audit table that a trigger fills in
 * the same transaction as every insert into `pending`: the complete list of events ever stored, even those
 * delivered and deleted a moment later. False if the outbox's schema has no `pending` table to watch.
 */
function installAudit(stateDir: string): boolean {
  Outbox.open(stateDir).close();
  const db = new Database(outboxPath(stateDir));
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS ${AUDIT_TABLE} (event_id TEXT PRIMARY KEY, room_id TEXT, stored_at INTEGER);
      CREATE TRIGGER IF NOT EXISTS ${AUDIT_TABLE}_insert AFTER INSERT ON pending BEGIN
        INSERT OR IGNORE INTO ${AUDIT_TABLE} VALUES (NEW.event_id, NEW.room_id, NEW.created_at);
      END;`);
    return true;
  } catch (err) {
    progress(`WARNING: cannot add the outbox audit trigger (${(err as Error).message}); using the log lines`);
    return false;
  } finally {
    db.close();
  }
}

interface StoredEvents {
  audited: { eventId: string; roomId: string; storedAt: number }[];
  pending: string[];
  dead: string[];
}

function readOutbox(stateDir: string, audited: boolean): StoredEvents {
  const db = new Database(outboxPath(stateDir), { readonly: true });
  try {
    const ids = (sql: string) => (db.prepare(sql).all() as { id: string }[]).map((r) => r.id.toLowerCase());
    return {
      audited: audited
        ? (
            db.prepare(`SELECT event_id, room_id, stored_at FROM ${AUDIT_TABLE}`).all() as {
              event_id: string;
              room_id: string;
              stored_at: number;
            }[]
          ).map((r) => ({ eventId: r.event_id.toLowerCase(), roomId: r.room_id, storedAt: r.stored_at }))
        : [],
      pending: ids('SELECT event_id AS id FROM pending'),
      dead: ids('SELECT event_id AS id FROM dead_letter'),
    };
  } finally {
    db.close();
  }
}

// ---- the fault schedule --------------------------------------------------------------------------------------

interface Fault {
  name: string;
  /** Seconds the fault lasts (0: a single act). */
  seconds: number;
  begin(): Promise<void> | void;
  end?(): Promise<void> | void;
  crash?: boolean;
}

interface FaultRun {
  name: string;
  start: number;
  end: number;
  crash: boolean;
}

// ---- main ----------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const weights = sharedWeights(MODEL, ROOT);
  if ('missing' in weights) {
    const msg = `skipped: ${weights.missing}; the soak needs the ${MODEL} weights`;
    progress(msg);
    console.log(msg);
    return;
  }
  const modelPath = weights.path;
  const tmp = tempDir('roomcount-soak-');
  const configFile = join(tmp.dir, 'roomcount.yaml');
  const stateDir = join(tmp.dir, 'state');
  const logFile = join(tmp.dir, 'service.log');
  let fake: FakeCalven | undefined;
  const cameras: Camera[] = [];
  let service: ServiceProcess | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    progress('interrupted: stopping');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const wait = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (interrupted) throw new Error('interrupted');
      await sleep(Math.min(250, end - Date.now()));
    }
  };

  try {
    progress(`rendering ${ROOMS.length} clips (640x360, ${CLIP_FPS} fps, counts change every 60–90 s)`);
    for (const room of ROOMS) cameras.push(new Camera(room, await renderClip(room, tmp.dir)));
    await Promise.all(cameras.map((cam) => cam.start()));
    progress(`cameras: ${cameras.map((c) => c.url).join(' ')}`);
    fake = await FakeCalven.start({ tokenLifetimeSec: TOKEN_LIFETIME_S });
    progress(`fake Calven ${fake.url} (OAuth, ${TOKEN_LIFETIME_S} s tokens)`);
    writeConfig(configFile, fake, cameras, modelPath);
    mkdirSync(stateDir);
    const audited = installAudit(stateDir);

    service = new ServiceProcess(configFile, logFile);
    const svc = service;
    const f = fake;
    svc.start();
    const serviceStart = Date.now();
    progress(`roomcount run started (pid ${svc.child!.pid}, ${MODEL}, 3 rooms at 1 fps); log: ${logFile}`);
    const firstEventsBy = Date.now() + FIRST_EVENTS_TIMEOUT_MS;
    while (!ROOMS.every((r) => f.accepted.some((a) => a.event.locationId === r.locationId))) {
      if (!svc.running)
        throw new Error(`roomcount run exited (${svc.exitCode}) before its first events; see ${logFile}`);
      if (Date.now() > firstEventsBy)
        throw new Error(`no event from every room within 120 s; see ${logFile}`);
      await wait(500);
    }
    progress('every room has reported; starting the faults');

    let orphans: number[] = [];
    const faults: Fault[] = [
      { name: 'Calven 503s', seconds: 12, begin: () => f.outage('503'), end: () => f.outage(undefined) },
      {
        name: 'dropped connections',
        seconds: 12,
        begin: () => f.outage('drop'),
        end: () => f.outage(undefined),
      },
      {
        name: `answers ${LATE_ANSWER_MS / 1000} s late`,
        seconds: 25,
        begin: () => void (f.delayMs = LATE_ANSWER_MS),
        end: () => void (f.delayMs = 0),
      },
      { name: 'OAuth tokens revoked', seconds: 0, begin: () => f.expireAllTokens() },
      {
        name: 'kill -9 + restart',
        seconds: 2,
        crash: true,
        begin: async () => {
          const kids = childrenOf(svc.child!.pid!);
          svc.signal('SIGKILL');
          await svc.waitExit(5000);
          orphans = kids;
        },
        end: () => svc.start(),
      },
      {
        name: 'camera servers killed',
        seconds: 10,
        begin: () => cameras.forEach((c) => c.kill()),
        end: async () => void (await Promise.all(cameras.map((c) => c.restart()))),
      },
      {
        name: 'SIGHUP reload',
        seconds: 0,
        begin: () => {
          writeConfig(configFile, f, cameras, modelPath, true);
          svc.signal('SIGHUP');
        },
      },
      {
        name: `Calven outage ${OUTAGE_S} s`,
        seconds: OUTAGE_S,
        begin: () => f.outage('503'),
        end: () => f.outage(undefined),
      },
    ];
    const busy = faults.reduce((s, x) => s + x.seconds, 0);
    // --minutes counts from the service's start (rendering the clips is not part of the soak).
    const left = MINUTES * 60 - (Date.now() - serviceStart) / 1000 - busy;
    const gap = Math.max(MIN_GAP_S, (left - MIN_TAIL_S) / faults.length);
    const tail = Math.max(MIN_TAIL_S, left - gap * faults.length);
    const planned = ((Date.now() - serviceStart) / 1000 + busy + gap * faults.length + tail) / 60;
    progress(
      `schedule: ${faults.length} faults (${busy} s), ${gap.toFixed(0)} s before each, ${tail.toFixed(0)} s healthy ` +
        `at the end: ${planned.toFixed(1)} min in all` +
        (planned > MINUTES + 0.2 ? ` (longer than --minutes ${MINUTES}: the faults need it)` : ''),
    );

    const runs: FaultRun[] = [];
    const report = () =>
      progress(
        `  ${f.accepted.length} events accepted, ${f.requests.length} requests; service RSS ` +
          `${((svc.rss.at(-1)?.kib ?? 0) / 1024).toFixed(0)} MiB`,
      );
    for (const fault of faults) {
      await wait(gap * 1000);
      report();
      progress(`fault: ${fault.name}${fault.seconds ? ` (${fault.seconds} s)` : ''}`);
      const start = Date.now();
      await fault.begin();
      await wait(fault.seconds * 1000);
      await fault.end?.();
      runs.push({ name: fault.name, start, end: Date.now(), crash: fault.crash ?? false });
      progress(`  ${fault.name}: over`);
      if (orphans.length) {
        await sleep(3000);
        const alive = orphans.filter((pid) => {
          try {
            process.kill(pid, 0);
            return true;
          } catch {
            return false;
          }
        });
        if (alive.length) {
          progress(`WARNING: ${alive.length} ffmpeg of the killed service still running: ${alive.join(' ')}`);
          for (const pid of alive) process.kill(pid, 'SIGKILL');
        }
        orphans = [];
      }
    }
    await wait(tail * 1000);
    report();
    const runEnd = Date.now();

    progress('SIGTERM');
    svc.signal('SIGTERM');
    const stopped = await svc.waitExit(STOP_TIMEOUT_MS);
    const exit = stopped ? (svc.exitCode ?? svc.exitSignal) : 'still running after 45 s';
    progress(`roomcount run exited: ${exit}`);

    // ---- measure ----
    const outbox = readOutbox(stateDir, audited);
    const stored = audited ? outbox.audited.map((a) => a.eventId) : [...svc.loggedEventIds];
    const acceptedIds = f.acceptedIds().map((id) => id.toLowerCase());
    const lost = lostIds(stored, acceptedIds);
    const dups = duplicates(acceptedIds);
    const crashes = runs.filter((r) => r.crash).length;
    const notStored = [...svc.loggedEventIds].filter((id) => !stored.includes(id));
    const accepted: Accepted[] = f.accepted.map((a) => ({
      eventId: a.eventId.toLowerCase(),
      locationId: String(a.event.locationId),
      timestamp: Date.parse(String(a.event.timestamp)),
      occupancy: Number(a.event.occupancy),
      receivedAt: a.receivedAt,
    }));
    const truthOf = (cam: Camera) => (at: number) => truthAt(cam.room.segments, cam.origins, cam.downs, at);
    const calvenOf = (cam: Camera) => (at: number) => calvenCountAt(accepted, cam.room.locationId, at);

    const recovery = runs.map((run) => {
      const perRoom = cameras.map((cam) => recoverySeconds(truthOf(cam), calvenOf(cam), run.end, runEnd));
      const changes = cameras.reduce((n, cam) => {
        const truth = truthOf(cam);
        let c = 0;
        for (let t = run.start; t < run.end; t += 1000) {
          const [now, next] = [truth(t), truth(t + 1000)];
          if (now !== undefined && next !== undefined && now !== next) c++;
        }
        return n + c;
      }, 0);
      const posts = f.requests.filter((q) => q.receivedAt >= run.start && q.receivedAt <= run.end).length;
      const worst = perRoom.some((s) => s === undefined) ? undefined : Math.max(...(perRoom as number[]));
      return { run, perRoom, worst, changes, posts };
    });
    const outage = runs.at(-1)!;
    // Up to the final SIGTERM: the shutdown flush delivers everything at once, which says nothing of the backoff.
    const firstAfter = accepted
      .filter((a) => a.receivedAt >= outage.end && a.receivedAt < runEnd)
      .sort((a, b) => a.receivedAt - b.receivedAt)[0];
    const staleness = firstAfter ? (firstAfter.receivedAt - outage.end) / 1000 : undefined;
    // The longest wait between two tries during the outage, up to the first delivery after it (or SIGTERM):
    // what the backoff lets staleness grow to, whatever the phase of the last wait when Calven came back.
    const until = firstAfter?.receivedAt ?? runEnd;
    const tries = [
      ...f.requests.map((q) => q.receivedAt).filter((at) => at >= outage.start && at < until),
      until,
    ].sort((a, b) => a - b);
    const longestWait = Math.max(0, ...tries.slice(1).map((at, i) => (at - tries[i]!) / 1000));
    const rss = rssGrowth(svc.rss);
    const agreement = cameras.map((cam) => agreementPct(truthOf(cam), calvenOf(cam), runs[0]!.start, runEnd));

    // ---- print ----
    const rows: [string, string, string, boolean][] = [];
    const row = (what: string, measured: string, target: string, ok: boolean) =>
      rows.push([what, measured, target, ok]);
    row(
      'stored events lost',
      `${lost.length} of ${stored.length}` +
        (lost.length
          ? ` (${lost.filter((id) => outbox.pending.includes(id)).length} still pending, ` +
            `${lost.filter((id) => outbox.dead.includes(id)).length} dead-lettered)`
          : ''),
      '0',
      lost.length === 0 && stored.length > 0,
    );
    row(
      'duplicate deliveries',
      `${dups.size} eventId(s) accepted twice or more`,
      `≤ ${crashes} (crashes)`,
      dups.size <= crashes,
    );
    for (const r of recovery) {
      row(
        `follows the truth after: ${r.run.name}`,
        `${r.worst === undefined ? 'never' : `${r.worst.toFixed(1)} s`} (rooms ${r.perRoom
          .map((s) => (s === undefined ? '—' : s.toFixed(0)))
          .join('/')}; during it ${r.changes} change(s), ${r.posts} request(s))`,
        `≤ ${RECOVERY_TARGET_S} s`,
        r.worst !== undefined && r.worst <= RECOVERY_TARGET_S,
      );
    }
    row(
      'staleness after the outage',
      staleness === undefined
        ? `none in the ${((runEnd - outage.end) / 1000).toFixed(0)} s before SIGTERM`
        : `${staleness.toFixed(1)} s to the first delivery`,
      `≤ ${STALENESS_TARGET_S} s`,
      staleness !== undefined && staleness <= STALENESS_TARGET_S,
    );
    row(
      'longest wait between tries (outage)',
      firstAfter ? `${longestWait.toFixed(1)} s` : `≥ ${longestWait.toFixed(1)} s (still waiting at SIGTERM)`,
      `≤ ${STALENESS_TARGET_S} s`,
      longestWait <= STALENESS_TARGET_S,
    );
    row(
      'service RSS growth',
      rss
        ? `${rss.firstMiB.toFixed(0)} → ${rss.lastMiB.toFixed(0)} MiB (${rss.growthPct >= 0 ? '+' : ''}` +
            `${rss.growthPct.toFixed(1)} %, ${rss.minutes.toFixed(1)} min of pid ${rss.pid})`
        : 'too few samples',
      `≤ ${RSS_GROWTH_TARGET_PCT} %`,
      rss !== undefined && rss.growthPct <= RSS_GROWTH_TARGET_PCT,
    );
    row('exit code on the final SIGTERM', String(exit), '0', exit === 0);

    const minutes = ((runEnd - serviceStart) / 60_000).toFixed(1);
    console.log(
      `roomcount soak: ${ROOMS.length} rooms at 1 fps over RTSP, ${MODEL}, fake Calven (OAuth, ${TOKEN_LIFETIME_S} s ` +
        `tokens), ${runs.length} faults, ${minutes} min`,
    );
    const header: [string, string, string, string] = ['target', 'measured', 'wanted', 'result'];
    const cells = [header, ...rows.map(([a, b, c, ok]) => [a, b, c, ok ? 'ok' : 'FAIL'])];
    const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
    for (const r of cells.slice(1)) console.log(line(r));
    console.log(
      `events: ${stored.length} stored (${audited ? 'outbox audit trigger' : 'log lines'}), ${acceptedIds.length} ` +
        `accepted, ${outbox.pending.length} pending and ${outbox.dead.length} dead-lettered at the end; ` +
        `${notStored.length} logged but never stored; ${f.requests.length} requests to Calven ` +
        `(${f.statusCount(503)} × 503, ${f.statusCount('dropped')} dropped, ${f.statusCount('aborted')} given up by ` +
        `the client, ${f.statusCount(401)} × 401, ${f.issuedTokens.length} tokens issued)`,
    );
    console.log(
      `Calven showed the true count ${cameras.map((c, i) => `${c.room.id} ${agreement[i]!.toFixed(0)} %`).join(', ')} ` +
        'of the time from the first fault on (camera up)',
    );
    if (firstAfter) {
      const pendingAtEnd = accepted.filter((a) => a.timestamp < outage.end && a.receivedAt >= outage.end);
      const last = Math.max(...pendingAtEnd.map((a) => a.receivedAt), outage.end);
      console.log(
        `after the outage: ${pendingAtEnd.length} waiting event(s) delivered by ` +
          `${((last - outage.end) / 1000).toFixed(1)} s after Calven was healthy`,
      );
    }
    const failed = rows.filter((r) => !r[3]).length;
    console.log(failed ? `${failed} target(s) FAILED` : 'every target met');
    if (failed) process.exitCode = 1;
    if (args.keep) {
      // What the numbers were computed from, for a closer look: one line per second and room.
      const timeline = ['at_ms,room,truth,calven'];
      for (let t = serviceStart; t <= runEnd; t += 1000)
        for (const cam of cameras)
          timeline.push(
            `${t - serviceStart},${cam.room.id},${truthOf(cam)(t) ?? ''},${calvenOf(cam)(t) ?? ''}`,
          );
      writeFileSync(join(tmp.dir, 'timeline.csv'), timeline.join('\n') + '\n');
      writeFileSync(
        join(tmp.dir, 'soak.json'),
        JSON.stringify(
          {
            serviceStart,
            runEnd,
            runs,
            cameras: cameras.map((c) => ({ room: c.room.id, origins: c.origins, downs: c.downs })),
            accepted,
          },
          null,
          1,
        ),
      );
      progress(`kept ${tmp.dir} (timeline.csv, soak.json, service.log)`);
    }
  } finally {
    await service?.close();
    for (const cam of cameras) await cam.stop();
    await fake?.close();
    if (!args.keep) tmp.cleanup();
  }
}

main().catch((err: unknown) => {
  progress(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
