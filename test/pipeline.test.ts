import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCenterNetModelPath } from '../src/detect/centernet.js';
import { renderTestClip, tempDir } from './helpers/media.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// A collage of photos of people that ships inside the @vladmandic/human package (a dependency).
const humanDir = dirname(dirname(defaultCenterNetModelPath()));
const PEOPLE_PHOTO = join(humanDir, 'assets', 'samples.jpg');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (tsx, no build needed) for `ms`, then SIGTERM; resolves with its output and exit code. */
function runFor(args: string[], ms: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      env: { ...process.env, LOG_LEVEL: 'info' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), ms);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('roomcount run (real pipeline: ffmpeg → CenterNet → smoothing → stdout sink)', () => {
  const tmp = tempDir();
  let result: Run;
  let startedAt = 0;

  beforeAll(async () => {
    renderTestClip(join(tmp.dir, 'empty-room.mp4'), { width: 640, height: 360, seconds: 3 });
    const config = join(tmp.dir, 'roomcount.yaml');
    writeFileSync(
      config,
      [
        'sourceId: pipeline test',
        'sink: stdout',
        'stateDir: ./state',
        'defaults:',
        '  sampleFps: 2',
        '  windowSeconds: 3',
        '  locationType: space',
        'rooms:',
        '  - id: group',
        '    locationId: LOC-GROUP',
        `    camera: { url: "${PEOPLE_PHOTO}" }`,
        '  - id: desk',
        '    locationId: LOC-DESK',
        '    locationType: place',
        `    camera: { url: "${PEOPLE_PHOTO}" }`,
        '    region:', // the lower-left corner of the collage: part of the group photo
        '      include: [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]]',
        '  - id: empty',
        '    locationId: LOC-EMPTY',
        '    camera: { url: empty-room.mp4 }', // relative to the config file
      ].join('\n'),
    );
    startedAt = Date.now();
    result = await runFor(['run', '--config', config], 20_000);
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it('exits 0 on SIGTERM', () => {
    expect(result.stderr).toContain('service stopped');
    expect(result.code).toBe(0);
  });

  it('prints one Calven request body per line, one initial event per room', () => {
    const lines = result.stdout.trim().split('\n');
    const bodies = lines.map((l) => JSON.parse(l));
    const byLocation = new Map<string, Record<string, unknown>>();
    for (const body of bodies) {
      expect(Object.keys(body).sort()).toEqual(['occupancyEvents', 'sourceId']);
      expect(body.sourceId).toBe('pipeline test');
      expect(body.occupancyEvents).toHaveLength(1);
      const event = body.occupancyEvents[0];
      expect(event.eventId).toMatch(UUID);
      expect(event.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // The frames that established the count came at least one window after start.
      expect(Date.parse(event.timestamp)).toBeGreaterThanOrEqual(startedAt + 3000);
      expect(Date.parse(event.timestamp)).toBeLessThanOrEqual(Date.now());
      byLocation.set(event.locationId, event);
    }
    // A still picture and a test pattern do not change: exactly one event per room.
    expect(bodies).toHaveLength(3);
    const group = byLocation.get('LOC-GROUP')!;
    const desk = byLocation.get('LOC-DESK')!;
    const empty = byLocation.get('LOC-EMPTY')!;
    expect(group).toMatchObject({ locationType: 'space', occupied: true });
    expect(group.occupancy).toBeGreaterThanOrEqual(5);
    expect(desk).toMatchObject({ locationType: 'place', occupied: true });
    expect(desk).not.toHaveProperty('occupancy');
    expect(empty).toMatchObject({ locationType: 'space', occupied: false, occupancy: 0 });
  });

  it('logs JSON on stderr and never leaves ffmpeg running', () => {
    const logs = result.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // One line per load (each detector worker loads its own copy), saying which model, how and how long.
    const loaded = logs.filter((l) => l.msg === 'person detector loaded');
    expect(loaded.length).toBeGreaterThan(0);
    for (const l of loaded) {
      expect(l).toMatchObject({
        model: expect.any(String),
        backend: expect.any(String),
        loadMs: expect.any(Number),
      });
    }
    expect(logs.filter((l) => l.msg === 'occupancy event')).toHaveLength(3);
    // The ffmpeg of the 'empty' room had the temp folder in its command line.
    const leftovers = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('ffmpeg') && l.includes(tmp.dir));
    expect(leftovers).toEqual([]);
  });
});
