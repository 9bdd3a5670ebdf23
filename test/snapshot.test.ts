import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTSIDE_DIM, pictureLayout } from '../src/annotate.js';
import { ffmpegInputArgs } from '../src/camera/ffmpeg.js';
import { grabFrame, GrabError } from '../src/camera/snapshot.js';
import { defaultCenterNetModelPath } from '../src/detect/centernet.js';
import { renderFrame } from './helpers/frames.js';
import { tempDir } from './helpers/media.js';
import { childrenOf, makeH264Clip, startRtspServer, type RtspServer } from './helpers/rtsp.js';

// A collage of photos of people that ships inside the @vladmandic/human package (a dependency).
const PEOPLE_PHOTO = join(dirname(dirname(defaultCenterNetModelPath())), 'assets', 'samples.jpg');
const USER = 'carol';
const PASSWORD = 'pw-5521-right';
const WRONG_PASSWORD = 'pw-0007-wrong';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real CLI (tsx, no build needed), run to its end. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** stderr without npm's config warning (printed by npx in some environments, not by roomcount). */
const clean = (text: string) =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('npm warn'))
    .join('\n');

type RGB = [number, number, number];
const near = (a: RGB, b: RGB, tol = 50) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);
const GREEN: RGB = [0x22, 0xe0, 0x6b];

async function decodeJpeg(path: string) {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    px: (x: number, y: number): RGB => {
      const i = (Math.round(y) * info.width + Math.round(x)) * 3;
      return [data[i]!, data[i + 1]!, data[i + 2]!];
    },
  };
}

describe('grabFrame: one picture from a camera', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('reads a local image once, at full size and without real-time pacing', async () => {
    expect(ffmpegInputArgs({ url: '/m/still.png', transport: 'tcp' })).not.toContain('-re');
    const file = join(tmp.dir, 'still.png');
    const source = renderFrame(96, 64, (x, y) => [x * 2, y * 3, 200]);
    await sharp(source.data, { raw: { width: 96, height: 64, channels: 3 } })
      .png()
      .toFile(file);
    const frame = await grabFrame({ url: file, transport: 'tcp' });
    expect([frame.width, frame.height]).toEqual([96, 64]);
    expect(Buffer.from(frame.data).equals(Buffer.from(source.data))).toBe(true); // PNG: lossless
    expect(childrenOf(process.pid)).toEqual([]);
  });

  it('a missing file is "not_found", naming what to check', async () => {
    const err = await grabFrame({ url: join(tmp.dir, 'nope.mp4'), transport: 'tcp' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GrabError);
    expect((err as GrabError).state).toBe('not_found');
    expect((err as Error).message).toMatch(/nope\.mp4: not_found — check the path in camera\.url/);
  });
});

describe('roomcount count --annotate (bundled centernet on a photo of people)', () => {
  const tmp = tempDir();
  let plain: Run;
  let annotated: Run;
  const dir = () => join(tmp.dir, 'pictures', 'new'); // does not exist yet

  beforeAll(async () => {
    plain = await cli(['count', '--json', PEOPLE_PHOTO]);
    annotated = await cli(['count', '--json', '--annotate', dir(), PEOPLE_PHOTO]);
  }, 120_000);
  afterAll(() => tmp.cleanup());

  it('prints the same counts and boxes as without --annotate; says on stderr where the picture went', () => {
    expect(plain.code).toBe(0);
    expect(annotated.code).toBe(0);
    expect(annotated.stdout).toBe(plain.stdout);
    const result = JSON.parse(plain.stdout) as { count: number };
    expect(result.count).toBeGreaterThanOrEqual(5);
    const path = join(dir(), 'samples.jpg');
    expect(clean(annotated.stderr)).toBe(
      `${PEOPLE_PHOTO}: annotated picture written to ${path} (${result.count} counted, ` +
        `${/(\d+) ignored/.exec(annotated.stderr)?.[1]} ignored)`,
    );
    // Weak boxes are shown too (the detector ran below minScore; the filter judged).
    expect(Number(/(\d+) ignored/.exec(annotated.stderr)?.[1])).toBeGreaterThan(0);
    expect(readdirSync(dir())).toEqual(['samples.jpg']);
  });

  it('draws every counted box where count --json says it is', async () => {
    const { count, detections } = JSON.parse(plain.stdout) as {
      count: number;
      detections: { box: [number, number, number, number] }[];
    };
    const photo = await sharp(PEOPLE_PHOTO).metadata();
    const layout = pictureLayout({ width: photo.width!, height: photo.height! }, { title: 'any' });
    const img = await decodeJpeg(join(dir(), 'samples.jpg'));
    expect(img.width).toBe(layout.pictureWidth);
    expect(detections).toHaveLength(count);
    for (const { box } of detections) {
      const [x1, y1, x2, y2] = box.map((v, i) => (i % 2 === 0 ? v * layout.scaleX : v * layout.scaleY));
      // Left and right edges, away from the corners (labels sit at the top-left corner of a box; another box's
      // label may cover a bit of an edge).
      const pts: [number, number][] = [];
      for (let t = 0.25; t <= 0.75; t += 0.05) {
        const y = layout.pictureTop + y1! + t * (y2! - y1!);
        pts.push([x1!, y], [x2!, y]);
      }
      const green = pts.filter(([x, y]) => near(img.px(x, y), GREEN)).length / pts.length;
      expect(green, `box ${box.join(',')}`).toBeGreaterThan(0.7);
    }
  });

  it('refuses a folder where a picture would overwrite an input image', async () => {
    const input = join(tmp.dir, 'room.jpg');
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } })
      .jpeg()
      .toFile(input);
    const run = await cli(['count', '--annotate', tmp.dir, input]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`would overwrite ${input}; choose another folder`);
  });
});

describe('roomcount snapshot', () => {
  const tmp = tempDir();
  const servers: RtspServer[] = [];
  let camDir = '';
  let outDir = '';
  let config = '';
  let stillPng = '';

  beforeAll(async () => {
    camDir = join(tmp.dir, 'cameras');
    outDir = join(tmp.dir, 'out');
    mkdirSync(camDir);
    mkdirSync(outDir);
    // Lossless copy of the photo, so that ffmpeg (snapshot) and sharp (count) decode the same pixels.
    stillPng = join(camDir, 'lobby.png');
    await sharp(PEOPLE_PHOTO).png().toFile(stillPng);
    const clip = makeH264Clip(join(camDir, 'clip.h264'), {
      width: 640,
      height: 360,
      fps: 10,
      seconds: 4,
      gop: 10,
    });
    const [secured, silent] = await Promise.all([
      startRtspServer({ file: clip, user: USER, password: PASSWORD }),
      startRtspServer({ file: clip, stallAfterSeconds: 0 }),
    ]);
    servers.push(secured!, silent!);
    const camUrl = `rtsp://${USER}:\${CAM_PASS}@127.0.0.1:${secured!.port}/test`;
    config = join(tmp.dir, 'roomcount.yaml');
    writeFileSync(
      config,
      [
        'sink: stdout',
        'defaults: { locationType: space }',
        'rooms:',
        '  - id: lobby',
        '    locationId: L1',
        '    camera: { url: cameras/lobby.png }', // relative to the config file
        '    region:',
        '      include: [[0, 0], [0.6, 0], [0.6, 1], [0, 1]]',
        '  - id: corridor',
        '    locationId: L2',
        `    camera: { url: "${camUrl}" }`,
        '  - id: silent',
        '    locationId: L3',
        `    camera: { url: "${silent!.url}" }`,
      ].join('\n'),
    );
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    tmp.cleanup();
  });

  /** Every room's config needs CAM_PASS; the tests that are about it set it themselves. */
  const snapshot = (args: string[], env: Record<string, string> = {}) =>
    cli(['snapshot', '--config', config, ...args], { CAM_PASS: PASSWORD, ...env });

  const LINE =
    /^(.+): (\d+)x(\d+) JPEG, (\d+) KiB; room ([\w.-]+): (\d+) counted, (\d+) ignored\. The picture is written to this file only \(roomcount run never writes pictures\)\.\n$/;

  it("local file camera: writes only --out, with the room's count (the same as count --room)", async () => {
    const out = join(outDir, 'lobby.jpg');
    const run = await snapshot(['--room', 'lobby', '--out', out]);
    expect(clean(run.stderr)).toBe('');
    expect(run.code).toBe(0);
    const m = LINE.exec(run.stdout);
    expect(m, run.stdout).not.toBeNull();
    expect(m![1]).toBe(out);
    expect(m![5]).toBe('lobby');
    expect(readdirSync(outDir)).toEqual(['lobby.jpg']);
    expect(readdirSync(camDir).sort()).toEqual(['clip.h264', 'lobby.png']);
    const img = await decodeJpeg(out);
    expect([img.width, img.height]).toEqual([Number(m![2]), Number(m![3])]);
    const count = await cli(['count', '--config', config, '--room', 'lobby', stillPng], {
      CAM_PASS: PASSWORD,
    });
    expect(count.stdout).toBe(`${stillPng}\t${m![6]}\n`);
    expect(Number(m![6])).toBeGreaterThanOrEqual(2);
    expect(Number(m![7])).toBeGreaterThan(0); // the right of the collage is outside the region
    // The region is x < 0.6: the picture right of it is dimmed, left of it unchanged (medians over a grid, so that
    // the boxes and labels drawn on it do not matter).
    const photo = await decodeJpeg(stillPng);
    const layout = pictureLayout({ width: photo.width, height: photo.height }, { title: 'any' });
    const luma = ([r, g, b]: RGB) => 0.299 * r + 0.587 * g + 0.114 * b;
    const ratios = (from: number, to: number) => {
      const out: number[] = [];
      for (let y = 0.02; y < 0.98; y += 0.02) {
        for (let x = from; x < to; x += 0.02) {
          const before = luma(photo.px(x * photo.width, y * photo.height));
          const after = luma(img.px(x * layout.pictureWidth, layout.pictureTop + y * layout.pictureHeight));
          if (before > 40) out.push(after / before);
        }
      }
      return out.sort((a, b) => a - b)[Math.floor(out.length / 2)]!;
    };
    expect(ratios(0.63, 0.99)).toBeGreaterThan(1 - OUTSIDE_DIM - 0.12);
    expect(ratios(0.63, 0.99)).toBeLessThan(1 - OUTSIDE_DIM + 0.12);
    expect(ratios(0.01, 0.57)).toBeGreaterThan(0.9);
    expect(ratios(0.01, 0.57)).toBeLessThan(1.1);
  }, 60_000);

  it('RTSP camera with credentials: one frame at the camera resolution', async () => {
    const out = join(outDir, 'corridor.jpg');
    const run = await snapshot(['--room', 'corridor', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(LINE);
    expect(run.stdout).not.toContain(PASSWORD);
    const img = await decodeJpeg(out);
    expect(img.width).toBe(640); // the camera's 640x360, not the detector's input size
    expect(img.height).toBeGreaterThan(
      pictureLayout({ width: 640, height: 360 }, { title: 'any' }).pictureTop + 360,
    );
  }, 60_000);

  it('wrong password: a clear, redacted error, non-zero exit, no file', async () => {
    const out = join(outDir, 'wrong.jpg');
    const run = await snapshot(['--room', 'corridor', '--out', out], { CAM_PASS: WRONG_PASSWORD });
    expect(run.code).not.toBe(0);
    const err = clean(run.stderr);
    expect(err).toMatch(
      /^roomcount: room corridor: cannot get a picture from rtsp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+\/test: unauthorised — check the user and password in camera\.url/,
    );
    expect(err).not.toContain(WRONG_PASSWORD);
    expect(err).not.toContain(PASSWORD);
    expect(err).not.toContain(USER);
    expect(run.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('a camera that sends nothing: "stalled" after --timeout, no file', async () => {
    const out = join(outDir, 'silent.jpg');
    const run = await snapshot(['--room', 'silent', '--out', out, '--timeout', '2']);
    expect(run.code).not.toBe(0);
    expect(clean(run.stderr)).toMatch(
      /room silent: cannot get a picture from rtsp:.*: stalled — .*no picture within 2 s/,
    );
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('checks --room and --out before opening the camera', async () => {
    const noRoom = await snapshot(['--room', 'attic', '--out', join(outDir, 'a.jpg')]);
    expect(noRoom.code).not.toBe(0);
    expect(noRoom.stderr).toContain(
      '--room attic: no such room in the configuration (rooms: lobby, corridor, silent)',
    );
    const png = await snapshot(['--room', 'lobby', '--out', join(outDir, 'a.png')]);
    expect(png.stderr).toContain('give a file name ending in .jpg');
    const noDir = await snapshot(['--room', 'lobby', '--out', join(tmp.dir, 'x', 'a.jpg')]);
    expect(noDir.stderr).toMatch(/folder .*x does not exist/);
    expect(readdirSync(outDir).filter((f) => f.startsWith('a.'))).toEqual([]);
  }, 60_000);
});
