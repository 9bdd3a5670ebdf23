import type * as ort from 'onnxruntime-node';
import { assertFrame, type Frame } from '../camera/frame.js';
import { checkMinScore, ModelHandle, type Detection, type PersonModel } from './detector.js';
import { clamp, type ModelInput } from './geometry.js';
import { modelDescriptor } from './models.js';
import { nms } from './nms.js';
import { oneLine, openOnnxModel, planarInput, runOnnx, type PlanarSpec } from './onnx.js';

/**
 * NanoDet-Plus-m 416 (RangiLyu/nanodet, Apache-2.0; COCO, class 0 = person): the OpenCV Zoo export
 * object_detection_nanodet_2022nov.onnx; sha256 pinned with its URL in models.ts.
 */
export const NANODET_PLUS_SHA256 = modelDescriptor('nanodet-plus').weights!.sha256;
export const NANODET_INPUT_SIZE = 416;
export const NANODET_STRIDES = [8, 16, 32] as const;
/** Bins per box side of the general distribution head (reg_max 7 → 8 bins). */
const BINS = 8;
const CLASSES = 80;
/** NanoDet's own NMS setting (config nms_cfg iou_threshold). */
export const NANODET_IOU_THRESHOLD = 0.6;
const MAX_DETECTIONS = 100;
const INPUT_NAME = 'input.1';
/** The official config's normalisation, B, G, R. */
const MEAN = [103.53, 116.28, 123.675] as const;
const STD = [57.375, 57.12, 58.395] as const;

export interface NanodetOptions {
  modelPath: string;
  sha256?: string;
  minScore: number;
  threads?: number;
}

/** The six outputs by level: scores [1, n², 80] and box distributions [1, n², 32]. */
interface Outputs {
  scores: string[];
  boxes: string[];
}

/** Loads NanoDet-Plus-m (ONNX) on onnxruntime-node's CPU provider; the file's sha256 is checked first. */
export async function loadNanodet(opts: NanodetOptions): Promise<PersonModel> {
  const { minScore } = opts;
  checkMinScore(minScore);
  const { session, file, threads } = await openOnnxModel({
    file: opts.modelPath,
    model: 'nanodet-plus',
    pinned: NANODET_PLUS_SHA256,
    sha256: opts.sha256,
    threads: opts.threads,
  });
  let model: NanodetModel;
  try {
    model = new NanodetModel(session, outputsOf(session), minScore);
    await model.detect({
      width: NANODET_INPUT_SIZE,
      height: NANODET_INPUT_SIZE,
      data: new Uint8Array(NANODET_INPUT_SIZE * NANODET_INPUT_SIZE * 3),
      capturedAt: 0,
    });
  } catch (err) {
    await session.release();
    throw new Error(`model file ${file} is not a usable NanoDet-Plus model: ${oneLine(err)}`, { cause: err });
  }
  model.details = { path: file, threads, inputSize: NANODET_INPUT_SIZE };
  return model;
}

/** Finds the score and box outputs of each stride by their shapes (the export names them by node number). */
function outputsOf(session: ort.InferenceSession): Outputs {
  const found: Outputs = { scores: [], boxes: [] };
  NANODET_STRIDES.forEach((stride, level) => {
    const cells = (NANODET_INPUT_SIZE / stride) ** 2;
    for (const meta of session.outputMetadata) {
      if (!meta.isTensor) continue;
      const [, n, c] = meta.shape;
      if (n !== cells) continue;
      if (c === CLASSES) found.scores[level] = meta.name;
      if (c === 4 * BINS) found.boxes[level] = meta.name;
    }
  });
  if (found.scores.filter(Boolean).length !== 3 || found.boxes.filter(Boolean).length !== 3) {
    throw new Error(
      'expected scores [1, n, 80] and boxes [1, n, 32] for 52², 26² and 13² cells, got ' +
        session.outputMetadata.map((m) => `${m.name}${m.isTensor ? `[${m.shape.join(',')}]` : ''}`).join(' '),
    );
  }
  return found;
}

class NanodetModel implements PersonModel {
  readonly model = 'nanodet-plus';
  readonly backend = 'onnxruntime-cpu';
  readonly input: ModelInput = { kind: 'fixed', size: NANODET_INPUT_SIZE };
  readonly #session: ModelHandle<ort.InferenceSession>;
  details: Readonly<Record<string, unknown>> = {};
  #buffer: Float32Array | undefined;

  constructor(
    session: ort.InferenceSession,
    private readonly outputs: Outputs,
    private readonly minScore: number,
  ) {
    this.#session = new ModelHandle('nanodet-plus', session, (s) => s.release());
  }

  async detect(frame: Frame): Promise<Detection[]> {
    const session = this.#session.get();
    assertFrame(frame);
    const buffer = this.#buffer;
    this.#buffer = undefined;
    const input = planarInput(frame, NANODET_SPEC, buffer);
    let out: Record<string, ort.Tensor>;
    try {
      out = await runOnnx(session, INPUT_NAME, input.data, NANODET_SPEC, [
        ...this.outputs.scores,
        ...this.outputs.boxes,
      ]);
    } finally {
      this.#buffer = input.data;
    }
    const people = decodeNanodet(
      this.outputs.scores.map((n) => out[n]!.data as Float32Array),
      this.outputs.boxes.map((n) => out[n]!.data as Float32Array),
      {
        scaleX: input.scaleX,
        scaleY: input.scaleY,
        frameWidth: frame.width,
        frameHeight: frame.height,
        minScore: this.minScore,
      },
    );
    return nms(people, NANODET_IOU_THRESHOLD, MAX_DETECTIONS);
  }

  async dispose(): Promise<void> {
    await this.#session.dispose();
  }
}

/** NanoDet-Plus's input recipe: BGR stretched to 416 × 416 (the official config's keep_ratio: False), normalised. */
export const NANODET_SPEC: PlanarSpec = {
  width: NANODET_INPUT_SIZE,
  height: NANODET_INPUT_SIZE,
  fit: 'stretch',
  pad: 0,
  mean: MEAN,
  std: STD,
};

export interface NanodetDecodeOptions {
  /** Input pixels per frame pixel, along x and y (stretched: they differ). */
  scaleX: number;
  scaleY: number;
  frameWidth: number;
  frameHeight: number;
  minScore: number;
  inputSize?: number;
}

/**
 * NanoDet-Plus's raw outputs → person detections in frame pixels. Per level (strides 8, 16, 32; cells row-major):
 * the person score is class 0 of the (already sigmoid) scores; each of the box's 4 sides (left, top, right,
 * bottom) is a distribution over 8 bins: softmax, expected bin × stride = distance from the cell's point
 * (col × stride, row × stride). No NMS.
 */
export function decodeNanodet(
  scores: readonly ArrayLike<number>[],
  boxes: readonly ArrayLike<number>[],
  opts: NanodetDecodeOptions,
): Detection[] {
  const size = opts.inputSize ?? NANODET_INPUT_SIZE;
  const { scaleX, scaleY, frameWidth: W, frameHeight: H, minScore } = opts;
  const out: Detection[] = [];
  const dist = new Float64Array(4);
  NANODET_STRIDES.forEach((stride, level) => {
    const n = size / stride;
    const s = scores[level]!;
    const b = boxes[level]!;
    if (s.length !== n * n * CLASSES || b.length !== n * n * 4 * BINS) {
      throw new Error(
        `NanoDet level ${stride} has ${s.length} scores and ${b.length} box values for ${n}² cells`,
      );
    }
    for (let cell = 0; cell < n * n; cell++) {
      const score = s[cell * CLASSES] as number;
      if (!(score >= minScore)) continue; // NaN-safe
      for (let side = 0; side < 4; side++) {
        const o = (cell * 4 + side) * BINS;
        let max = -Infinity;
        for (let k = 0; k < BINS; k++) max = Math.max(max, b[o + k] as number);
        let sum = 0;
        let expected = 0;
        for (let k = 0; k < BINS; k++) {
          const e = Math.exp((b[o + k] as number) - max);
          sum += e;
          expected += e * k;
        }
        dist[side] = (expected / sum) * stride;
      }
      const cx = (cell % n) * stride;
      const cy = Math.floor(cell / n) * stride;
      const x1 = clamp((cx - dist[0]!) / scaleX, W);
      const y1 = clamp((cy - dist[1]!) / scaleY, H);
      const x2 = clamp((cx + dist[2]!) / scaleX, W);
      const y2 = clamp((cy + dist[3]!) / scaleY, H);
      if (!(x2 > x1 && y2 > y1)) continue;
      out.push({ score, box: [x1, y1, x2, y2] });
    }
  });
  return out;
}
