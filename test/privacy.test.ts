/**
 * Privacy by construction, proven on the real service: two rooms (an RTSP camera with a password, and a photo of
 * people) run for over a minute against a strict fake Calven. Afterwards nothing that holds image data exists
 * anywhere the process could write, no log line or HTTP response carries frame bytes, and no credential appears
 * in any output.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCenterNetModelPath } from '../src/detect/centernet.js';
import { FakeCalven, TEST_HMAC } from './helpers/fake-calven.js';
import { tempDir } from './helpers/media.js';
import { freePort } from './helpers/net.js';
import { makeH264Clip, startRtspServer, type RtspServer } from './helpers/rtsp.js';

const RUN_MS = 65_000;
const CAM_USER = 'cam-operator';
const CAM_PASS = 'Pr1vate-cam-pw';
const PEOPLE_PHOTO = join(dirname(dirname(defaultCenterNetModelPath())), 'assets', 'samples.jpg');

/** Image formats by their first bytes, and raw RGB frame sizes the pipeline produces. */
function looksLikeImage(buf: Buffer): string | undefined {
  const starts = (...bytes: number[]) => bytes.every((b, i) => buf[i] === b);
  if (starts(0xff, 0xd8, 0xff)) return 'jpeg';
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'png';
  if (
    buf
      .subarray(0, 3)
      .toString('latin1')
      .match(/^P[3-6]\s/)
  )
    return 'pnm';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (starts(0x42, 0x4d) && buf.length > 54) return 'bmp';
  if (buf.subarray(0, 4).toString('latin1') === 'RIFF' && buf.subarray(8, 12).toString('latin1') === 'WEBP') {
    return 'webp';
  }
  // Embedded anywhere (e.g. a blob in a database): JPEG start-of-image + JFIF/Exif, PNG signature, PPM header.
  if (
    buf.includes(Buffer.from([0xff, 0xd8, 0xff, 0xe0])) ||
    buf.includes(Buffer.from([0xff, 0xd8, 0xff, 0xe1]))
  ) {
    return 'embedded jpeg';
  }
  if (buf.includes(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]))) return 'embedded png';
  if (/P6\s\d+\s\d+\s255\s/.test(buf.toString('latin1'))) return 'embedded ppm';
  return undefined;
}

function filesUnder(dir: string, since: number): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return; // another user's folder in /tmp, or gone
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory() && depth < 4) walk(p, depth + 1);
      else if (e.isFile()) {
        try {
          if (statSync(p).mtimeMs >= since) out.push(p);
        } catch {
          /* vanished */
        }
      }
    }
  };
  walk(dir, 0);
  return out;
}

describe('privacy: two rooms for over a minute, real pipeline, real RTSP camera, fake Calven', () => {
  const tmp = tempDir('roomcount-privacy-');
  const cwd = join(tmp.dir, 'cwd');
  const ownTmp = join(tmp.dir, 'tmp');
  const stateDir = join(tmp.dir, 'state');
  let camera: RtspServer;
  let calven: FakeCalven;
  let stdout = '';
  let stderr = '';
  let exitCode: number | null = null;
  const responses: { path: string; type: string; body: Buffer }[] = [];
  let startedAt = 0;

  beforeAll(async () => {
    for (const d of [cwd, ownTmp]) mkdirSync(d);
    const clip = makeH264Clip(join(tmp.dir, 'camera.h264'), {
      width: 640,
      height: 360,
      fps: 10,
      seconds: 4,
      gop: 10,
    });
    camera = await startRtspServer({ file: clip, user: CAM_USER, password: CAM_PASS });
    calven = await FakeCalven.start();
    const port = await freePort();
    const config = join(cwd, 'roomcount.yaml');
    writeFileSync(
      config,
      [
        'sourceId: privacy test',
        'sink: calven',
        'calven:',
        `  baseUrl: ${calven.url}`,
        '  auth: { type: hmac, apiKey: "${CALVEN_API_KEY}", apiSecret: "${CALVEN_API_SECRET}" }',
        `stateDir: ${stateDir}`,
        `http: { port: ${port}, host: 127.0.0.1 }`,
        'defaults: { sampleFps: 1, windowSeconds: 3, locationType: space }',
        'rooms:',
        '  - id: rtsp-room',
        '    locationId: LOC-RTSP',
        `    camera: { url: "rtsp://\${CAM_USER}:\${CAM_PASS}@127.0.0.1:${camera.port}/test" }`,
        '  - id: photo-room',
        '    locationId: LOC-PHOTO',
        `    camera: { url: "${PEOPLE_PHOTO}" }`,
      ].join('\n'),
    );
    // From the millisecond after the config was written: Date.now() rounds down, so a file written a moment before
    // it could otherwise count as created by the service.
    startedAt = Math.max(Date.now(), Math.floor(statSync(config).mtimeMs) + 1);
    const child = spawn(
      process.execPath,
      // Absolute paths: the service runs in its own empty working directory.
      [
        '--import',
        pathToFileURL(join(process.cwd(), 'node_modules/tsx/dist/loader.mjs')).href,
        join(process.cwd(), 'src/cli.ts'),
        'run',
        '--config',
        config,
      ],
      {
        cwd,
        env: {
          ...process.env,
          TMPDIR: ownTmp,
          TSX_DISABLE_CACHE: '1', // tsx's compile cache is the test harness's file, not the service's
          LOG_LEVEL: 'debug',
          LOG_FORMAT: 'json',
          CALVEN_API_KEY: TEST_HMAC.apiKey,
          CALVEN_API_SECRET: TEST_HMAC.apiSecret,
          CAM_USER,
          CAM_PASS,
        },
      },
    );
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('latin1')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('latin1')));
    const exited = new Promise<void>((resolve) => child.on('exit', (code) => ((exitCode = code), resolve())));

    // While it runs, read every endpoint now and then, as a monitoring system would.
    const base = `http://127.0.0.1:${port}`;
    // At least RUN_MS, and on until ten /status answers were read (a loaded machine starts the service late).
    const statusReads = () => responses.filter((r) => r.path === '/status').length;
    while (
      Date.now() - startedAt < RUN_MS ||
      (statusReads() < 10 && Date.now() - startedAt < RUN_MS + 30_000)
    ) {
      await new Promise((r) => setTimeout(r, 5000));
      for (const path of ['/healthz', '/readyz', '/status', '/metrics']) {
        try {
          const res = await fetch(base + path);
          responses.push({
            path,
            type: res.headers.get('content-type') ?? '',
            body: Buffer.from(await res.arrayBuffer()),
          });
        } catch {
          /* not listening yet */
        }
      }
    }
    child.kill('SIGTERM');
    await exited;
  }, RUN_MS + 90_000);

  afterAll(async () => {
    await camera?.stop();
    await calven?.close();
    tmp.cleanup();
  });

  it('ran: both rooms reported to Calven, and it stopped cleanly', () => {
    expect(exitCode, stderr.slice(-3000)).toBe(0);
    const byLocation = new Map(calven.accepted.map((a) => [a.event.locationId, a.event]));
    expect(
      byLocation.get('LOC-RTSP'),
      stderr
        .split('\n')
        .filter((l) => l.includes('rtsp-room') && !l.includes('frame analysed'))
        .join('\n')
        .slice(0, 3000),
    ).toMatchObject({ occupied: false, occupancy: 0 });
    expect(byLocation.get('LOC-PHOTO')).toMatchObject({ occupied: true });
    expect(responses.filter((r) => r.path === '/status').length).toBeGreaterThanOrEqual(10);
  });

  it('no file with image data was created in the state dir, cwd, its TMPDIR or the system temp folder', () => {
    const created = [stateDir, cwd, ownTmp].flatMap((d) => filesUnder(d, startedAt));
    // The only files the service itself writes: the outbox database (and SQLite's WAL/shm side files).
    expect(created.map((f) => f.replace(tmp.dir, '')).sort()).toEqual(
      expect.arrayContaining(['/state/outbox.sqlite']),
    );
    for (const f of created) {
      expect(f.startsWith(stateDir) && /outbox\.sqlite(-wal|-shm)?$/.test(f), f).toBe(true);
      expect(statSync(f).size, f).toBeLessThan(4 << 20);
    }
    const everywhere = [...created, ...filesUnder(tmpdir(), startedAt)].filter(
      (f) => !f.startsWith(tmp.dir + '/camera'),
    );
    const images = everywhere.filter((f) => {
      try {
        return looksLikeImage(readFileSync(f)) !== undefined;
      } catch {
        return false;
      }
    });
    expect(images).toEqual([]);
  });

  it('no log line, stdout byte or HTTP response carries frame data', () => {
    const lines = stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(20);
    for (const line of lines) {
      expect(() => JSON.parse(line), line.slice(0, 200)).not.toThrow();
      expect(line.length, line.slice(0, 200)).toBeLessThan(4000);
      expect(looksLikeImage(Buffer.from(line, 'latin1')), line.slice(0, 200)).toBeUndefined();
    }
    expect(stdout).toBe(''); // calven sink: nothing on stdout
    for (const r of responses) {
      expect(r.type).toMatch(/^(application\/json|text\/plain)/);
      expect(looksLikeImage(r.body), r.path).toBeUndefined();
      expect(r.body.length, r.path).toBeLessThan(r.path === '/metrics' ? 256 << 10 : 16 << 10);
    }
  });

  it('no credential appears in logs or HTTP responses', () => {
    const outputs = [stderr, stdout, ...responses.map((r) => r.body.toString('latin1'))].join('\n');
    expect(calven.issuedTokens.length).toBeGreaterThan(0);
    for (const secret of [CAM_PASS, TEST_HMAC.apiSecret, TEST_HMAC.apiKey, ...calven.issuedTokens]) {
      expect(outputs.includes(secret), `leaked: ${secret.slice(0, 3)}…`).toBe(false);
    }
    expect(outputs).toContain('rtsp://***:***@127.0.0.1');
  });
});
