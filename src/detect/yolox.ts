import type * as ort from 'onnxruntime-node';
import { assertFrame, type Frame } from '../camera/frame.js';
import { checkMinScore, ModelHandle, type Detection, type PersonModel } from './detector.js';
import { clamp, type ModelInput } from './geometry.js';
import { modelDescriptor } from './models.js';
import { nms } from './nms.js';
import { oneLine, openOnnxModel, planarInput, runOnnx, type PlanarSpec } from './onnx.js';

/**
 * sha256 of yolox_nano.onnx: the official Megvii YOLOX-Nano COCO weights exported to ONNX (opset 11) by
 * Kazuhito00/YOLOX-ONNX-TFLite-Sample at commit 3d4f1119d0694200671c08069ecb847aa0d8495a (pinned in models.ts).
 */
export const YOLOX_NANO_SHA256 = modelDescriptor('yolox-nano').weights!.sha256;
export const YOLOX_INPUT_SIZE = 416;
export const YOLOX_STRIDES = [8, 16, 32] as const;
/** IoU above which a lower-scored person box is dropped: the value of the YOLOX reference demo (nmsthre). */
export const YOLOX_IOU_THRESHOLD = 0.45;
export const YOLOX_MAX_DETECTIONS = 100;
/** Grey the reference preprocessing fills the letterbox with. */
export const YOLOX_PAD_VALUE = 114;
const INPUT_NAME = 'images';
const OUTPUT_NAME = 'output';
/** cx, cy, w, h, objectness, then one score per class; class 0 is person. */
const BOX_FIELDS = 5;

export interface YoloxOptions {
  /** Local yolox_nano.onnx. */
  modelPath: string;
  /** Expected sha256 of the file (hex); default YOLOX_NANO_SHA256. */
  sha256?: string;
  /** Keep people with score (objectness x person probability) >= minScore. */
  minScore: number;
  /** onnxruntime intra-op threads; default from ROOMCOUNT_ORT_THREADS, else 1. */
  threads?: number;
}

/**
 * Loads YOLOX-Nano (ONNX) on onnxruntime-node's CPU execution provider. The file must have the expected sha256
 * (`detector.sha256` overrides it for one's own export); it is read once, verified, and the verified bytes are
 * what onnxruntime loads.
 */
export async function loadYolox(opts: YoloxOptions): Promise<PersonModel> {
  const { minScore } = opts;
  checkMinScore(minScore);
  const { session, file, threads } = await openOnnxModel({
    file: opts.modelPath,
    model: 'yolox-nano',
    pinned: YOLOX_NANO_SHA256,
    sha256: opts.sha256,
    threads: opts.threads,
  });
  let inputSize: number;
  try {
    inputSize = checkSession(session);
    // Warm-up, and proof that the output has the shape decodeYolox expects.
    const out = await run(
      session,
      new Float32Array(3 * inputSize * inputSize).fill(YOLOX_PAD_VALUE),
      inputSize,
    );
    const rows = yoloxRowCount(inputSize);
    if (
      out.dims.length !== 3 ||
      out.dims[0] !== 1 ||
      out.dims[1] !== rows ||
      !(Number(out.dims[2]) > BOX_FIELDS)
    ) {
      throw new Error(
        `expected output "${OUTPUT_NAME}" of shape [1, ${rows}, 85], got [${out.dims.join(', ')}]`,
      );
    }
  } catch (err) {
    await session.release();
    throw new Error(`model file ${file} is not a usable YOLOX model: ${oneLine(err)}`, { cause: err });
  }
  const model = new YoloxModel(session, inputSize, minScore);
  model.details = { path: file, threads, inputSize };
  return model;
}

class YoloxModel implements PersonModel {
  readonly model = 'yolox-nano';
  readonly backend = 'onnxruntime-cpu';
  readonly input: ModelInput;
  readonly #session: ModelHandle<ort.InferenceSession>;
  details: Readonly<Record<string, unknown>> = {};
  #input: Float32Array | undefined;

  constructor(
    session: ort.InferenceSession,
    private readonly size: number,
    private readonly minScore: number,
  ) {
    this.#session = new ModelHandle('yolox-nano', session, (s) => s.release());
    this.input = { kind: 'fixed', size };
  }

  async detect(frame: Frame): Promise<Detection[]> {
    const session = this.#session.get();
    assertFrame(frame);
    // One input buffer, reused while no other detect() call holds it (2 MiB less garbage per frame).
    const buffer = this.#input;
    this.#input = undefined;
    const { data, scale } = preprocessYolox(frame, this.size, buffer);
    let out: ort.Tensor;
    try {
      out = await run(session, data, this.size);
    } finally {
      this.#input = data;
    }
    const people = decodeYolox(out.data as Float32Array, {
      inputSize: this.size,
      scale,
      frameWidth: frame.width,
      frameHeight: frame.height,
      minScore: this.minScore,
      valuesPerRow: Number(out.dims[2]),
    });
    return nms(people, YOLOX_IOU_THRESHOLD, YOLOX_MAX_DETECTIONS);
  }

  async dispose(): Promise<void> {
    await this.#session.dispose();
  }
}

async function run(session: ort.InferenceSession, data: Float32Array, size: number): Promise<ort.Tensor> {
  const out = (await runOnnx(session, INPUT_NAME, data, { width: size, height: size }, [OUTPUT_NAME]))[
    OUTPUT_NAME
  ]!;
  if (out.type !== 'float32') throw new Error(`no float32 output named "${OUTPUT_NAME}"`);
  return out;
}

/** Checks the session has YOLOX's input and output and returns the (square) input size. */
function checkSession(session: ort.InferenceSession): number {
  if (!session.inputNames.includes(INPUT_NAME) || !session.outputNames.includes(OUTPUT_NAME)) {
    throw new Error(
      `expected input "${INPUT_NAME}" and output "${OUTPUT_NAME}", got inputs [${session.inputNames.join(', ')}] ` +
        `and outputs [${session.outputNames.join(', ')}]`,
    );
  }
  const meta = session.inputMetadata.find((m) => m.name === INPUT_NAME);
  const shape = meta?.isTensor ? meta.shape : undefined;
  if (!shape || shape.length !== 4 || (typeof shape[1] === 'number' && shape[1] !== 3)) {
    throw new Error(
      `expected input "${INPUT_NAME}" of shape [1, 3, S, S], got [${shape?.join(', ') ?? '?'}]`,
    );
  }
  const [h, w] = [shape[2], shape[3]];
  if (typeof h !== 'number' && typeof w !== 'number') return YOLOX_INPUT_SIZE; // dynamic: the trained size
  if (h !== w || typeof h !== 'number' || h % 32 !== 0) {
    throw new Error(`expected a square input whose side is a multiple of 32, got ${String(w)}x${String(h)}`);
  }
  return h;
}

/** Output rows for a square input: one per grid cell of every stride (3549 at 416). */
export function yoloxRowCount(inputSize: number): number {
  return YOLOX_STRIDES.reduce((n, s) => n + (inputSize / s) ** 2, 0);
}

/** The model input for one frame (see preprocessYolox). */
export interface YoloxInput {
  /** [3, size, size] planes B, G, R; raw 0..255 values; 114 outside the picture. */
  data: Float32Array;
  /** r = min(size / height, size / width): input pixels per frame pixel. */
  scale: number;
  /** Size of the resized picture at the top-left of the input: floor(width * r) x floor(height * r). */
  width: number;
  height: number;
}

/** YOLOX's input recipe: raw 0..255 BGR values, letterboxed at the top-left, padded with 114. */
function yoloxSpec(size: number): PlanarSpec {
  return {
    width: size,
    height: size,
    fit: 'letterbox',
    pad: YOLOX_PAD_VALUE,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  };
}

/**
 * YOLOX's reference preprocessing (yolox/data/data_augment.py `preproc`): scale by r = min(S/h, S/w) to
 * floor(w*r) x floor(h*r) with bilinear interpolation as cv2.resize(INTER_LINEAR) does it, paste at the top-left
 * of an S x S canvas filled with 114, and lay it out as planar BGR floats 0..255 (no normalisation).
 */
export function preprocessYolox(frame: Frame, size: number, into?: Float32Array): YoloxInput {
  const { data, scaleX, width, height } = planarInput(frame, yoloxSpec(size), into);
  return { data, scale: scaleX, width, height };
}

export interface YoloxDecodeOptions {
  /** Side of the square model input, e.g. 416. */
  inputSize: number;
  /** The letterbox scale r from preprocessYolox. */
  scale: number;
  frameWidth: number;
  frameHeight: number;
  minScore: number;
  /** Values per output row; 85 for COCO (4 box + objectness + 80 classes). */
  valuesPerRow?: number;
}

/**
 * Turns YOLOX's raw output rows (grid cells of strides 8, 16, 32, row-major per level) into person detections
 * in frame pixels: score = objectness x class-0 probability (both already sigmoid in this export);
 * (cx, cy) = (raw + (col, row)) x stride, (w, h) = exp(raw) x stride, box / r; clamped to the frame, boxes
 * left without area dropped. Keeps score >= minScore. No NMS.
 */
export function decodeYolox(raw: ArrayLike<number>, opts: YoloxDecodeOptions): Detection[] {
  const { inputSize, scale, frameWidth: W, frameHeight: H, minScore } = opts;
  const V = opts.valuesPerRow ?? 85;
  const rows = yoloxRowCount(inputSize);
  if (raw.length !== rows * V) {
    throw new Error(
      `YOLOX output has ${raw.length} values, expected ${rows} rows x ${V} for input ${inputSize}`,
    );
  }
  const out: Detection[] = [];
  let row = 0;
  for (const stride of YOLOX_STRIDES) {
    const n = inputSize / stride;
    for (let gy = 0; gy < n; gy++) {
      for (let gx = 0; gx < n; gx++, row++) {
        const o = row * V;
        const score = (raw[o + 4] as number) * (raw[o + 5] as number);
        if (!(score >= minScore)) continue; // NaN-safe
        const cx = ((raw[o] as number) + gx) * stride;
        const cy = ((raw[o + 1] as number) + gy) * stride;
        const w = Math.exp(raw[o + 2] as number) * stride;
        const h = Math.exp(raw[o + 3] as number) * stride;
        const x1 = clamp((cx - w / 2) / scale, W);
        const y1 = clamp((cy - h / 2) / scale, H);
        const x2 = clamp((cx + w / 2) / scale, W);
        const y2 = clamp((cy + h / 2) / scale, H);
        if (!(x2 > x1 && y2 > y1)) continue;
        out.push({ score, box: [x1, y1, x2, y2] });
      }
    }
  }
  return out;
}
