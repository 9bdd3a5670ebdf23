import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PersonModel } from '../src/detect/detector.js';
import { createDetector } from '../src/detect/index.js';
import { planarInput } from '../src/detect/onnx.js';
import { decodeRtmdet, loadRtmdet, RTMDET_NANO_SHA256, rtmdetSpec } from '../src/detect/rtmdet.js';
import { renderFrame } from './helpers/frames.js';

/** The team's copy of the pinned file (users fetch it). Tests that need it skip without it. */
const MODEL = path.resolve('../shared/models/rtmdet_nano_person.onnx');
const haveModel = existsSync(MODEL);
if (!haveModel)
  console.warn(`rtmdet.test.ts: ${MODEL} not found; skipping the tests that run the real model`);

describe('rtmdet preprocessing', () => {
  it('BGR planes, keep-ratio at the top-left, 114 padding, mean/std normalised', () => {
    // 4 × 2 into 8 × 8: r = 2, picture 8 × 4 at the top, rows 4..7 padding.
    const frame = renderFrame(4, 2, () => [124, 116, 161]);
    const { data, scaleX, width, height } = planarInput(frame, rtmdetSpec({ width: 8, height: 8 }));
    expect({ scaleX, width, height }).toEqual({ scaleX: 2, width: 8, height: 4 });
    const at = (c: number, x: number, y: number) => data[c * 64 + y * 8 + x]!;
    // R 124, G 116, B 161 → (v - mean) / std per plane B, G, R.
    expect(at(0, 3, 1)).toBeCloseTo((161 - 103.53) / 57.375, 4);
    expect(at(1, 3, 1)).toBeCloseTo((116 - 116.28) / 57.12, 4);
    expect(at(2, 3, 1)).toBeCloseTo((124 - 123.675) / 58.395, 4);
    expect(at(0, 0, 6)).toBeCloseTo((114 - 103.53) / 57.375, 4);
    expect(at(2, 7, 7)).toBeCloseTo((114 - 123.675) / 58.395, 4);
  });
});

describe('decodeRtmdet', () => {
  const opts = { scale: 0.5, frameWidth: 200, frameHeight: 100, minScore: 0.3 };
  it('keeps persons above minScore, maps input pixels back to the frame and clamps', () => {
    const dets = Float32Array.from(
      [
        [10, 10, 50, 40, 0.9], // person
        [0, 0, 20, 20, 0.2], // below minScore
        [60, 10, 90, 45, 0.8], // another class
        [80, 20, 140, 70, 0.5], // clamped on the right and bottom
      ].flat(),
    );
    const labels = BigInt64Array.from([0n, 0n, 3n, 0n]);
    expect(decodeRtmdet(dets, labels, opts)).toEqual([
      { score: expect.closeTo(0.9, 5), box: [20, 20, 100, 80] },
      { score: 0.5, box: [160, 40, 200, 100] },
    ]);
  });

  it('says what is wrong with a malformed output', () => {
    expect(() => decodeRtmdet(new Float32Array(9), BigInt64Array.from([0n, 0n]), opts)).toThrow(
      /9 box values for 2 labels/,
    );
  });
});

describe.skipIf(!haveModel)('RTMDet-nano on onnxruntime', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'roomcount-rtmdet-'));
  let model: PersonModel;
  beforeAll(async () => {
    model = await loadRtmdet({ modelPath: MODEL, minScore: 0.3 });
  });
  afterAll(() => model?.dispose());

  it('runs at the frame’s aspect ratio (dynamic input) and finds nobody in a blank frame', async () => {
    expect(model.input).toEqual({ kind: 'dynamic', size: 480, stride: 32 });
    expect(await model.detect(renderFrame(832, 416, () => [128, 128, 128]))).toEqual([]);
    expect(await model.detect(renderFrame(300, 500, () => [20, 20, 20]))).toEqual([]);
  });

  it('refuses a file with another sha256, naming both hashes', async () => {
    const file = path.join(tmp, 'rtmdet.onnx');
    const bytes = readFileSync(MODEL);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(file, bytes);
    await expect(loadRtmdet({ modelPath: file, minScore: 0.3 })).rejects.toThrow(RTMDET_NANO_SHA256);
  });

  it('createDetector finds it in a models folder without detector.modelPath', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'roomcount-models-'));
    writeFileSync(path.join(dir, 'rtmdet_nano_person.onnx'), readFileSync(MODEL));
    const detector = await createDetector({ model: 'rtmdet-nano', modelsDir: dir });
    try {
      expect(detector).toMatchObject({ model: 'rtmdet-nano', minScore: expect.any(Number), tiles: 'off' });
      expect(detector.frameLimit()).toEqual({ shortSide: 480, longSide: 1920 });
    } finally {
      await detector.dispose();
    }
    await expect(createDetector({ model: 'rtmdet-nano', modelsDir: tmp })).rejects.toThrow(
      /rtmdet_nano_person\.onnx is not installed in .*roomcount models fetch rtmdet-nano/,
    );
  });
});
