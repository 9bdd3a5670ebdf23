import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../src/camera/frame.js';
import {
  CENTERNET_INPUT_SIZE,
  loadCenterNet,
  decodeCenterNet,
  defaultCenterNetModelPath,
  letterbox,
} from '../src/detect/centernet.js';
import type { PersonModel } from '../src/detect/detector.js';
import { createDetector } from '../src/detect/index.js';
import { readImageFrame } from '../src/image.js';
import { renderFrame } from './helpers/frames.js';

type Row = [x1: number, y1: number, x2: number, y2: number, score: number, cls: number];

/** 100 CenterNet output rows: the given ones, then zero rows (as the model pads them). */
function rawOutput(rows: Row[]): Float32Array {
  const raw = new Float32Array(100 * 6);
  rows.forEach((r, i) => raw.set(r, i * 6));
  return raw;
}

describe('letterbox', () => {
  it('fits the frame inside the square, keeping the aspect ratio, centred', () => {
    expect(letterbox(1024, 512, 512)).toEqual({ width: 512, height: 256, padX: 0, padY: 128 });
    expect(letterbox(480, 640, 512)).toEqual({ width: 384, height: 512, padX: 64, padY: 0 });
    expect(letterbox(512, 512, 512)).toEqual({ width: 512, height: 512, padX: 0, padY: 0 });
    expect(letterbox(1920, 1080, 512)).toEqual({ width: 512, height: 288, padX: 0, padY: 112 });
    expect(letterbox(64, 48, 512)).toEqual({ width: 512, height: 384, padX: 0, padY: 64 });
  });
});

describe('decodeCenterNet', () => {
  // 1024x512 frame -> 512x256 inside the 512 square, 128 px of padding above and below, 2 frame px per input px.
  const W = 1024;
  const H = 512;

  it('keeps persons at or above minScore and maps boxes back to frame pixels', () => {
    const raw = rawOutput([
      [100, 178, 200, 278, 0.9, 0], // person -> [200, 100, 400, 300]
      [10, 138, 50, 168, 0.95, 2], // a car: dropped
      [300, 200, 350, 300, 0.25, 0], // person below minScore: dropped
      [300, 200, 350, 300, 0.3, 0], // exactly minScore: kept -> [600, 144, 700, 344]
    ]);
    expect(decodeCenterNet(raw, W, H, 512, 0.3)).toEqual([
      { score: expect.closeTo(0.9, 6), box: [200, 100, 400, 300] },
      { score: expect.closeTo(0.3, 6), box: [600, 144, 700, 344] },
    ]);
  });

  it('clamps boxes to the frame and drops those left without area', () => {
    const raw = rawOutput([
      [-10, 100, 600, 400, 0.8, 0], // spills over every edge -> the whole frame
      [100, 0, 200, 100, 0.8, 0], // entirely in the top padding -> zero height, dropped
      [490, 200, 530, 300, 0.7, 0], // right edge beyond the picture -> clamped to 1024
    ]);
    expect(decodeCenterNet(raw, W, H, 512, 0.5)).toEqual([
      { score: expect.closeTo(0.8, 6), box: [0, 0, 1024, 512] },
      { score: expect.closeTo(0.7, 6), box: [980, 144, 1024, 344] },
    ]);
  });

  it('orders swapped corners and ignores NaN rows', () => {
    const raw = rawOutput([
      [200, 278, 100, 178, 0.6, 0],
      [100, 178, 200, 278, NaN, 0],
      [100, 178, 200, 278, 0.9, NaN],
    ]);
    expect(decodeCenterNet(raw, W, H, 512, 0.1)).toEqual([
      { score: expect.closeTo(0.6, 6), box: [200, 100, 400, 300] },
    ]);
  });

  it('maps a square frame by plain scaling and accepts classes as floats', () => {
    const raw = rawOutput([[128, 256, 256, 512, 0.5, 0.0000001]]);
    expect(decodeCenterNet(raw, 1000, 1000, 512, 0.3)).toEqual([{ score: 0.5, box: [250, 500, 500, 1000] }]);
  });

  it('returns nothing for the all-zero padding rows, even at minScore 0', () => {
    expect(decodeCenterNet(new Float32Array(600), 640, 480, 512, 0)).toEqual([]);
  });

  it('rejects output that is not made of 6-value rows', () => {
    expect(() => decodeCenterNet(new Float32Array(601), 640, 480, 512, 0.3)).toThrow('not a multiple of 6');
  });
});

// ---------------------------------------------------------------------------------------------------------
// The real model, on pictures that ship inside @vladmandic/human (assets/), cropped in memory.

const humanRoot = path.dirname(path.dirname(createRequire(import.meta.url).resolve('@vladmandic/human')));
const asset = (name: string) => path.join(humanRoot, 'assets', name);

/** Copies a rectangle out of a frame (pixels stay in memory). */
function crop(frame: Frame, left: number, top: number, width: number, height: number): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * frame.width + left) * 3;
    data.set(frame.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data, capturedAt: frame.capturedAt };
}

describe('readImageFrame', () => {
  it('decodes a JPEG to RGB24', async () => {
    const frame = await readImageFrame(asset('samples.jpg'));
    expect([frame.width, frame.height]).toEqual([1280, 1158]);
    expect(frame.data.length).toBe(1280 * 1158 * 3);
  });

  it('drops the alpha channel of a PNG', async () => {
    const frame = await readImageFrame(asset('icon.png')); // RGBA
    expect(frame.data.length).toBe(frame.width * frame.height * 3);
  });

  it('names a file it cannot read or decode', async () => {
    const missing = path.join(humanRoot, 'assets', 'missing.jpg');
    await expect(readImageFrame(missing)).rejects.toThrow(`cannot decode image ${missing}: `);
    const notImage = path.join(humanRoot, 'package.json');
    await expect(readImageFrame(notImage)).rejects.toThrow(`cannot decode image ${notImage}: `);
  });
});

describe('CenterNet person detector (real model)', () => {
  let detector: PersonModel;
  let samples: Frame; // samples.jpg: a strip of 8 thumbnails on top (y 1..157), a group photo below
  let vrm: Frame; // screenshot-vrm.jpg: an avatar on the left, a webcam picture of a man at a desk top right
  let faceid: Frame;

  beforeAll(async () => {
    detector = await loadCenterNet({ minScore: 0.3 });
    samples = await readImageFrame(asset('samples.jpg'));
    vrm = await readImageFrame(asset('screenshot-vrm.jpg'));
    faceid = await readImageFrame(asset('screenshot-faceid.jpg'));
  });

  afterAll(async () => {
    await detector?.dispose();
  });

  it('describes itself', () => {
    expect(detector.model).toBe('centernet');
    expect(detector.backend).toBe(tf.getBackend());
    expect(detector.input).toEqual({ kind: 'fixed', size: CENTERNET_INPUT_SIZE });
    expect(defaultCenterNetModelPath()).toBe(path.join(humanRoot, 'models', 'centernet.json'));
  });

  // Counts observed at minScore 0.3; every one of these people scores >= 0.43, so the assertion has margin.
  const singles: [name: string, left: number, width: number][] = [
    ['woman, full body, studio (3D render)', 0, 158],
    ['woman, head and shoulders', 166, 151],
    ['man seated at a restaurant table', 326, 210],
    ['woman standing, narrow crop', 545, 89],
    ['woman standing', 641, 148],
    ['woman on a stool', 797, 106],
  ];
  it.each(singles)('finds 1 person in the samples.jpg thumbnail "%s"', async (_name, left, width) => {
    const people = await detector.detect(crop(samples, left, 1, width, 157));
    expect(people).toHaveLength(1);
  });

  it('finds the man at his desk and the avatar, each where they are', async () => {
    const people = await detector.detect(vrm);
    expect(people).toHaveLength(2);
    const byX = [...people].sort((a, b) => a.box[0] - b.box[0]);
    const [avatar, man] = byX.map((p) => p.box);
    // avatar: left third, tall; man: inside the webcam inset at x 474..770, y 2..244
    expect(avatar![2]).toBeLessThan(330);
    expect(avatar![3] - avatar![1]).toBeGreaterThan(400);
    expect(man![0]).toBeGreaterThan(460);
    expect(man![3]).toBeLessThan(260);
    for (const p of people) {
      expect(p.score).toBeGreaterThanOrEqual(0.3);
      const [x1, y1, x2, y2] = p.box;
      expect(0 <= x1 && x1 < x2 && x2 <= vrm.width && 0 <= y1 && y1 < y2 && y2 <= vrm.height).toBe(true);
    }
  });

  it('finds 1 person in a webcam crop and in a head-and-shoulders photo', async () => {
    expect(await detector.detect(crop(vrm, 474, 2, 296, 242))).toHaveLength(1);
    expect(await detector.detect(crop(faceid, 14, 142, 140, 140))).toHaveLength(1);
  });

  // Small, busy group shots: CenterNet-MobileNetV3 (COCO mAP 0.25) under-counts them. Guard against the
  // opposite failure (duplicates, boxes on background) and against finding nobody.
  const groups: [name: string, left: number, top: number, width: number, height: number, people: number][] = [
    ['3 people at a bar (samples.jpg thumbnail)', 1130, 1, 142, 157, 3],
    ['about 15 people, group photo (samples.jpg thumbnail)', 911, 1, 211, 157, 15],
  ];
  it.each(groups)('finds between 1 and all of the %s', async (_name, left, top, width, height, n) => {
    const people = await detector.detect(crop(samples, left, top, width, height));
    expect(people.length).toBeGreaterThanOrEqual(1);
    expect(people.length).toBeLessThanOrEqual(n);
  });

  it('finds nobody in rendered frames without people', async () => {
    const grey = renderFrame(640, 480, () => [128, 128, 128]);
    const gradient = renderFrame(640, 360, (x, y) => [(x * 255) / 640, (y * 255) / 360, 128]);
    const noise = renderFrame(320, 240, (x, y) => {
      const v = (x * 7919 + y * 104729) % 256;
      return [v, (v * 3) % 256, (v * 7) % 256];
    });
    expect(await detector.detect(grey)).toEqual([]);
    expect(await detector.detect(gradient)).toEqual([]);
    expect(await detector.detect(noise)).toEqual([]);
  });

  it('rejects a frame whose data does not match its size', async () => {
    const bad = { width: 10, height: 10, data: new Uint8Array(10), capturedAt: 0 };
    await expect(detector.detect(bad)).rejects.toThrow('frame data is 10 bytes');
  });

  // 200 calls on a tiny frame take ~30 s on wasm here (~135 ms each: the model always runs at 512x512).
  it('does not leak tensors over 200 detect() calls', { timeout: 180_000 }, async () => {
    const frame = renderFrame(64, 48, (x, y) => [x * 4, y * 5, 100]);
    await detector.detect(frame);
    const before = tf.memory();
    for (let i = 0; i < 200; i++) {
      await detector.detect(frame);
      // detect() on wasm never yields to the event loop: without this the worker cannot answer vitest's RPC, which
      // gives up after 60 s ("Timeout calling onTaskUpdate") and fails a green run.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  });
});

describe('createDetector', () => {
  it('builds centernet from the config, honouring modelPath', async () => {
    const detector = await createDetector({
      model: 'centernet',
      minScore: 0.5,
      modelPath: defaultCenterNetModelPath(),
    });
    try {
      expect(detector.model).toBe('centernet');
    } finally {
      await detector.dispose();
    }
    await expect(detector.detect(renderFrame(8, 8, () => [0, 0, 0]))).rejects.toThrow('after dispose');
  });

  it('names a missing modelPath', async () => {
    const missing = path.resolve('no-such-dir/centernet.json');
    await expect(createDetector({ model: 'centernet', minScore: 0.3, modelPath: missing })).rejects.toThrow(
      `cannot read model file ${missing}: file not found`,
    );
  });

  it('says where coco-ssd and yolox-nano weights must come from when none are configured', async () => {
    // Their own tests (coco-ssd.test.ts, yolox.test.ts) cover loading them.
    await expect(createDetector({ model: 'coco-ssd', minScore: 0.3 })).rejects.toThrow(
      'roomcount models fetch coco-ssd',
    );
    const empty = mkdtempSync(path.join(tmpdir(), 'roomcount-no-models-'));
    await expect(createDetector({ model: 'yolox-nano', minScore: 0.3, modelsDir: empty })).rejects.toThrow(
      `detector.model yolox-nano: yolox_nano.onnx is not installed in ${empty}. ` +
        'Run `roomcount models fetch yolox-nano`, or set detector.modelPath to your copy',
    );
  });
});
