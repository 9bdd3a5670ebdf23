import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPriority } from 'node:os';
import {
  buildFfmpegArgs,
  classifyFailure,
  FFMPEG_NICENESS,
  FfmpegCamera,
  type CameraState,
} from '../src/camera/ffmpeg.js';
import type { Frame } from '../src/camera/frame.js';
import { renderTestClip, tempDir } from './helpers/media.js';
import { childrenOf } from './helpers/rtsp.js';

const base = {
  transport: 'tcp' as const,
  loop: true,
  sampleFps: 2,
  limit: { shortSide: 288, longSide: 512 },
  watchdogSeconds: 10,
};

describe('buildFfmpegArgs', () => {
  it('RTSP: transport, small probe, sampling and scaling to the detector limit, PPM on stdout', () => {
    const args = buildFfmpegArgs({ ...base, url: 'rtsp://u:p@192.0.2.1:554/s1', transport: 'udp' });
    expect(args.join(' ')).toContain(
      '-rtsp_transport udp -analyzeduration 500000 -probesize 200000 -i rtsp://u:p@',
    );
    expect(args.join(' ')).toContain(
      "-vf fps=2,scale=w='max(1,round(iw*min(1,min(288/min(iw,ih),512/max(iw,ih)))))'" +
        ":h='max(1,round(ih*min(1,min(288/min(iw,ih),512/max(iw,ih)))))' -f image2pipe -c:v ppm pipe:1",
    );
    expect(args).not.toContain('-re');
    expect(args.indexOf('-threads')).toBeLessThan(args.indexOf('-i'));
    expect(args[args.indexOf('-threads') + 1]).toBe('1');
  });

  it('files play in real time, looped or once; still images loop at the sampling rate', () => {
    expect(buildFfmpegArgs({ ...base, url: '/m/clip.mp4' }).join(' ')).toContain(
      '-re -stream_loop -1 -i /m/clip.mp4',
    );
    expect(buildFfmpegArgs({ ...base, url: 'file:///m/clip.mp4', loop: false }).join(' ')).toContain(
      '-re -i /m/clip.mp4',
    );
    expect(buildFfmpegArgs({ ...base, url: '/m/still.JPG' }).join(' ')).toContain(
      '-re -loop 1 -framerate 2 -i /m/still.JPG',
    );
  });
});

describe('classifyFailure', () => {
  it('maps ffmpeg messages to camera states', () => {
    expect(classifyFailure('method DESCRIBE failed: 401 Unauthorized')).toBe('unauthorised');
    expect(classifyFailure('method DESCRIBE failed: 404 Not Found')).toBe('not_found');
    expect(classifyFailure('/x.mp4: No such file or directory')).toBe('not_found');
    expect(classifyFailure('Connection refused')).toBe('unreachable');
  });
});

describe('FfmpegCamera on a local file', () => {
  const tmp = tempDir();
  let clip = '';
  beforeAll(() => {
    clip = renderTestClip(join(tmp.dir, 'pattern.mp4'), { width: 640, height: 360, seconds: 2 });
  });
  afterAll(() => tmp.cleanup());

  it('delivers timestamped frames scaled to the detector limit, then stops its ffmpeg', async () => {
    const camera = new FfmpegCamera({ ...base, url: clip, sampleFps: 5 });
    const frames: Frame[] = [];
    const states: CameraState[] = [];
    camera.on('state', (s) => states.push(s));
    const t0 = Date.now();
    camera.start();
    await new Promise<void>((resolve) =>
      camera.on('frame', (f) => {
        frames.push(f);
        if (frames.length === 4) resolve();
      }),
    );
    expect(childrenOf(process.pid).length).toBeGreaterThan(0);
    // The decoder runs at the lowest priority, so that the detector and event delivery get the CPU first.
    expect(getPriority(camera.pid)).toBe(FFMPEG_NICENESS);
    await camera.stop();
    expect(childrenOf(process.pid)).toEqual([]);
    expect(states).toEqual(['streaming', 'stopped']);
    for (const f of frames) {
      expect([f.width, f.height]).toEqual([512, 288]);
      expect(f.data.length).toBe(512 * 288 * 3);
      expect(f.capturedAt).toBeGreaterThanOrEqual(t0);
    }
    // 5 fps sampling of a file read in real time: frames arrive ~200 ms apart, not all at once.
    expect(frames[3]!.capturedAt - frames[0]!.capturedAt).toBeGreaterThan(300);
  });

  it('a file played once ends; a missing file is "not_found" and is retried with backoff', async () => {
    const once = new FfmpegCamera({ ...base, url: clip, loop: false, sampleFps: 10 });
    let frames = 0;
    once.on('frame', () => frames++);
    const ended = new Promise<void>((resolve) => once.on('state', (s) => s === 'ended' && resolve()));
    once.start();
    await ended;
    expect(frames).toBeGreaterThanOrEqual(15);
    await once.stop();

    const missing = new FfmpegCamera({
      ...base,
      url: join(tmp.dir, 'nope.mp4'),
      backoff: { initialMs: 50, maxMs: 100, healthyMs: 1000 },
    });
    const seen: string[] = [];
    missing.on('state', (s, detail) => seen.push(`${s}: ${detail}`));
    missing.start();
    await new Promise((r) => setTimeout(r, 1500));
    await missing.stop();
    // Logged once per transition, not per retry: the retries happen silently.
    expect(seen).toEqual([
      expect.stringMatching(/^not_found: .*nope\.mp4: No such file or directory/),
      'stopped: stopped',
    ]);
    expect(missing.spawns).toBeGreaterThanOrEqual(3);
  });
});
