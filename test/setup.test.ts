import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CameraState } from '../src/camera/ffmpeg.js';
import type { Frame } from '../src/camera/frame.js';
import { isLoopback } from '../src/commands/setup.js';
import { loadConfig, parseConfig } from '../src/config/load.js';
import type { Detection, Detector } from '../src/detect/detector.js';
import { LiveRooms, type SetupCamera } from '../src/setup/live.js';
import { SETUP_PAGE } from '../src/setup/page.js';
import { MAX_BODY_BYTES, startSetupServer, type SetupServer } from '../src/setup/server.js';
import { editRoomYaml, renderRoomYaml, saveRoomEdit, type RoomEdit } from '../src/setup/yaml-edit.js';
import { tempDir } from './helpers/media.js';
import { toPolygons, type Polygon } from '../src/count/region.js';
import { fakeDetector } from './helpers/detector.js';

const ENV = { CAM_USER: 'u', CAM_PASS: 'p' };

/** A config as people write them: aligned comments, a comment continued on the next line, defaults, flow maps. */
const CONFIG = `# Floor 3
sourceId: "roomcount floor-3"            # Calven sourceId (free text)
sink: stdout                             # nothing sent
detector:
  model: centernet                       # ships with npm install
                                         # (the default)
  minScore: 0.3
defaults:
  sampleFps: 1                           # frames analysed per second per room
rooms:
  - id: boardroom                        # unique, used in logs/metrics
    locationId: D0FA9F18-6E7F-449A-8C50-30276AA9B63F
    locationType: space                  # level | location | place | space | zone
    camera:
      url: rtsp://\${CAM_USER}:\${CAM_PASS}@192.0.2.10:554/stream1   # credentials from the environment
    region:                              # optional; normalised 0..1 polygon(s)
      include: [[0,0],[1,0],[1,1],[0,1]]   # the whole room
      # nothing to leave out yet
      exclude: []

  # The quiet room, seen from the ceiling.
  - id: quiet-room
    locationId: LOC-QUIET
    locationType: space
    minScore: 0.4    # raised: a poster looks like a person
    camera:
      url: rtsp://192.0.2.11/stream1
  - { id: desk-7, locationId: LOC-DESK, locationType: place, camera: { url: rtsp://192.0.2.12/s } }
`;

const square = (x0: number, y0: number, x1: number, y1: number) =>
  [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
  ] as [number, number][];

const edit = (over: Partial<RoomEdit['region']> = {}, minScore = 0.3): RoomEdit => ({
  region: { include: [square(0.1, 0.2, 0.9, 1)], exclude: [], anchor: 'bottom-center', ...over },
  minScore,
});

/** The lines `after` lost and gained against `before` (a line diff: longest common subsequence). */
function lineDiff(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs = a.map(() => new Array<number>(b.length + 1).fill(0));
  lcs.push(new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const removed: string[] = [];
  const added: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < b.length && (i === a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) added.push(b[j++]!);
    else removed.push(a[i++]!);
  }
  return { removed, added };
}

/** A region's include or exclude as a list of polygons (the file may hold one polygon). */
const polys = (v: unknown) => toPolygons(v as Polygon[]);

describe('renderRoomYaml', () => {
  it('prints the region block in flow style with 3 decimals, minScore only when asked', () => {
    const e = edit(
      { include: [square(0.12345, 0.2, 0.9, 0.99999)], exclude: [square(0.4, 0.4, 0.5, 0.5)] },
      0.45,
    );
    expect(renderRoomYaml(e, true)).toBe(
      [
        'minScore: 0.45',
        'region:',
        '  include: [[0.123, 0.2], [0.9, 0.2], [0.9, 1], [0.123, 1]]',
        '  exclude: [[0.4, 0.4], [0.5, 0.4], [0.5, 0.5], [0.4, 0.5]]',
        '  anchor: bottom-center',
        '',
      ].join('\n'),
    );
    expect(renderRoomYaml(edit({ include: [] }), false)).toBe(
      'region:\n  include: []\n  exclude: []\n  anchor: bottom-center\n',
    );
  });

  it('puts several polygons one per line, and what it prints loads as the region it describes', () => {
    const e = edit({ include: [square(0, 0, 0.5, 0.5), square(0.5, 0.5, 1, 1)], anchor: 'center' });
    const text = renderRoomYaml(e, false);
    expect(text).toContain('  include:\n    - [[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]]\n    - [[0.5, 0.5],');
    const room = `rooms:\n  - id: r\n    locationId: L\n    locationType: space\n    camera: { url: x.jpg }\n${text
      .split('\n')
      .map((l) => (l ? `    ${l}` : l))
      .join('\n')}`;
    const parsed = parseConfig(`sink: stdout\n${room}`, 'x.yaml');
    expect(parsed.rooms[0]!.region).toEqual({ include: e.region.include, exclude: [], anchor: 'center' });
  });
});

describe('editing a room in the YAML file', () => {
  const parse = (text: string) => parseConfig(text, 'roomcount.yaml', ENV);

  it('adds a region to a room that has none: one block inserted after its last key, nothing else touched', () => {
    const out = editRoomYaml(CONFIG, 'quiet-room', edit(), false);
    const { removed, added } = lineDiff(CONFIG, out);
    expect(removed).toEqual([]);
    expect(added).toEqual([
      '    region:',
      '      include: [[0.1, 0.2], [0.9, 0.2], [0.9, 1], [0.1, 1]]',
      '      exclude: []',
      '      anchor: bottom-center',
    ]);
    expect(out.indexOf('      url: rtsp://192.0.2.11/stream1\n    region:')).toBeGreaterThan(0);
    const room = parse(out).rooms[1]!;
    expect(polys(room.region.include)).toEqual(edit().region.include);
    expect(room.minScore).toBe(0.4);
  });

  it('rewrites an existing region value by value: comments on those lines and between them stay', () => {
    const e = edit({ exclude: [square(0.4, 0.5, 0.6, 0.7)], anchor: 'center' });
    const out = editRoomYaml(CONFIG, 'boardroom', e, false);
    const { removed, added } = lineDiff(CONFIG, out);
    expect(removed).toEqual([
      '      include: [[0,0],[1,0],[1,1],[0,1]]   # the whole room',
      '      exclude: []',
    ]);
    expect(added).toEqual([
      '      include: [[0.1, 0.2], [0.9, 0.2], [0.9, 1], [0.1, 1]]   # the whole room',
      '      exclude: [[0.4, 0.5], [0.6, 0.5], [0.6, 0.7], [0.4, 0.7]]',
      '      anchor: center',
    ]);
    expect(out).toContain('   # the whole room\n      # nothing to leave out yet\n      exclude: [[0.4');
    expect(out).toContain(
      '    region:                              # optional; normalised 0..1 polygon(s)\n',
    );
    const region = parse(out).rooms[0]!.region;
    expect({ ...region, include: polys(region.include), exclude: polys(region.exclude) }).toEqual(e.region);
  });

  it('replaces a block list of polygons, and several polygons become a block list', () => {
    const two = edit({ include: [square(0, 0, 0.5, 0.5), square(0.5, 0.5, 1, 1)] });
    const once = editRoomYaml(CONFIG, 'boardroom', two, false);
    expect(once).toContain(
      '      include:\n        - [[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]]\n        - [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]]   # the whole room\n',
    );
    expect(parse(once).rooms[0]!.region.include).toEqual(two.region.include);
    const back = editRoomYaml(once, 'boardroom', edit(), false);
    expect(back).toContain(
      '      include: [[0.1, 0.2], [0.9, 0.2], [0.9, 1], [0.1, 1]]   # the whole room\n',
    );
    expect(lineDiff(CONFIG, back)).toEqual({
      removed: ['      include: [[0,0],[1,0],[1,1],[0,1]]   # the whole room'],
      added: [
        '      include: [[0.1, 0.2], [0.9, 0.2], [0.9, 1], [0.1, 1]]   # the whole room',
        '      anchor: bottom-center',
      ],
    });
    expect(polys(parse(back).rooms[0]!.region.include)).toEqual(edit().region.include);
  });

  it('sets minScore in place (keeping its comment) or adds it; leaves it alone when not asked', () => {
    const raised = editRoomYaml(CONFIG, 'quiet-room', edit({}, 0.55), true);
    expect(raised).toContain('    minScore: 0.55    # raised: a poster looks like a person\n');
    expect(parse(raised).rooms[1]!.minScore).toBe(0.55);
    const added = editRoomYaml(CONFIG, 'boardroom', edit({}, 0.35), true);
    expect(lineDiff(CONFIG, added).added).toContain('    minScore: 0.35');
    expect(parse(added).rooms[0]!.minScore).toBe(0.35);
    expect(editRoomYaml(CONFIG, 'quiet-room', edit({}, 0.55), false)).not.toContain('0.55');
  });

  it('edits a room written as a flow mapping', () => {
    const out = editRoomYaml(CONFIG, 'desk-7', edit({ anchor: 'center' }, 0.5), true);
    const { removed, added } = lineDiff(CONFIG, out);
    expect(removed).toHaveLength(1);
    expect(added).toEqual([
      '  - { id: desk-7, locationId: LOC-DESK, locationType: place, camera: { url: rtsp://192.0.2.12/s }, minScore: 0.5, region: { include: [[0.1, 0.2], [0.9, 0.2], [0.9, 1], [0.1, 1]], exclude: [], anchor: center } }',
    ]);
    const room = parse(out).rooms[2]!;
    expect(room.region.anchor).toBe('center');
    expect(room.minScore).toBe(0.5);
    const again = editRoomYaml(out, 'desk-7', edit({ include: [] }), false);
    expect(parse(again).rooms[2]!.region.include).toEqual([]);
  });

  it('replaces a region written as a flow mapping, and gives a room its own region over the defaults', () => {
    const text = CONFIG.replace(
      '  sampleFps: 1 ',
      '  region: { include: [[0,0],[0.5,0],[0.5,1]] }\n  sampleFps: 1 ',
    ).replace(
      '    region:                              # optional; normalised 0..1 polygon(s)\n      include: [[0,0],[1,0],[1,1],[0,1]]   # the whole room\n      # nothing to leave out yet\n      exclude: []\n',
      '    region: { include: [[0,0],[1,0],[1,1]] }   # flow\n',
    );
    const before = parse(text);
    expect(before.rooms[1]!.region.include).toEqual([
      [
        [0, 0],
        [0.5, 0],
        [0.5, 1],
      ],
    ]);
    const flow = editRoomYaml(text, 'boardroom', edit(), false);
    expect(flow).toContain(
      '    region: { include: [[0.1, 0.2], [0.9, 0.2], [0.9, 1], [0.1, 1]], exclude: [], anchor: bottom-center }   # flow\n',
    );
    const own = parse(editRoomYaml(text, 'quiet-room', edit(), false));
    expect(polys(own.rooms[1]!.region.include)).toEqual(edit().region.include);
    expect(own.rooms[2]!.region.include).toEqual(before.rooms[2]!.region.include); // still the defaults'
  });

  it('keeps Windows line ends', () => {
    const crlf = CONFIG.replace(/\n/g, '\r\n');
    const out = editRoomYaml(
      crlf,
      'quiet-room',
      edit({ include: [square(0, 0, 0.5, 0.5), square(0.5, 0.5, 1, 1)] }),
      true,
    );
    expect(out.replace(/\r\n/g, '')).not.toContain('\n');
    expect(out.replace(/\r\n/g, '\n')).toBe(
      editRoomYaml(
        CONFIG,
        'quiet-room',
        edit({ include: [square(0, 0, 0.5, 0.5), square(0.5, 0.5, 1, 1)] }),
        true,
      ),
    );
  });

  it('says so when the room is gone', () => {
    expect(() => editRoomYaml(CONFIG, 'attic', edit(), false)).toThrow(/room "attic" is not in the file/);
  });
});

describe('saving (--write)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const withEnv = <T>(fn: () => T): T => {
    const saved = { ...process.env };
    Object.assign(process.env, ENV);
    try {
      return fn();
    } finally {
      for (const k of Object.keys(ENV)) if (saved[k] === undefined) delete process.env[k];
    }
  };

  it('writes atomically, keeps the file mode, other keys, comments and ${VARS}; the result loads', () => {
    const file = join(tmp.dir, 'a.yaml');
    writeFileSync(file, CONFIG);
    chmodSync(file, 0o640);
    const e = edit({ exclude: [square(0.2, 0.2, 0.3, 0.3)] }, 0.45);
    const { changed } = withEnv(() => saveRoomEdit(file, 'quiet-room', e, 0.3));
    expect(changed).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('.'))).toEqual([]); // no temp file left
    const { removed } = lineDiff(CONFIG, text);
    expect(removed).toEqual(['    minScore: 0.4    # raised: a poster looks like a person']);
    expect(text).toContain('rtsp://${CAM_USER}:${CAM_PASS}@192.0.2.10');
    expect(text).toContain('                                         # (the default)\n');
    const loaded = loadConfig(file, { ...process.env, ...ENV });
    expect(loaded.rooms[1]!.minScore).toBe(0.45);
    expect(polys(loaded.rooms[1]!.region.exclude)).toEqual(e.region.exclude);
    expect(loaded.rooms[0]).toEqual(parseConfig(CONFIG, file, ENV).rooms[0]);
    // Saving the same again changes nothing.
    expect(withEnv(() => saveRoomEdit(file, 'quiet-room', e, 0.3)).changed).toBe(false);
  });

  it('writes minScore only when it changes what the room gets', () => {
    const file = join(tmp.dir, 'b.yaml');
    writeFileSync(file, CONFIG);
    withEnv(() => saveRoomEdit(file, 'boardroom', edit({}, 0.3), 0.3)); // the detector's 0.3: nothing to add
    expect(readFileSync(file, 'utf8')).not.toMatch(/^ {4}minScore: 0\.3$/m);
    withEnv(() => saveRoomEdit(file, 'boardroom', edit({}, 0.42), 0.3));
    expect(readFileSync(file, 'utf8')).toMatch(/^ {4}minScore: 0\.42$/m);
  });

  it('refuses to write a config that would not load, and one that does not load now', () => {
    const file = join(tmp.dir, 'c.yaml');
    writeFileSync(file, CONFIG);
    const mtime = statSync(file).mtimeMs;
    const bad = edit({
      include: [
        [
          [0.1, 0.1],
          [0.2, 0.2],
        ],
      ],
    }); // two points
    expect(() => withEnv(() => saveRoomEdit(file, 'boardroom', bad, 0.3))).toThrow(
      /would not load, so it was not written:\n.*rooms\[0\]\.region\.include.*at least 3 points/s,
    );
    expect(readFileSync(file, 'utf8')).toBe(CONFIG);
    expect(statSync(file).mtimeMs).toBe(mtime);
    writeFileSync(file, CONFIG.replace('sampleFps: 1', 'sampleFps: fast'));
    expect(() => withEnv(() => saveRoomEdit(file, 'boardroom', edit(), 0.3))).toThrow(
      /does not load any more/,
    );
  });
});

// ---- the server, with a fake camera and a fake detector --------------------------------------------------------

const WIDTH = 200;
const HEIGHT = 100;

/** Three people standing in a row (left, middle, right) and one weak detection. */
const PEOPLE: Detection[] = [
  { score: 0.9, box: [10, 20, 40, 90] },
  { score: 0.8, box: [90, 20, 110, 90] },
  { score: 0.6, box: [160, 20, 190, 90] },
  { score: 0.2, box: [60, 30, 70, 60] },
];

class FakeCamera extends EventEmitter implements SetupCamera {
  state: CameraState = 'connecting';
  stopped = false;
  start(): void {
    this.state = 'streaming';
    this.push();
  }
  push(): void {
    const data = new Uint8Array(WIDTH * HEIGHT * 3).fill(128);
    this.emit('frame', { width: WIDTH, height: HEIGHT, data, capturedAt: Date.now() } satisfies Frame);
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
  }
}

function fakePeopleDetector(): Detector & { calls: number } {
  const d: Detector & { calls: number } = Object.assign(
    fakeDetector(
      async () => {
        d.calls++;
        return PEOPLE.map((p) => ({ ...p, box: [...p.box] as Detection['box'] }));
      },
      { size: WIDTH },
    ),
    { calls: 0 },
  );
  return d;
}

describe('setup server', () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 'roomcount.yaml');
  const TOKEN = 'a'.repeat(32);
  let server: SetupServer;
  let readOnly: SetupServer;
  let live: LiveRooms;
  const cameras: FakeCamera[] = [];
  const detector = fakePeopleDetector();
  let base = '';

  beforeAll(async () => {
    writeFileSync(file, CONFIG);
    const config = parseConfig(CONFIG, file, ENV);
    live = new LiveRooms({
      roomIds: config.rooms.map((r) => r.id),
      detector,
      makeCamera: () => {
        const c = new FakeCamera();
        cameras.push(c);
        return c;
      },
    });
    const common = {
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      file,
      config,
      live,
      detector: { model: 'fake', backend: 'none', showFrom: 0.1, minScore: 0.3 },
      cameraLabel: () => 'rtsp://***:***@192.0.2.10/stream1',
    };
    server = await startSetupServer({
      ...common,
      save: (id, e) => saveRoomEdit(file, id, e, 0.3),
    });
    readOnly = await startSetupServer(common);
    base = `http://127.0.0.1:${server.port}`;
    process.env.CAM_USER ??= ENV.CAM_USER;
    process.env.CAM_PASS ??= ENV.CAM_PASS;
  });
  afterAll(async () => {
    await server?.close();
    await readOnly?.close();
    await live?.close();
    tmp.cleanup();
  });

  const body = (over: Record<string, unknown> = {}) => ({
    room: 'boardroom',
    minScore: 0.3,
    region: { include: [], exclude: [], anchor: 'bottom-center' },
    ...over,
  });
  const post = (path: string, value: unknown, token = TOKEN, at = base) =>
    fetch(`${at}${path}?token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(value),
    });

  it('answers 403 to every request without the right token', async () => {
    for (const path of [
      '/',
      '/api/rooms',
      '/api/frame?room=boardroom&seq=1',
      '/nope',
      '/?token=',
      `/?token=${'b'.repeat(32)}`,
    ]) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(403);
      expect(await res.text()).not.toContain(TOKEN);
    }
    expect((await post('/api/recount', body(), 'wrong')).status).toBe(403);
    expect((await post('/api/save', body(), '')).status).toBe(403);
    expect(detector.calls).toBe(0);
  });

  it('serves the page with the token: self-contained, no caching, strict CSP', async () => {
    const res = await fetch(`${base}/?token=${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await res.text();
    expect(html).toBe(SETUP_PAGE);
    expect(html).not.toMatch(/https?:\/\//); // nothing from anywhere else
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/);
  });

  it('answers GET and POST only; refuses big, non-JSON and malformed bodies', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${base}/api/recount?token=${TOKEN}`, { method, body: '{}' });
      expect(res.status, method).toBe(405);
    }
    const big = { ...body(), pad: 'x'.repeat(MAX_BODY_BYTES) };
    expect((await post('/api/recount', big)).status).toBe(413);
    const text = await fetch(`${base}/api/recount?token=${TOKEN}`, {
      method: 'POST',
      body: 'room=boardroom',
    });
    expect(text.status).toBe(415);
    const two = body({
      region: {
        include: [
          [
            [0, 0],
            [1, 1],
          ],
        ],
        exclude: [],
        anchor: 'bottom-center',
      },
    });
    const res = await post('/api/recount', two);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /region\.include\.0: a polygon needs at least 3 points/,
    );
    expect((await post('/api/recount', body({ room: 'attic' }))).status).toBe(404);
  });

  it('lists the rooms with their regions and effective minScore, camera URLs without credentials', async () => {
    const info = (await (await fetch(`${base}/api/rooms?token=${TOKEN}`)).json()) as {
      write: boolean;
      rooms: { id: string; minScore: number; camera: string; region: { include: unknown } }[];
    };
    expect(info.write).toBe(true);
    expect(info.rooms.map((r) => [r.id, r.minScore])).toEqual([
      ['boardroom', 0.3],
      ['quiet-room', 0.4],
      ['desk-7', 0.3],
    ]);
    expect(info.rooms[0]!.region.include).toEqual([square(0, 0, 1, 1)]);
  });

  interface Answer {
    frame: { seq: number; width: number; height: number };
    count: number;
    detections: { counted: boolean; reason?: string; score: number }[];
    yaml: string;
  }
  const recount = async (over: Record<string, unknown> = {}) => {
    const res = await post('/api/recount', body(over));
    expect(res.status).toBe(200);
    return (await res.json()) as Answer;
  };

  it('recounts the frame shown with the edited region and minScore, with the room filter of the service', async () => {
    const whole = await recount();
    expect(whole.frame).toMatchObject({ width: WIDTH, height: HEIGHT });
    expect(whole.count).toBe(3);
    expect(whole.detections.map((d) => d.reason ?? 'counted')).toEqual([
      'counted',
      'counted',
      'counted',
      'below minScore',
    ]);
    const seq = whole.frame.seq;
    const calls = detector.calls;

    const leftHalf = { include: [square(0, 0, 0.5, 1)], exclude: [], anchor: 'bottom-center' };
    const left = await recount({ seq, region: leftHalf });
    expect(left.count).toBe(1);
    expect(left.detections.map((d) => d.reason ?? 'counted')).toEqual([
      'counted',
      'outside region',
      'outside region',
      'below minScore',
    ]);
    const holed = await recount({
      seq,
      region: { ...leftHalf, include: [square(0, 0, 1, 1)], exclude: [square(0, 0.5, 0.3, 1)] },
    });
    expect(holed.count).toBe(2);
    expect(holed.detections[0]!.reason).toBe('excluded');
    // An exclude area over the first person's feet (y 0.6..1): their box centre (y 0.55) is above it.
    const feet = [square(0, 0.6, 0.3, 1)];
    expect(
      (await recount({ seq, region: { include: [], exclude: feet, anchor: 'bottom-center' } })).count,
    ).toBe(2);
    expect((await recount({ seq, region: { include: [], exclude: feet, anchor: 'center' } })).count).toBe(3);
    const strict = await recount({ seq, minScore: 0.7 });
    expect(strict.count).toBe(2);
    expect(strict.yaml).toBe(renderRoomYaml(edit({ include: [] }, 0.7), true));
    expect(strict.yaml).toMatch(/^minScore: 0\.7\nregion:\n/);
    expect((await recount({ seq })).yaml).not.toContain('minScore');
    // The same frame each time: the detector ran once for it.
    expect(detector.calls).toBe(calls);
    expect(strict.frame.seq).toBe(seq);
  });

  it('analyses a new frame only when the camera delivered one, and serves frames as uncached JPEG', async () => {
    const first = await recount();
    const calls = detector.calls;
    expect((await recount()).frame.seq).toBe(first.frame.seq);
    expect(detector.calls).toBe(calls);
    cameras[0]!.push();
    const next = await recount();
    expect(next.frame.seq).toBeGreaterThan(first.frame.seq);
    expect(detector.calls).toBe(calls + 1);

    const res = await fetch(`${base}/api/frame?room=boardroom&seq=${next.frame.seq}&token=${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', WIDTH, HEIGHT]);
    expect((await fetch(`${base}/api/frame?room=boardroom&seq=999999&token=${TOKEN}`)).status).toBe(404);
  });

  it('saves only when started with --write, and the file then gives the room the region', async () => {
    const roBase = `http://127.0.0.1:${readOnly.port}`;
    const refused = await post('/api/save', body(), TOKEN, roBase);
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as { error: string }).error).toMatch(/--write/);
    expect(readFileSync(file, 'utf8')).toBe(CONFIG);

    const region = { include: [square(0.25, 0, 0.75, 1)], exclude: [], anchor: 'bottom-center' };
    const res = await post('/api/save', body({ room: 'quiet-room', region, minScore: 0.4 }));
    const answer = (await res.json()) as { ok: boolean; message: string; yaml: string };
    expect(res.status, JSON.stringify(answer)).toBe(200);
    expect(answer.message).toBe('Saved room quiet-room to roomcount.yaml.');
    const saved = loadConfig(file, { ...process.env, ...ENV });
    expect(polys(saved.rooms[1]!.region.include)).toEqual(region.include);
    expect(saved.rooms[1]!.minScore).toBe(0.4);
    const text = readFileSync(file, 'utf8');
    expect(lineDiff(CONFIG, text).removed).toEqual([]);
  });
});

describe('LiveRooms', () => {
  afterEach(() => vi.useRealTimers());

  it('starts a room camera when first asked for, and stops it after a minute without requests', async () => {
    vi.useFakeTimers();
    const made: FakeCamera[] = [];
    const live = new LiveRooms({
      roomIds: ['a', 'b'],
      detector: fakePeopleDetector(),
      makeCamera: () => {
        const c = new FakeCamera();
        made.push(c);
        return c;
      },
    });
    expect(made).toHaveLength(0);
    expect((await live.newest('a'))?.detections).toHaveLength(PEOPLE.length);
    expect(made).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(30_000);
    await live.newest('a'); // still looked at
    await vi.advanceTimersByTimeAsync(45_000);
    expect(made[0]!.stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(made[0]!.stopped).toBe(true);
    await live.newest('a');
    expect(made).toHaveLength(2); // started again
    await live.close();
    expect(made[1]!.stopped).toBe(true);
  });
});

describe('isLoopback', () => {
  it('knows the loopback names', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '::', '192.168.1.5', 'box.local'].map(isLoopback)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});
