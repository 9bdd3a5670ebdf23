import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegCamera, type CameraOptions, type CameraState } from '../src/camera/ffmpeg.js';
import { tempDir } from './helpers/media.js';
import { childrenOf, commandLineOf, makeH264Clip, startRtspServer, type RtspServer } from './helpers/rtsp.js';

const USER = 'alice';
const PASSWORD = 'letmein-7431';
const WRONG_PASSWORD = 'guessed-9902';
/** Everything that needs care on the way to ffmpeg: "/", space, "@" (percent-encoded in the URL), a raw "'". */
const HARD_PASSWORD = "p/w d@x'q-5518";

const base = {
  transport: 'tcp' as const,
  loop: false,
  sampleFps: 5,
  limit: { shortSide: 320, longSide: 320 },
  watchdogSeconds: 3,
  backoff: { initialMs: 200, maxMs: 1000, healthyMs: 60_000 },
  killGraceMs: 500,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
  return Date.now() - t0;
}

/** Everything a camera emitted, without keeping pixels. */
function record(camera: FfmpegCamera) {
  const rec = {
    states: [] as CameraState[],
    details: [] as string[],
    frames: [] as number[],
    sizes: new Set<string>(),
    hashes: [] as string[],
  };
  camera.on('state', (state, detail) => {
    rec.states.push(state);
    rec.details.push(detail);
  });
  camera.on('frame', (f) => {
    rec.frames.push(f.capturedAt);
    rec.sizes.add(`${f.width}x${f.height}`);
    rec.hashes.push(createHash('sha1').update(f.data).digest('hex'));
  });
  return rec;
}

describe('FfmpegCamera over RTSP (GStreamer test server on 127.0.0.1)', () => {
  const tmp = tempDir();
  const servers: RtspServer[] = [];
  const serverPids = new Set<number>();
  const cameras: FfmpegCamera[] = [];
  let clip = '';
  let plain: RtspServer;
  let secured: RtspServer;

  async function server(opts: Parameters<typeof startRtspServer>[0]): Promise<RtspServer> {
    const s = await startRtspServer(opts);
    servers.push(s);
    serverPids.add(s.pid);
    return s;
  }
  function camera(opts: Partial<CameraOptions> & { url: string }): FfmpegCamera {
    const c = new FfmpegCamera({ ...base, ...opts });
    cameras.push(c);
    return c;
  }
  /** Children of this test process other than RTSP servers: ffmpeg processes, live or zombie. */
  const ffmpegChildren = () => childrenOf(process.pid).filter((pid) => !serverPids.has(pid));

  beforeAll(async () => {
    clip = makeH264Clip(join(tmp.dir, 'clip.h264'), {
      width: 640,
      height: 360,
      fps: 10,
      seconds: 4,
      gop: 10,
    });
    [plain, secured] = await Promise.all([
      server({ file: clip }),
      server({ file: clip, user: USER, password: PASSWORD }),
    ]);
  });

  afterEach(async () => {
    await Promise.all(cameras.splice(0).map((c) => c.stop()));
    expect(ffmpegChildren()).toEqual([]);
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    tmp.cleanup();
    expect(childrenOf(process.pid)).toEqual([]);
  });

  it('delivers timestamped, scaled frames; stop() leaves no ffmpeg behind', async () => {
    const cam = camera({ url: plain.url });
    const rec = record(cam);
    const t0 = Date.now();
    cam.start();
    expect(cam.state).toBe('connecting');
    await waitFor('8 frames', () => rec.frames.length >= 8, 10_000);
    expect(cam.state).toBe('streaming');
    expect(cam.pid).toBeGreaterThan(0);
    expect(ffmpegChildren()).toEqual([cam.pid]);
    expect([...rec.sizes]).toEqual(['320x180']);
    expect(rec.frames[0]).toBeGreaterThanOrEqual(t0);
    expect(cam.lastFrameAt).toBe(rec.frames.at(-1));
    // 5 fps from a live 10 fps stream: ~200 ms apart once the first ones (buffered while probing) are out.
    expect(rec.frames[7]! - rec.frames[4]!).toBeGreaterThan(450);

    await cam.stop();
    expect(ffmpegChildren()).toEqual([]);
    expect(rec.states).toEqual(['streaming', 'stopped']);
    expect(cam.pid).toBeUndefined();
  });

  it('server dies and comes back on the same port: unreachable (once), then streaming again', async () => {
    const own = await server({ file: clip });
    const cam = camera({ url: own.url });
    const rec = record(cam);
    cam.start();
    await waitFor('streaming', () => cam.state === 'streaming', 10_000);

    own.kill('SIGKILL');
    await waitFor('unreachable', () => cam.state === 'unreachable', 2000); // ffmpeg exits 0 within ~150 ms
    const framesDuringOutage = rec.frames.length;
    const spawnsAtOutage = cam.spawns;
    await sleep(1500); // several failed retries ("Connection refused"): none of them may show
    expect(cam.spawns).toBeGreaterThan(spawnsAtOutage);
    expect(rec.states).toEqual(['streaming', 'unreachable']);

    await server({ file: clip, port: own.port });
    await waitFor('frames again', () => rec.frames.length > framesDuringOutage + 2, 10_000);
    expect(rec.states).toEqual(['streaming', 'unreachable', 'streaming']);
  });

  it('server frozen (SIGSTOP): stalled within the watchdog time, ffmpeg killed; thawed: streaming again', async () => {
    const own = await server({ file: clip });
    const cam = camera({ url: own.url, watchdogSeconds: 2 });
    const rec = record(cam);
    cam.start();
    await waitFor('streaming', () => cam.state === 'streaming', 10_000);
    const stuck = cam.pid!;

    own.kill('SIGSTOP');
    const frozenAt = Date.now();
    await waitFor('stalled', () => cam.state === 'stalled', 4000);
    expect(Date.now() - (cam.lastFrameAt ?? 0)).toBeGreaterThanOrEqual(1900);
    // The frozen ffmpeg is gone. Blocked on the silent socket it ignores SIGTERM: this needs the SIGKILL.
    await waitFor('stuck ffmpeg to exit', () => !childrenOf(process.pid).includes(stuck), 2000);
    // Retries meanwhile hang too (the kernel still accepts connections) and are killed by the watchdog: silent.
    await sleep(Math.max(0, frozenAt + 5000 - Date.now()));
    expect(rec.states).toEqual(['streaming', 'stalled']);
    expect(ffmpegChildren().length).toBeLessThanOrEqual(1);

    own.kill('SIGCONT');
    await waitFor('streaming again', () => cam.state === 'streaming', 10_000);
    expect(rec.states).toEqual(['streaming', 'stalled', 'streaming']);
  });

  it('server accepts but never sends media: stalled; stop() ends the blocked ffmpeg', async () => {
    const silent = await server({ file: clip, stallAfterSeconds: 0 });
    const cam = camera({ url: silent.url, watchdogSeconds: 2 });
    const rec = record(cam);
    cam.start();
    const waited = await waitFor('stalled', () => cam.state === 'stalled', 4000);
    expect(waited).toBeGreaterThanOrEqual(1900);
    await waitFor('a retry', () => cam.spawns === 2 && cam.pid !== undefined, 3000);
    await sleep(500); // connected, waiting for an answer that never comes
    const t0 = Date.now();
    await cam.stop();
    expect(Date.now() - t0).toBeLessThan(base.killGraceMs + 1000);
    expect(ffmpegChildren()).toEqual([]);
    expect(rec.states).toEqual(['stalled', 'stopped']);
    expect(rec.frames).toEqual([]);
  });

  it('wrong path: not_found', async () => {
    const cam = camera({ url: plain.url.replace('/test', '/nope') });
    const rec = record(cam);
    cam.start();
    await waitFor('not_found', () => cam.state === 'not_found', 5000);
    await sleep(800); // retries fail the same way: nothing new
    expect(rec.states).toEqual(['not_found']);
    expect(rec.details[0]).toMatch(/404/);
    expect(cam.spawns).toBeGreaterThan(1);
  });

  it('wrong password: unauthorised, retried with backoff (no tight loop), password never shown', async () => {
    // Count ffmpeg starts from outside the camera: a wrapper logs each one, then becomes ffmpeg.
    const wrapper = join(tmp.dir, 'ffmpeg-counting.sh');
    const log = join(tmp.dir, 'spawns.log');
    writeFileSync(log, '');
    writeFileSync(wrapper, `#!/bin/sh\necho $$ >> '${log}'\nexec ffmpeg "$@"\n`, { mode: 0o755 });
    const url = secured.urlWith(USER, WRONG_PASSWORD);
    const cam = camera({
      url,
      ffmpegPath: wrapper,
      backoff: { initialMs: 500, maxMs: 8000, healthyMs: 60_000 },
    });
    const rec = record(cam);
    cam.start();
    await waitFor('unauthorised', () => cam.state === 'unauthorised', 5000);
    await sleep(4000);
    await cam.stop();
    // Without backoff ffmpeg fails every ~50 ms (dozens of runs); with it: 0, +0.25-0.5, +0.5-1, +1-2, +2-4 s.
    const spawns = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).length;
    for (const n of [spawns, cam.spawns]) {
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(5);
    }
    expect(rec.states).toEqual(['unauthorised', 'stopped']);
    expect(rec.details[0]).toMatch(/401/);
    for (const text of [...rec.details, cam.redactedUrl]) {
      expect(text).not.toContain(WRONG_PASSWORD);
      expect(text).not.toContain(PASSWORD);
    }
    expect(cam.redactedUrl).toBe(`rtsp://***:***@127.0.0.1:${secured.port}/test`);
  });

  it('right password: streaming, password never shown', async () => {
    const cam = camera({ url: secured.urlWith(USER, PASSWORD) });
    const rec = record(cam);
    cam.start();
    await waitFor('2 frames', () => rec.frames.length >= 2, 10_000);
    await cam.stop();
    expect(rec.states).toEqual(['streaming', 'stopped']);
    for (const text of [...rec.details, cam.redactedUrl]) expect(text).not.toContain(PASSWORD);
  });

  it('key frames only: one picture per key frame (GOP 10 at 10 fps → 1 a second), none repeated', async () => {
    const cam = camera({ url: plain.url, keyframesOnly: true, sampleFps: 5 });
    const rec = record(cam);
    cam.start();
    await waitFor('4 frames', () => rec.frames.length >= 4, 10_000);
    // The first two may come close together (buffered while probing); then one a second.
    expect(rec.frames[3]! - rec.frames[1]!).toBeGreaterThan(1500);
    expect(new Set(rec.hashes).size).toBe(rec.hashes.length);
  });

  for (const auth of ['basic', 'digest'] as const) {
    it(`${auth} auth, hard password: frames arrive, no ffmpeg's command line holds it, reconnects`, async () => {
      const own = await server({ file: clip, user: USER, password: HARD_PASSWORD, auth });
      const url = own.urlWith(USER, HARD_PASSWORD);
      const cam = camera({ url });
      const rec = record(cam);
      const commandLines: string[] = [];
      const look = () => {
        // Every child but the RTSP servers (one may be starting, not yet known by its PID).
        for (const pid of ffmpegChildren()) {
          const line = commandLineOf(pid);
          if (!line.includes('rtsp-server.py')) commandLines.push(line);
        }
      };
      const watching = setInterval(look, 50);
      try {
        cam.start();
        await waitFor('3 frames', () => rec.frames.length >= 3, 10_000);
        look();
        // The server restarts in the same place: ffmpeg exits, and a new one logs in again.
        own.kill('SIGKILL');
        await waitFor('unreachable', () => cam.state === 'unreachable', 3000);
        const before = rec.frames.length;
        await server({ file: clip, user: USER, password: HARD_PASSWORD, auth, port: own.port });
        await waitFor('frames again', () => rec.frames.length > before + 2, 10_000);
        look();
      } finally {
        clearInterval(watching);
      }
      expect(rec.states).toEqual(['streaming', 'unreachable', 'streaming']);
      expect(cam.spawns).toBeGreaterThanOrEqual(2);
      const seen = commandLines.filter(Boolean);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      for (const line of seen) {
        expect(line).toMatch(/ffmpeg .*-i pipe:3/);
        for (const secret of [HARD_PASSWORD, encodeURIComponent(HARD_PASSWORD), 'p%2Fw', USER]) {
          expect(line).not.toContain(secret);
        }
      }
      for (const text of [...rec.details, cam.redactedUrl]) expect(text).not.toContain('d@x');
    });
  }

  it('digest auth, wrong password: unauthorised, the password not shown', async () => {
    const own = await server({ file: clip, user: USER, password: HARD_PASSWORD, auth: 'digest' });
    const cam = camera({ url: own.urlWith(USER, `${HARD_PASSWORD}-wrong`) });
    const rec = record(cam);
    cam.start();
    await waitFor('unauthorised', () => cam.state === 'unauthorised', 5000);
    expect(rec.details[0]).toMatch(/401/);
    for (const text of [...rec.details, cam.redactedUrl]) expect(text).not.toMatch(/d@x|d%40x|p%2Fw/);
  });
});
