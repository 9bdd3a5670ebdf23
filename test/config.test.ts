import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskConfig, parseConfig } from '../src/config/load.js';
import { configProblems } from './helpers/config.js';

/** Template tag: drops the first newline and the common indentation, so line 1 is the first fixture line. */
function yml(strings: TemplateStringsArray): string {
  const lines = strings.join('').replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

const ENV = {
  CALVEN_API_KEY: 'key-0123456789',
  CALVEN_API_SECRET: 'top-secret-value',
  CAM_USER: 'viewer',
  CAM_PASS: 'cam-pass-42',
};

/** The CONTRACT example. */
const FULL = yml`
  sourceId: "roomcount floor-3"
  sink: calven
  calven:
    baseUrl: https://api.calven.com
    auth:
      type: hmac
      apiKey: \${CALVEN_API_KEY}
      apiSecret: \${CALVEN_API_SECRET}
  detector:
    model: centernet
    modelPath: ./models/yolox_nano.onnx
    minScore: 0.3
  stateDir: ./state
  http:
    port: 9464
  defaults:
    sampleFps: 1
    windowSeconds: 10
    heartbeatSeconds: 0
  rooms:
    - id: boardroom
      locationId: D0FA9F18-6E7F-449A-8C50-30276AA9B63F
      locationType: space
      camera:
        url: rtsp://\${CAM_USER}:\${CAM_PASS}@192.0.2.10:554/stream1
      region:
        include: [[0,0],[1,0],[1,1],[0,1]]
        exclude: []
`;

/** Problems of an invalid config, without the file name. */
const ROOM = '  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 } }';
const problems = (text: string, env: NodeJS.ProcessEnv = ENV) => configProblems(text, env);

describe('parseConfig: valid configs', () => {
  it('parses the CONTRACT example with env vars and defaults applied', () => {
    const cfg = parseConfig(FULL, 'rooms.yaml', ENV);
    expect(cfg.sourceId).toBe('roomcount floor-3');
    expect(cfg.calven?.auth).toEqual({
      type: 'hmac',
      apiKey: ENV.CALVEN_API_KEY,
      apiSecret: ENV.CALVEN_API_SECRET,
    });
    expect(cfg.detector).toEqual({
      model: 'centernet',
      modelPath: './models/yolox_nano.onnx',
      minScore: 0.3,
    });
    expect(cfg.http.port).toBe(9464);
    expect(cfg).not.toHaveProperty('defaults');
    expect(cfg.rooms).toEqual([
      {
        id: 'boardroom',
        locationId: 'D0FA9F18-6E7F-449A-8C50-30276AA9B63F',
        locationType: 'space',
        sampleFps: 1,
        windowSeconds: 10,
        heartbeatSeconds: 0,
        staleSeconds: 60,
        stationaryMinutes: 60,
        skipStillFrames: true,
        smoothing: 'median',
        minStableSeconds: 2,
        emptyHoldSeconds: 10,
        minEventIntervalSeconds: 5,
        camera: {
          url: 'rtsp://viewer:cam-pass-42@192.0.2.10:554/stream1',
          transport: 'tcp',
          loop: true,
          keyframesOnly: false,
          watchdogSeconds: 10, // derived from sampleFps: max(10, 5 / sampleFps)
        },
        region: {
          include: [
            [
              [0, 0],
              [1, 0],
              [1, 1],
              [0, 1],
            ],
          ],
          exclude: [],
          anchor: 'bottom-center',
        },
      },
    ]);
  });

  it('fills in schema defaults for a minimal config', () => {
    const cfg = parseConfig(
      yml`
        calven:
          auth: { type: oauth, clientId: c, clientSecret: s }
        rooms:
          - { id: r1, locationId: L1, locationType: place, camera: { url: ./clip.mp4 } }
      `,
      'min.yaml',
      {},
    );
    expect(cfg).toMatchObject({
      sourceId: 'roomcount',
      sink: 'calven',
      calven: { baseUrl: 'https://api.calven.com' },
      detector: { model: 'auto' },
      stateDir: './state',
      http: { port: 9464 },
    });
    expect(cfg.rooms[0]).toMatchObject({ sampleFps: 1, windowSeconds: 10, heartbeatSeconds: 0 });
    expect(cfg.rooms[0]?.region).toEqual({ include: [], exclude: [], anchor: 'bottom-center' });
    expect(cfg.rooms[0]).not.toHaveProperty('minBoxArea');
    expect(cfg.rooms[0]).not.toHaveProperty('maxBoxArea');
  });

  it('merges defaults into rooms: own values win, mappings merge by key, lists are replaced', () => {
    const cfg = parseConfig(
      yml`
        sink: stdout
        defaults:
          sampleFps: 2
          locationType: space
          camera: { transport: udp, loop: false }
          region: { include: [[0,0],[1,0],[1,1]], exclude: [[0,0],[0.1,0],[0,0.1]] }
        rooms:
          - id: a
            locationId: LA
            sampleFps: 5
            camera: { url: a.mp4, loop: true }
            region: { include: [[0,0],[0.5,0],[0.5,0.5]] }
          - id: b
            locationId: LB
            locationType: place
            camera: { url: b.mp4 }
      `,
      'rooms.yaml',
      {},
    );
    const [a, b] = cfg.rooms;
    expect(a).toMatchObject({ sampleFps: 5, locationType: 'space', windowSeconds: 10 });
    expect(a?.camera).toMatchObject({ url: 'a.mp4', transport: 'udp', loop: true });
    expect(a?.region).toEqual({
      include: [
        [
          [0, 0],
          [0.5, 0],
          [0.5, 0.5],
        ],
      ],
      exclude: [
        [
          [0, 0],
          [0.1, 0],
          [0, 0.1],
        ],
      ],
      anchor: 'bottom-center',
    });
    expect(b).toMatchObject({ sampleFps: 2, locationType: 'place' });
    expect(b?.camera).toMatchObject({ url: 'b.mp4', transport: 'udp', loop: false });
    expect(b?.region.include).toEqual([
      [
        [0, 0],
        [1, 0],
        [1, 1],
      ],
    ]);
  });

  it('fills in the defaults that depend on other keys: the watchdog from sampleFps, regions as lists', () => {
    const cfg = parseConfig(
      yml`
        sink: stdout
        rooms:
          - { id: a, locationId: A, locationType: space, sampleFps: 0.2, camera: { url: a.mp4 } }
          - { id: b, locationId: B, locationType: space, sampleFps: 2, camera: { url: b.mp4 } }
          - { id: c, locationId: C, locationType: space, camera: { url: c.mp4, watchdogSeconds: 7 } }
      `,
      'rooms.yaml',
      {},
    );
    expect(cfg.rooms.map((r) => r.camera.watchdogSeconds)).toEqual([25, 10, 7]);
    expect(cfg.rooms.map((r) => r.region)).toEqual(
      Array(3).fill({ include: [], exclude: [], anchor: 'bottom-center' }),
    );
  });

  it('builds detector from one object per model: each takes the keys its descriptor says', () => {
    const ok = (detector: string) =>
      parseConfig(`sink: stdout\ndetector: ${detector}\nrooms:\n${ROOM}\n`, 'd.yaml', {}).detector;
    expect(ok('{ model: rtmdet-nano, inputSize: 416 }')).toEqual({ model: 'rtmdet-nano', inputSize: 416 });
    expect(ok('{ inputSize: 416 }')).toEqual({ model: 'auto', inputSize: 416 }); // auto may pick rtmdet-nano
    expect(ok('{ model: coco-ssd, base: mobilenet_v1 }')).toEqual({
      model: 'coco-ssd',
      base: 'mobilenet_v1',
    });
    const refused = (detector: string) =>
      configProblems(`sink: stdout\ndetector: ${detector}\nrooms:\n${ROOM}\n`, {}).map((p) => p.message);
    expect(refused('{ model: yolox-nano, inputSize: 416 }')).toEqual([
      'detector.inputSize applies to rtmdet-nano only (model is "yolox-nano")',
    ]);
    expect(refused('{ modelPath: ./m.onnx, base: mobilenet_v1 }')).toEqual([
      "detector.modelPath names one model's file: set detector.model to that model (not auto)",
      'detector.base applies to coco-ssd only (model is "auto")',
    ]);
    expect(refused('{ model: centernet, modelUrl: "https://example.com/m.json" }')).toEqual([
      'detector.modelUrl applies to coco-ssd only (model is "centernet")',
    ]);
  });

  it('substitutes ${NAME} anywhere in a string; $${NAME} is a literal', () => {
    const cfg = parseConfig(
      yml`
        sourceId: "site \${SITE} costs $\${SITE}"
        sink: stdout
        stateDir: \${EMPTY}/state
        http:
          port: \${PORT}
        rooms:
          - { id: r, locationId: "\${PORT}", locationType: zone, camera: { url: "rtsp://\${U}:\${P}@cam/1" } }
      `,
      'rooms.yaml',
      { SITE: 'HQ', EMPTY: '', PORT: '8080', U: 'me', P: 'p@ss' },
    );
    expect(cfg.sourceId).toBe('site HQ costs ${SITE}');
    expect(cfg.stateDir).toBe('/state');
    expect(cfg.http.port).toBe(8080); // an unquoted scalar is typed after substitution...
    expect(cfg.rooms[0]?.locationId).toBe('8080'); // ...a quoted one stays a string
    expect(cfg.rooms[0]?.camera.url).toBe('rtsp://me:p@ss@cam/1');
  });

  it('loadConfig reads a file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'roomcount-')), 'rooms.yaml');
    writeFileSync(file, FULL);
    expect(loadConfig(file, ENV).rooms[0]?.id).toBe('boardroom');
  });
});

describe('parseConfig: errors point at the YAML', () => {
  const room = (extra = '') =>
    `  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 }${extra} }\n`;

  it('smoothing: median, mode, max or a percentile p1..p99', () => {
    const cfg = parseConfig(`sink: stdout\nrooms:\n${room(', smoothing: p75')}`, 'rooms.yaml', ENV);
    expect(cfg.rooms[0]?.smoothing).toBe('p75');
    expect(problems(`sink: stdout\nrooms:\n${room(', smoothing: p100')}`)).toEqual([
      {
        line: 3,
        col: 85,
        path: 'rooms[0].smoothing',
        message: 'expected median, mode, max or a percentile p1..p99 (e.g. p75); got "p100"',
      },
    ]);
    expect(problems(`sink: stdout\nrooms:\n${room(', smoothing: 75')}`)[0]?.message).toBe(
      'expected string, got number 75',
    );
  });

  it('unknown key at the top level', () => {
    expect(problems(`sink: stdout\nsinc: calven\nrooms:\n${room()}`)).toEqual([
      { line: 2, col: 1, path: 'sinc', message: 'unknown key "sinc" (did you mean "sink"?)' },
    ]);
  });

  it('unknown key in a room (including nested mappings)', () => {
    expect(
      problems(yml`
        sink: stdout
        rooms:
          - id: r
            locationId: L
            locationType: space
            sampelFps: 2
            camera: { url: x.mp4, transprt: tcp, colour: red }
      `),
    ).toEqual([
      {
        line: 6,
        col: 5,
        path: 'rooms[0].sampelFps',
        message: 'unknown key "sampelFps" (did you mean "sampleFps"?)',
      },
      {
        line: 7,
        col: 27,
        path: 'rooms[0].camera.transprt',
        message: 'unknown key "transprt" (did you mean "transport"?)',
      },
      { line: 7, col: 42, path: 'rooms[0].camera.colour', message: 'unknown key "colour"' },
    ]);
  });

  it('unknown key in defaults (also nested), reported once for all rooms', () => {
    expect(
      problems(yml`
        sink: stdout
        defaults:
          windwSeconds: 5
          id: x
          camera:
            loops: true
        rooms:
          - { id: a, locationId: L, locationType: space, camera: { url: a.mp4 } }
          - { id: b, locationId: L, locationType: space, camera: { url: b.mp4 } }
      `),
    ).toEqual([
      {
        line: 3,
        col: 3,
        path: 'defaults.windwSeconds',
        message: 'unknown key "windwSeconds" (did you mean "windowSeconds"?)',
      },
      {
        line: 4,
        col: 3,
        path: 'defaults.id',
        message: '"id" cannot be set under defaults (set it in each room)',
      },
      {
        line: 6,
        col: 5,
        path: 'defaults.camera.loops',
        message: 'unknown key "loops" (did you mean "loop"?)',
      },
    ]);
  });

  it('wrong type, in a room and in defaults', () => {
    expect(
      problems(yml`
        sink: stdout
        defaults:
          windowSeconds: ten
        rooms:
          - id: r
            locationId: L
            locationType: space
            sampleFps: abc
            camera: { url: x.mp4 }
      `),
    ).toEqual([
      { line: 3, col: 18, path: 'defaults.windowSeconds', message: 'expected number, got string "ten"' },
      { line: 8, col: 16, path: 'rooms[0].sampleFps', message: 'expected number, got string "abc"' },
    ]);
  });

  it('invalid enum value', () => {
    expect(
      problems(yml`
        sink: stdout
        rooms:
          - id: r
            locationId: L
            locationType: office
            camera: { url: x.mp4 }
      `),
    ).toEqual([
      {
        line: 5,
        col: 19,
        path: 'rooms[0].locationType',
        message: 'expected one of level, location, place, space, zone; got string "office"',
      },
    ]);
  });

  it('missing required key points at the mapping that lacks it', () => {
    expect(
      problems(yml`
        sink: stdout
        rooms:
          - id: r
            locationType: space
            camera:
              transport: udp
      `),
    ).toEqual([
      { line: 3, col: 5, path: 'rooms[0]', message: 'missing required key "locationId"' },
      { line: 6, col: 7, path: 'rooms[0].camera', message: 'missing required key "url"' },
    ]);
  });

  it('duplicate room ids', () => {
    expect(problems(`sink: stdout\nrooms:\n${room()}${room()}`)).toEqual([
      { line: 4, col: 11, path: 'rooms[1].id', message: 'duplicate room id "r" (also rooms[0])' },
    ]);
  });

  it('duplicate room ids are reported alongside other problems', () => {
    expect(problems(`sink: stdout\nrooms:\n${room(', sampleFps: -1')}${room()}`)).toEqual([
      { line: 3, col: 85, path: 'rooms[0].sampleFps', message: 'must be greater than 0' },
      { line: 4, col: 11, path: 'rooms[1].id', message: 'duplicate room id "r" (also rooms[0])' },
    ]);
  });

  it('unset environment variable, once per occurrence', () => {
    expect(
      problems(
        yml`
          sink: stdout
          sourceId: \${SITE}-\${FLOOR}
          rooms:
            - id: r
              locationId: L
              locationType: space
              camera:
                url: "rtsp://\${CAM_USER}:\${NOPE}@cam"
        `,
        { CAM_USER: 'u' },
      ),
    ).toEqual([
      { line: 2, col: 11, path: 'sourceId', message: 'environment variable "SITE" is not set' },
      { line: 2, col: 11, path: 'sourceId', message: 'environment variable "FLOOR" is not set' },
      { line: 8, col: 12, path: 'rooms[0].camera.url', message: 'environment variable "NOPE" is not set' },
    ]);
  });

  it('a wrong value from the environment is described, never shown (it may be a secret)', () => {
    const text = (type: string) =>
      yml`
      calven:
        auth:
          type: TYPE
          apiKey: key
          apiSecret: \${SECRET}
      rooms:
        - id: r
          locationId: L
          locationType: space
          camera: { url: "rtsp://cam" }
          sampleFps: \${FPS}
    `.replace('TYPE', type);
    const env = { SECRET: '918273645', AUTH_TYPE: 'hmca', FPS: 'fast' };
    expect(problems(text('${AUTH_TYPE}'), env)).toEqual([
      {
        line: 3,
        col: 11,
        path: 'calven.auth.type',
        message: 'expected one of hmac, oauth; got a string from the environment (value not shown)',
      },
      {
        line: 11,
        col: 16,
        path: 'rooms[0].sampleFps',
        message: 'expected number, got a string from the environment (value not shown)',
      },
    ]);
    const found = problems(text('hmac'), { ...env, FPS: '918273645x' });
    expect(found.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`)).toEqual([
      '11:16 rooms[0].sampleFps: expected number, got a string from the environment (value not shown)',
    ]);
    expect(JSON.stringify(found)).not.toContain('918273645');
  });

  it('a value from the environment gets the type its key wants, quoted or not', () => {
    const config = parseConfig(
      yml`
        http: { port: "\${PORT}" }
        calven:
          auth:
            type: hmac
            apiKey: \${KEY}
            apiSecret: \${SECRET}
        rooms:
          - { id: r, locationId: "\${LOC}", locationType: space, camera: { url: x.mp4, keyframesOnly: "\${KEY_ONLY}" }, sampleFps: "\${FPS}" }
        defaults:
          windowSeconds: \${WINDOW}
      `,
      'rooms.yaml',
      {
        PORT: '8080',
        KEY: '0123',
        SECRET: '918273645',
        LOC: '4711',
        KEY_ONLY: 'true',
        FPS: '2',
        WINDOW: '30',
      },
    );
    expect(config.http.port).toBe(8080);
    // Text stays text, even if it reads as a number: a secret "0123" is not 123.
    expect(config.calven?.auth).toEqual({ type: 'hmac', apiKey: '0123', apiSecret: '918273645' });
    expect(config.rooms[0]).toMatchObject({ locationId: '4711', sampleFps: 2, windowSeconds: 30 });
    expect(config.rooms[0]!.camera.keyframesOnly).toBe(true);
  });

  it('an unquoted ${NAME} inside { } gets a hint', () => {
    expect(problems('rooms:\n  - { id: r, sampleFps: ${FPS} }\n', { FPS: '2' })).toEqual([
      {
        line: 2,
        col: 26,
        path: '',
        message: expect.stringMatching(
          /\(inside \{ \} or \[ \], put quotes around \$\{NAME\}: "\$\{NAME\}"\)$/,
        ),
      },
    ]);
  });

  it('YAML syntax error', () => {
    expect(problems(`sink: stdout\nrooms: id: r\n`)).toEqual([
      { line: 2, col: 8, path: '', message: 'Nested mappings are not allowed in compact mappings' },
    ]);
  });

  it('duplicate YAML key', () => {
    expect(problems(`sink: stdout\nrooms:\n  - id: r\n    locationId: L\n    id: s\n`)).toEqual([
      { line: 5, col: 5, path: '', message: 'duplicate key "id"' },
    ]);
  });

  it('missing file', () => {
    const file = join(tmpdir(), 'roomcount-does-not-exist.yaml');
    expect(() => loadConfig(file)).toThrow(ConfigError);
    expect(() => loadConfig(file)).toThrow(`${file}:1:1: cannot read config file: file not found`);
  });

  it('reports every problem at once, sorted, one per line', () => {
    let error: ConfigError | undefined;
    try {
      parseConfig(
        yml`
          sink: stdout
          http: { port: 1.5 }
          rooms:
            - id: r
              locationType: office
              camera:
                url: \${CAM}
              colour: red
        `,
        'rooms.yaml',
        {},
      );
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message.split('\n')).toEqual([
      'rooms.yaml:2:15: http.port: expected integer, got number 1.5',
      'rooms.yaml:4:5: rooms[0]: missing required key "locationId"',
      'rooms.yaml:5:19: rooms[0].locationType: expected one of level, location, place, space, zone; got string "office"',
      'rooms.yaml:7:12: rooms[0].camera.url: environment variable "CAM" is not set',
      'rooms.yaml:8:5: rooms[0].colour: unknown key "colour"',
    ]);
  });
});

describe('maskConfig', () => {
  it('hides API secrets and camera credentials', () => {
    const masked = maskConfig(parseConfig(FULL, 'rooms.yaml', ENV));
    const text = JSON.stringify(masked);
    for (const secret of [ENV.CALVEN_API_SECRET, ENV.CAM_PASS, ENV.CAM_USER, ENV.CALVEN_API_KEY]) {
      expect(text).not.toContain(secret);
    }
    expect(masked).toMatchObject({
      calven: { auth: { apiKey: 'key-…', apiSecret: '***' } },
      rooms: [{ camera: { url: 'rtsp://***:***@192.0.2.10:554/stream1' } }],
    });
  });

  it('hides short keys completely and OAuth client secrets', () => {
    const cfg = parseConfig(
      `calven: { auth: { type: oauth, clientId: id, clientSecret: shh-secret } }\nrooms:\n  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 } }\n`,
      'rooms.yaml',
      {},
    );
    expect(JSON.stringify(maskConfig(cfg))).not.toContain('shh-secret');
    expect(maskConfig(cfg)).toMatchObject({ calven: { auth: { clientId: 'id', clientSecret: '***' } } });
  });

  it('hides credentials in calven.baseUrl (a proxy with user:password@)', () => {
    const cfg = parseConfig(
      `calven: { baseUrl: "https://proxy:pr0xy-s3cret@calven.example/", auth: { type: oauth, clientId: id, clientSecret: shh-secret } }\nrooms:\n  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 } }\n`,
      'rooms.yaml',
      {},
    );
    expect(JSON.stringify(maskConfig(cfg))).not.toContain('pr0xy-s3cret');
  });
});

describe('detection keys: detector.sha256/base, region.anchor, minBoxArea/maxBoxArea', () => {
  it('accepts them, in rooms and under defaults, and normalises the sha256 to lower case', () => {
    const cfg = parseConfig(
      yml`
        sink: stdout
        detector:
          model: yolox-nano
          modelPath: ./models/yolox_nano.onnx
          sha256: 695E750A5D5754BB5A8D5325643B59282191A7E7A564E435A415FD3C578EAB14
        defaults:
          locationType: space
          minBoxArea: 0.001
          region: { anchor: center }
        rooms:
          - { id: a, locationId: A, camera: { url: a.mp4 }, maxBoxArea: 0.5, minScore: 0.4 }
          - { id: b, locationId: B, camera: { url: b.mp4 }, region: { anchor: bottom-center } }
      `,
      'rooms.yaml',
      {},
    );
    expect(cfg.detector.sha256).toBe('695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14');
    const [a, b] = cfg.rooms;
    expect(a).toMatchObject({
      minBoxArea: 0.001,
      maxBoxArea: 0.5,
      minScore: 0.4,
      region: { anchor: 'center' },
    });
    expect(b).toMatchObject({ minBoxArea: 0.001, region: { anchor: 'bottom-center', exclude: [] } });
    expect(b).not.toHaveProperty('maxBoxArea');
  });

  it('accepts a coco-ssd base', () => {
    const cfg = parseConfig(
      `sink: stdout\ndetector: { model: coco-ssd, base: mobilenet_v2, modelPath: ./m }\nrooms:\n` +
        `  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 } }\n`,
      'rooms.yaml',
      {},
    );
    expect(cfg.detector).toEqual({
      model: 'coco-ssd',
      base: 'mobilenet_v2',
      modelPath: './m',
    });
  });

  const room = '  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 }';
  it('rejects bad values with their place in the YAML', () => {
    expect(
      problems(
        `sink: stdout\ndetector: { model: yolox-nano, sha256: abc }\nrooms:\n` +
          `${room}, minBoxArea: 1.5, region: { anchor: feet } }\n`,
      ),
    ).toEqual([
      { line: 2, col: 40, path: 'detector.sha256', message: 'expected 64 hex digits' },
      { line: 4, col: 86, path: 'rooms[0].minBoxArea', message: 'must be at most 1' },
      {
        line: 4,
        col: 109,
        path: 'rooms[0].region.anchor',
        message: 'expected one of bottom-center, center; got string "feet"',
      },
    ]);
  });

  it('rejects minBoxArea above maxBoxArea, and keys of another model', () => {
    const found = problems(
      `sink: stdout\ndetector: { model: centernet, base: mobilenet_v1, sha256: ${'a'.repeat(64)} }\nrooms:\n` +
        `${room}, minBoxArea: 0.2, maxBoxArea: 0.1 }\n`,
    );
    expect(found.map((p) => [p.path, p.message])).toEqual([
      ['detector.base', 'detector.base applies to coco-ssd only (model is "centernet")'],
      [
        'detector.sha256',
        'detector.sha256 applies to rtmdet-nano, yolox-nano, nanodet-plus only (model is "centernet")',
      ],
      ['rooms[0].maxBoxArea', 'maxBoxArea (0.1) is below minBoxArea (0.2): no person could count'],
    ]);
  });

  it('rejects coco-ssd with both modelPath and modelUrl', () => {
    const found = problems(
      `sink: stdout\ndetector: { model: coco-ssd, modelPath: ./m, modelUrl: "https://example.com/model.json" }\n` +
        `rooms:\n${room} }\n`,
    );
    expect(found.map((p) => p.message)).toEqual([
      'set either detector.modelPath or detector.modelUrl, not both',
    ]);
  });
});
