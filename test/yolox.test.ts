import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PersonModel } from '../src/detect/detector.js';
import { createDetector } from '../src/detect/index.js';
import { sha256Hex } from '../src/detect/model-file.js';
import {
  loadYolox,
  decodeYolox,
  preprocessYolox,
  YOLOX_NANO_SHA256,
  yoloxRowCount,
} from '../src/detect/yolox.js';
import { readImageFrame } from '../src/image.js';
import { renderFrame } from './helpers/frames.js';

/** The team's copy of the official export (the product does not ship it). Tests that need it skip without it. */
const MODEL = path.resolve('../shared/models/yolox_nano.onnx');
const haveModel = existsSync(MODEL);
if (!haveModel) console.warn(`yolox.test.ts: ${MODEL} not found; skipping the tests that run the real model`);

const tmp = mkdtempSync(path.join(tmpdir(), 'roomcount-yolox-'));

describe('preprocessYolox', () => {
  it('pastes an exact-fit frame at the top-left, as planar BGR floats, padding with 114', () => {
    // 8x4 into 8: r = min(8/4, 8/8) = 1, no resampling.
    const frame = renderFrame(8, 4, (x, y) => [x * 10, y * 10, 200]);
    const { data, scale, width, height } = preprocessYolox(frame, 8);
    expect({ scale, width, height }).toEqual({ scale: 1, width: 8, height: 4 });
    const at = (c: number, x: number, y: number) => data[c * 64 + y * 8 + x];
    expect([at(0, 3, 2), at(1, 3, 2), at(2, 3, 2)]).toEqual([200, 20, 30]); // B, G, R
    expect([at(0, 7, 3), at(1, 7, 3), at(2, 7, 3)]).toEqual([200, 30, 70]);
    for (let c = 0; c < 3; c++) for (let y = 4; y < 8; y++) expect(at(c, 0, y)).toBe(114);
  });

  it('reuses a buffer it is given, padding it afresh (a smaller frame after a full one)', () => {
    const buffer = preprocessYolox(
      renderFrame(8, 8, () => [1, 2, 3]),
      8,
    ).data;
    const { data } = preprocessYolox(
      renderFrame(8, 4, () => [5, 6, 7]),
      8,
      buffer,
    );
    expect(data).toBe(buffer);
    expect([data[0], data[64], data[128]]).toEqual([7, 6, 5]);
    expect([data[63], data[127], data[191]]).toEqual([114, 114, 114]); // row 7: padding again
    // A buffer of the wrong size is not used.
    expect(
      preprocessYolox(
        renderFrame(8, 4, () => [5, 6, 7]),
        16,
        buffer,
      ).data,
    ).not.toBe(buffer);
  });

  it('resizes like cv2.resize(INTER_LINEAR): half-pixel centres, clamped edges', () => {
    // 2x1 → r = min(8/1, 8/2) = 4 → 8x4. Along x the source ramp [0, 100] gives cv2's
    // [0, 0, 12.5, 37.5, 62.5, 87.5, 100, 100].
    const frame = renderFrame(2, 1, (x) => [x * 100, 0, 0]);
    const { data, scale, width, height } = preprocessYolox(frame, 8);
    expect({ scale, width, height }).toEqual({ scale: 4, width: 8, height: 4 });
    const red = (x: number, y: number) => data[2 * 64 + y * 8 + x];
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((x) => red(x, 0))).toEqual([0, 0, 12.5, 37.5, 62.5, 87.5, 100, 100]);
    expect(red(5, 3)).toBe(87.5); // one source row: every output row is the same
  });

  it('downscales with floor(w * r) x floor(h * r), as the reference code', () => {
    const frame = renderFrame(641, 427, () => [1, 2, 3]);
    const { scale, width, height, data } = preprocessYolox(frame, 416);
    expect(scale).toBeCloseTo(416 / 641, 12);
    expect([width, height]).toEqual([416, Math.floor(427 * (416 / 641))]);
    expect(data[0]).toBe(3); // B of the first pixel
    expect(data[416 * 416 - 1]).toBe(114); // bottom-right of the B plane: padding
  });
});

describe('decodeYolox', () => {
  // A 32x32 input: grids 4x4 (stride 8), 2x2 (16), 1x1 (32) = 21 rows. One class (person) → 6 values per row.
  const V = 6;
  const raw = (rows: Record<number, [number, number, number, number, number, number]>) => {
    const out = new Float32Array(21 * V);
    for (const [i, r] of Object.entries(rows)) out.set(r, Number(i) * V);
    return out;
  };
  const opts = { inputSize: 32, scale: 1, frameWidth: 32, frameHeight: 32, minScore: 0.3, valuesPerRow: V };

  it('counts grid rows per input size', () => {
    expect(yoloxRowCount(32)).toBe(21);
    expect(yoloxRowCount(416)).toBe(3549);
    expect(yoloxRowCount(640)).toBe(8400);
  });

  it('decodes known raw grid values into known boxes, on every stride', () => {
    const detections = decodeYolox(
      raw({
        // stride 8, row 1, col 2 (index 1*4+2): centre ((0.5+2)*8, (0.5+1)*8) = (20, 12), size (2*8, 1*8)
        6: [0.5, 0.5, Math.log(2), 0, 0.9, 0.8],
        // stride 16, row 1, col 0 (index 16 + 1*2 + 0): centre (0.25*16, 1.5*16) = (4, 24), size (16, 16)
        18: [0.25, 0.5, 0, 0, 0.5, 1],
        // stride 32, the single cell (index 20): centre (16, 16), size (32*e^-1, 32)
        20: [0.5, 0.5, -1, 0, 1, 0.6],
      }),
      opts,
    );
    expect(detections).toHaveLength(3);
    const [a, b, c] = detections;
    expect(a!.score).toBeCloseTo(0.72, 6);
    expect(a!.box).toEqual([12, 8, 28, 16].map((v) => expect.closeTo(v, 5)));
    expect(b!.score).toBeCloseTo(0.5, 6);
    expect(b!.box).toEqual([0, 16, 12, 32]); // x1 = 4 - 8 = -4 → clamped to 0
    expect(c!.score).toBeCloseTo(0.6, 6);
    const w = 32 * Math.exp(-1);
    expect(c!.box[0]).toBeCloseTo(16 - w / 2, 4);
    expect(c!.box[2]).toBeCloseTo(16 + w / 2, 4);
    expect([c!.box[1], c!.box[3]]).toEqual([0, 32]);
  });

  it('scores as objectness x person probability and keeps score >= minScore only', () => {
    const detections = decodeYolox(
      raw({
        0: [0.5, 0.5, 0, 0, 0.5, 0.6], // 0.30: kept
        1: [0.5, 0.5, 0, 0, 0.9, 0.3], // 0.27: dropped
        2: [0.5, 0.5, 0, 0, 0.2, 1], // 0.20: dropped
        3: [0.5, 0.5, 0, 0, NaN, 1], // NaN: dropped
      }),
      { ...opts, minScore: 0.29 },
    );
    expect(detections.map((d) => Math.round(d.score * 100))).toEqual([30]);
  });

  it('maps back to frame pixels by dividing by r, clamping to the frame', () => {
    // A 64x48 frame at r = 0.5; cell (1, 1) of stride 8: centre (12, 12), size 8x8 → [8, 8, 16, 16] / 0.5.
    const detections = decodeYolox(raw({ 5: [0.5, 0.5, 0, 0, 1, 1] }), {
      ...opts,
      scale: 0.5,
      frameWidth: 64,
      frameHeight: 48,
    });
    expect(detections.map((d) => d.box)).toEqual([[16, 16, 32, 32]]);
    // A box in the padding below a 64x20 frame (r = 0.5 → picture rows 0..10) is clamped to nothing.
    const padding = decodeYolox(raw({ 12: [0.5, 0.5, 0, 0, 1, 1] }), {
      ...opts,
      scale: 0.5,
      frameWidth: 64,
      frameHeight: 20,
    });
    expect(padding).toEqual([]);
  });

  it('reads class 0 at column 5 of the 85-column COCO layout at 416', () => {
    const out = new Float32Array(3549 * 85);
    const row = 2704 + 13 * 26 + 13; // stride 16, row 13, col 13: centre (216, 216)
    out.set([0.5, 0.5, Math.log(4), Math.log(8), 0.95, 0.9, 0.99], row * 85); // column 6 (bicycle) is ignored
    const detections = decodeYolox(out, {
      inputSize: 416,
      scale: 416 / 640,
      frameWidth: 640,
      frameHeight: 480,
      minScore: 0.3,
    });
    expect(detections).toHaveLength(1);
    expect(detections[0]!.score).toBeCloseTo(0.855, 5);
    const f = 640 / 416;
    const expected = [184 * f, 152 * f, 248 * f, 280 * f];
    detections[0]!.box.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 3));
  });

  it('rejects output of the wrong size', () => {
    expect(() => decodeYolox(new Float32Array(20 * V), opts)).toThrow('expected 21 rows x 6 for input 32');
  });
});

describe('yolox-nano model loading errors name the file', () => {
  it('missing file', async () => {
    const missing = path.join(tmp, 'nope.onnx');
    await expect(loadYolox({ modelPath: missing, minScore: 0.3 })).rejects.toThrow(
      `cannot read model file ${missing}: file not found`,
    );
  });

  it('no modelPath configured and none in the models folder', async () => {
    await expect(createDetector({ model: 'yolox-nano', minScore: 0.3, modelsDir: tmp })).rejects.toThrow(
      `yolox_nano.onnx is not installed in ${tmp}`,
    );
  });

  it('wrong sha256 (default: the official export)', async () => {
    const file = path.join(tmp, 'other.onnx');
    writeFileSync(file, 'not the official model');
    const err = await loadYolox({ modelPath: file, minScore: 0.3 }).catch((e: Error) => e);
    expect((err as Error).message).toContain(
      `model file ${file} has sha256 ${sha256Hex(Buffer.from('not the official model'))}`,
    );
    expect((err as Error).message).toContain(`expected ${YOLOX_NANO_SHA256}`);
    expect((err as Error).message).toContain('set detector.sha256');
  });

  it('wrong sha256 (detector.sha256 override)', async () => {
    const file = path.join(tmp, 'other2.onnx');
    writeFileSync(file, 'abc');
    await expect(
      createDetector({ model: 'yolox-nano', minScore: 0.3, modelPath: file, sha256: 'f'.repeat(64) }),
    ).rejects.toThrow(
      `model file ${file} has sha256 ${sha256Hex(Buffer.from('abc'))}, expected ${'f'.repeat(64)}`,
    );
  });

  it('corrupt file whose sha256 was overridden to match', async () => {
    const file = path.join(tmp, 'corrupt.onnx');
    const bytes = Buffer.from('this is not protobuf \x00\x01\x02');
    writeFileSync(file, bytes);
    await expect(loadYolox({ modelPath: file, sha256: sha256Hex(bytes), minScore: 0.3 })).rejects.toThrow(
      `model file ${file} is not a usable ONNX model: `,
    );
  });

  it.skipIf(!haveModel)('truncated copy of the real model', async () => {
    const file = path.join(tmp, 'truncated.onnx');
    const bytes = readFileSync(MODEL).subarray(0, 1_000_000);
    writeFileSync(file, bytes);
    await expect(loadYolox({ modelPath: file, minScore: 0.3 })).rejects.toThrow(
      `model file ${file} has sha256 ${sha256Hex(bytes)}`,
    );
    await expect(loadYolox({ modelPath: file, sha256: sha256Hex(bytes), minScore: 0.3 })).rejects.toThrow(
      `model file ${file} is not a usable ONNX model`,
    );
  });
});

const humanRoot = path.dirname(path.dirname(createRequire(import.meta.url).resolve('@vladmandic/human')));

describe.skipIf(!haveModel)(`YOLOX-Nano person detector (real model, ${MODEL})`, () => {
  let detector: PersonModel;

  beforeAll(async () => {
    detector = await createDetector({ model: 'yolox-nano', minScore: 0.3, modelPath: MODEL });
  });
  afterAll(async () => {
    await detector?.dispose();
  });

  it('describes itself', () => {
    expect(detector.model).toBe('yolox-nano');
    expect(detector.backend).toBe('onnxruntime-cpu');
    expect(detector.input).toEqual({ kind: 'fixed', size: 416 });
  });

  it('finds the man at his desk and the avatar in screenshot-vrm.jpg, inside the picture', async () => {
    const frame = await readImageFrame(path.join(humanRoot, 'assets', 'screenshot-vrm.jpg'));
    const people = await detector.detect(frame);
    expect(people).toHaveLength(2);
    for (const p of people) {
      const [x1, y1, x2, y2] = p.box;
      expect(0 <= x1 && x1 < x2 && x2 <= frame.width && 0 <= y1 && y1 < y2 && y2 <= frame.height).toBe(true);
    }
    const man = people.find((p) => p.box[0] > 400)!;
    expect(man.box[3]).toBeLessThan(260); // inside the webcam inset at the top right
  });

  it('finds nobody in a plain or noisy frame', async () => {
    expect(await detector.detect(renderFrame(640, 480, () => [128, 128, 128]))).toEqual([]);
    const noise = renderFrame(320, 240, (x, y) => {
      const v = (x * 7919 + y * 104729) % 256;
      return [v, (v * 3) % 256, (v * 7) % 256];
    });
    expect(await detector.detect(noise)).toEqual([]);
  });

  it('accepts the official file with detector.sha256 in upper case too, and refuses use after dispose', async () => {
    const d = await loadYolox({
      modelPath: MODEL,
      sha256: YOLOX_NANO_SHA256.toUpperCase(),
      minScore: 0.5,
    });
    await d.dispose();
    await expect(d.detect(renderFrame(8, 8, () => [0, 0, 0]))).rejects.toThrow('after dispose');
  });
});
