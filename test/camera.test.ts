import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPriority } from 'node:os';
import { writeFileSync } from 'node:fs';
import {
  buildFfmpegArgs,
  buildFfmpegLaunch,
  classifyFailure,
  ffconcatScript,
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

  it('realtime: false reads files as fast as frames are taken (evaluation)', () => {
    const once = buildFfmpegArgs({ ...base, url: '/m/clip.mp4', loop: false, realtime: false });
    expect(once).not.toContain('-re');
    expect(once.join(' ')).toContain('-threads 1 -i /m/clip.mp4');
    expect(buildFfmpegArgs({ ...base, url: '/m/still.png', realtime: false })).not.toContain('-re');
  });
});

describe('buildFfmpegLaunch: credentials off the command line', () => {
  it('RTSP: the URL and its options go in an ffconcat script for fd 3; argv holds no credentials', () => {
    const url = "rtsp://u:s3cr%2Ft'x@192.0.2.1:554/s1";
    const { args, script } = buildFfmpegLaunch({ ...base, url, transport: 'udp', keyframesOnly: true });
    expect(args.join(' ')).not.toMatch(/s3cr|192\.0\.2\.1/);
    expect(args.join(' ')).toContain(
      '-threads 1 -skip_frame nokey -analyzeduration 500000 -probesize 200000 -f concat -safe 0 ' +
        '-protocol_whitelist pipe,rtsp,rtsps,rtp,srtp,tcp,udp,tls -i pipe:3 -an',
    );
    expect(args.join(' ')).toContain(
      buildFfmpegArgs({ ...base, url, keyframesOnly: true })
        .slice(-10)
        .join(' '),
    );
    expect(script).toBe(
      'ffconcat version 1.0\n' +
        "file 'rtsp://u:s3cr%2Ft'\\''x@192.0.2.1:554/s1'\n" +
        'option rtsp_transport udp\noption analyzeduration 500000\noption probesize 200000\n',
    );
  });

  it('local files stay on the command line, with no script', () => {
    const launch = buildFfmpegLaunch({ ...base, url: '/m/clip.mp4' });
    expect(launch).toEqual({ args: buildFfmpegArgs({ ...base, url: '/m/clip.mp4' }) });
  });

  it('an ffconcat script never holds a line break from the URL', () => {
    expect(() => ffconcatScript('rtsp://cam/x\nfile /etc/passwd', [])).toThrow(/line break/);
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

  it('wants: a frame it says no to is passed over (announced as skipped, pixels never copied)', async () => {
    let asked = 0;
    // Every other frame; the decision comes as each frame starts to arrive.
    const camera = new FfmpegCamera({ ...base, url: clip, sampleFps: 10, wants: () => asked++ % 2 === 0 });
    const frames: Frame[] = [];
    const skipped: number[] = [];
    const t0 = Date.now();
    camera.on('skipped', (at) => skipped.push(at));
    camera.start();
    await new Promise<void>((resolve) =>
      camera.on('frame', (f) => {
        frames.push(f);
        if (frames.length === 4) resolve();
      }),
    );
    await camera.stop();
    expect(skipped.length).toBeGreaterThanOrEqual(3);
    // Each frame was asked about once (the last one may have been stopped on its way).
    expect(asked - frames.length - skipped.length).toBeGreaterThanOrEqual(0);
    expect(asked - frames.length - skipped.length).toBeLessThanOrEqual(1);
    for (const at of skipped) expect(at).toBeGreaterThanOrEqual(t0);
    for (const f of frames) expect(f.data.length).toBe(512 * 288 * 3);
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

  it('an unusable camera.url: state "invalid" with the reason, nothing started, nothing thrown', async () => {
    const camera = new FfmpegCamera({ ...base, url: 'file://otherhost/x.jpg' });
    const seen: string[] = [];
    camera.on('state', (s, detail) => seen.push(`${s}: ${detail}`));
    camera.start();
    expect(camera.state).toBe('invalid');
    expect(camera.stateDetail).toMatch(/names another machine/);
    expect(camera.spawns).toBe(0);
    await camera.stop();
    expect(seen).toEqual([expect.stringMatching(/^invalid: file:\/\/otherhost/), 'stopped: stopped']);
  });

  it('a watchdog beyond what a Node timer holds (2^31 ms) does not fire at once', async () => {
    const camera = new FfmpegCamera({ ...base, url: clip, sampleFps: 5, watchdogSeconds: 2_147_484 });
    let frames = 0;
    camera.on('frame', () => frames++);
    camera.start();
    const t0 = Date.now();
    while (frames < 3 && Date.now() - t0 < 8000) await new Promise((r) => setTimeout(r, 50));
    await camera.stop();
    expect(frames).toBeGreaterThanOrEqual(3);
    expect(camera.spawns).toBe(1);
  });

  it('a camera file that is no picture: stalled, and the state says what ffmpeg said', async () => {
    const bad = join(tmp.dir, 'not-a-picture.jpg');
    writeFileSync(bad, 'hello, I am text\n');
    const camera = new FfmpegCamera({ ...base, url: bad, watchdogSeconds: 2 });
    const stalled = new Promise<string>((resolve) =>
      camera.on('state', (s, detail) => s === 'stalled' && resolve(detail)),
    );
    camera.start();
    const detail = await stalled;
    await camera.stop();
    expect(detail).toMatch(/^no frame for 2 s: .*(JPEG|Invalid data)/);
  });

  it('paced on media time: every frame, 1/sampleFps apart, none lost while the consumer is slow', async () => {
    let waiting = 0;
    const camera = new FfmpegCamera({
      ...base,
      url: clip,
      loop: false,
      sampleFps: 5,
      realtime: false,
      mediaEpochMs: 1_000_000,
      // Shorter than the consumer's first pause: the watchdog must not count waiting for it as a stall.
      watchdogSeconds: 2,
      pace: async () => {
        waiting++;
        await new Promise((r) => setTimeout(r, frames.length === 1 ? 2500 : 50));
        waiting--;
      },
    });
    const frames: number[] = [];
    const states: CameraState[] = [];
    let overlapping = 0;
    camera.on('frame', (f) => {
      if (waiting > 0) overlapping++;
      frames.push(f.capturedAt);
    });
    const ended = new Promise<void>((resolve) =>
      camera.on('state', (s) => {
        states.push(s);
        if (s === 'ended') resolve();
      }),
    );
    camera.start();
    await ended;
    await camera.stop();
    // A 2 s clip sampled at 5 fps: 10 frames stamped 0, 200, ... 1800 ms after the epoch, in order.
    expect(frames).toEqual(Array.from({ length: 10 }, (_, i) => 1_000_000 + i * 200));
    expect(overlapping).toBe(0); // a frame only once the previous one was released
    expect(states).toEqual(['streaming', 'ended', 'stopped']);
    expect(camera.lastFrameAt).toBe(1_001_800);
  });
});
