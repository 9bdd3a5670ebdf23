import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PersonModel } from '../src/detect/detector.js';
import { decodeNanodet, loadNanodet, NANODET_SPEC } from '../src/detect/nanodet.js';
import { planarInput } from '../src/detect/onnx.js';
import { renderFrame } from './helpers/frames.js';

const MODEL = path.resolve('../shared/models/nanodet_plus_m_416.onnx');
const haveModel = existsSync(MODEL);
if (!haveModel)
  console.warn(`nanodet.test.ts: ${MODEL} not found; skipping the tests that run the real model`);

/** Scores and box distributions for a 32-pixel input (strides 8, 16, 32 → 4², 2², 1² cells), all "nothing". */
function emptyOutputs(): { scores: Float32Array[]; boxes: Float32Array[] } {
  const cells = [16, 4, 1];
  return {
    scores: cells.map((n) => new Float32Array(n * 80)),
    boxes: cells.map((n) => new Float32Array(n * 32)),
  };
}

describe('decodeNanodet', () => {
  it('softmax over 8 bins per side, distances × stride from the cell point, scaled back per axis', () => {
    const { scores, boxes } = emptyOutputs();
    // Stride 8, cell (col 1, row 0) → point (8, 0): person score 0.8, another class 0.99 (ignored).
    scores[0]![1 * 80] = 0.8;
    scores[0]![1 * 80 + 5] = 0.99;
    // Sides left, top, right, bottom: all mass on bin 1, 0, 2, 3 → distances 8, 0, 16, 24.
    const peak = [1, 0, 2, 3];
    for (let side = 0; side < 4; side++) boxes[0]![(1 * 4 + side) * 8 + peak[side]!] = 50;
    // Cell (0, 0) has a person score below minScore.
    scores[0]![0] = 0.1;
    const found = decodeNanodet(scores, boxes, {
      inputSize: 32,
      scaleX: 0.5,
      scaleY: 2,
      frameWidth: 100,
      frameHeight: 100,
      minScore: 0.3,
    });
    expect(found).toHaveLength(1);
    expect(found[0]!.score).toBeCloseTo(0.8, 5);
    // x: (8 - 8) / 0.5 = 0 .. (8 + 16) / 0.5 = 48; y: (0 - 0) / 2 = 0 .. (0 + 24) / 2 = 12.
    found[0]!.box.forEach((v, i) => expect(v).toBeCloseTo([0, 0, 48, 12][i]!, 3));
  });

  it('refuses outputs of the wrong size', () => {
    const { scores, boxes } = emptyOutputs();
    expect(() =>
      decodeNanodet(scores, boxes, {
        inputSize: 64,
        scaleX: 1,
        scaleY: 1,
        frameWidth: 1,
        frameHeight: 1,
        minScore: 0.3,
      }),
    ).toThrow(/level 8/);
  });
});

describe('NanoDet-Plus preprocessing', () => {
  it('stretches to 416 × 416 (no aspect kept)', () => {
    const { width, height, scaleX, scaleY } = planarInput(
      renderFrame(832, 208, () => [0, 0, 0]),
      NANODET_SPEC,
    );
    expect({ width, height, scaleX, scaleY }).toEqual({ width: 416, height: 416, scaleX: 0.5, scaleY: 2 });
  });
});

describe.skipIf(!haveModel)('NanoDet-Plus-m on onnxruntime', () => {
  let model: PersonModel;
  beforeAll(async () => {
    model = await loadNanodet({ modelPath: MODEL, minScore: 0.35 });
  });
  afterAll(() => model?.dispose());

  it('loads, finds its six outputs by shape, and finds nobody in a blank frame', async () => {
    expect(model.input).toEqual({ kind: 'fixed', size: 416 });
    expect(await model.detect(renderFrame(640, 480, () => [128, 128, 128]))).toEqual([]);
  });
});
