/**
 * The `npm start` demo: the picture it composes, the rooms of config/demo.yaml, the numbers the README states,
 * and that the detectors report exactly those numbers (DEMO_ROOM_COUNTS) on it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countImages } from '../src/commands/count.js';
import { detectorConfigFrom } from '../src/commands/detector-options.js';
import { loadConfig } from '../src/config/load.js';
import { resolveConfigPaths } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { peopleInRoom, roomFilterFrom } from '../src/count/region.js';
import {
  DEMO_PICTURE,
  DEMO_ROOM_COUNTS,
  DEMO_ROWS,
  demoLayout,
  peopleIn,
  writeDemoPicture,
} from '../src/demo/pictures.js';
import { createDetector } from '../src/detect/index.js';
import { limitFrame, readImageFrame } from '../src/image.js';
import { createLogger } from '../src/log.js';
import { tempDir } from './helpers/media.js';

const CONFIG_FILE = path.resolve('config/demo.yaml');
const config: Config = resolveConfigPaths(loadConfig(CONFIG_FILE), path.dirname(CONFIG_FILE));
const YOLOX = path.resolve('../shared/models/yolox_nano.onnx');
const haveYolox = existsSync(YOLOX);
if (!haveYolox) console.warn(`demo.test.ts: ${YOLOX} not found; skipping the demo counts with yolox-nano`);
const RTMDET = path.resolve('../shared/models/rtmdet_nano_person.onnx');
const haveRtmdet = existsSync(RTMDET);
if (!haveRtmdet) console.warn(`demo.test.ts: ${RTMDET} not found; skipping the demo counts with rtmdet-nano`);

describe('demo layout', () => {
  const layout = demoLayout();

  it('holds as many people as the whole-picture room reports', () => {
    expect(peopleIn(layout)).toBe(DEMO_ROOM_COUNTS['demo-room']);
    expect(layout).toHaveLength(DEMO_ROWS.flat().length);
  });

  it('puts every cut-out inside the picture, none touching another', () => {
    const { width, height } = DEMO_PICTURE;
    for (const p of layout) {
      expect(p.left >= 0 && p.top >= 0 && p.left + p.width <= width && p.top + p.height <= height).toBe(true);
    }
    for (const [i, a] of layout.entries()) {
      for (const b of layout.slice(i + 1)) {
        const apart =
          a.left + a.width < b.left ||
          b.left + b.width < a.left ||
          a.top + a.height < b.top ||
          b.top + b.height < a.top;
        expect(apart, `${a.cutout.what} / ${b.cutout.what}`).toBe(true);
      }
    }
  });

  it('refuses a layout that does not fit', () => {
    expect(() => demoLayout(DEMO_ROWS, { width: 1280, height: 600 })).toThrow(
      '2 rows of 324 px do not fit 600 px',
    );
    expect(() => demoLayout(DEMO_ROWS, { width: 900, height: 720 })).toThrow('row 1 is wider than 900 px');
  });
});

describe('config/demo.yaml', () => {
  it('has the rooms of DEMO_ROOM_COUNTS, all looking at the picture `npm start` writes', () => {
    expect(config.rooms.map((r) => r.id)).toEqual(Object.keys(DEMO_ROOM_COUNTS));
    const written = path.resolve('.cache/demo', DEMO_PICTURE.file); // node dist/demo/make.js, no argument
    for (const room of config.rooms) expect(room.camera.url).toBe(written);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.prestart).toContain(
      'node dist/demo/make.js',
    );
  });
});

describe('README Quick start', () => {
  const readme = readFileSync('README.md', 'utf8');

  it.each(Object.entries(DEMO_ROOM_COUNTS))('states what %s reports', (roomId, people) => {
    const room = config.rooms.find((r) => r.id === roomId)!;
    const line = readme.split('\n').find((l) => l.startsWith(`| \`${roomId}\``));
    expect(line, `a table row for ${roomId}`).toBeDefined();
    expect(line).toContain(room.locationId.slice(-4));
    const stated = room.locationType === 'place' ? `"occupied":${people > 0}` : `"occupancy":${people}`;
    expect(line).toContain(stated);
  });

  it('shows the picture', () => {
    expect(readme).toContain(`](.cache/demo/${DEMO_PICTURE.file})`);
  });
});

describe('demo picture', () => {
  const tmp = tempDir('roomcount-demo-');
  let file: string;

  beforeAll(async () => {
    file = await writeDemoPicture(tmp.dir);
  });

  afterAll(() => tmp.cleanup());

  it('is a JPEG of the stated size in the folder it was given', async () => {
    expect(file).toBe(path.join(tmp.dir, DEMO_PICTURE.file));
    const meta = await sharp(file).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', DEMO_PICTURE.width, DEMO_PICTURE.height]);
  });

  it('names the asset it cannot use', async () => {
    const missing = path.join(tmp.dir, 'no-assets');
    await expect(writeDemoPicture(path.join(tmp.dir, 'out'), missing)).rejects.toThrow(
      `demo picture: cannot read ${path.join(missing, 'samples.jpg')}`,
    );
  });

  it('roomcount count --room gives the region room its number (bundled detector)', async () => {
    let text = '';
    const out = new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    });
    await countImages([file], { config, roomId: 'demo-lower-half', json: true, out });
    expect(JSON.parse(text).count).toBe(DEMO_ROOM_COUNTS['demo-lower-half']);
  });

  // The counts must not hinge on the threshold: check the low and high ends of the usual range.
  const models = [
    { name: 'centernet (bundled)', overrides: { model: 'centernet' }, run: true },
    { name: 'yolox-nano', overrides: { model: 'yolox-nano', modelPath: YOLOX }, run: haveYolox },
    { name: 'rtmdet-nano', overrides: { model: 'rtmdet-nano', modelPath: RTMDET }, run: haveRtmdet },
  ];
  for (const m of models) {
    it.skipIf(!m.run)(`every room reports its number at minScore 0.25, 0.3 and 0.45: ${m.name}`, async () => {
      const detector = await createDetector(
        detectorConfigFrom(config, { ...m.overrides, minScore: 0.2 }),
        createLogger({ level: 'warn' }),
      );
      try {
        // As `roomcount count --room ID --min-score S` does it: the frame scaled to the detector's frame limit.
        const frame = await limitFrame(await readImageFrame(file), detector.frameLimit());
        const detections = await detector.detect(frame);
        for (const minScore of [0.25, 0.3, 0.45]) {
          const counts = Object.fromEntries(
            config.rooms.map((room) => [
              room.id,
              peopleInRoom(detections, roomFilterFrom(room, minScore), frame).length,
            ]),
          );
          expect({ minScore, counts }).toEqual({ minScore, counts: DEMO_ROOM_COUNTS });
        }
      } finally {
        await detector.dispose();
      }
    });
  }
});
