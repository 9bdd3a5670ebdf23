import type * as ort from 'onnxruntime-node';
import { assertFrame, type Frame } from '../camera/frame.js';
import { checkMinScore, ModelHandle, type Detection, type PersonModel } from './detector.js';
import { clamp, nativeInputSize, type ModelInput, type Size } from './geometry.js';
import { modelDescriptor } from './models.js';
import { nms } from './nms.js';
import { oneLine, openOnnxModel, planarInput, runOnnx, type PlanarSpec } from './onnx.js';

/**
 * RTMDet-nano person (OpenMMLab MMPose's RTMPose person detector, Apache-2.0; trained on COCO + Objects365
 * person), an MMDeploy "end2end" ONNX export with NMS inside the graph and a dynamic input size. sha256 of the
 * file users fetch (pinned with its URL in models.ts).
 */
export const RTMDET_NANO_SHA256 = modelDescriptor('rtmdet-nano').weights!.sha256;
/** Input sides must be multiples of the largest feature stride. */
export const RTMDET_STRIDE = 32;
/** Short side it runs at by default (its descriptor's size): trained at 320; larger inputs see small people better. */
export const RTMDET_DEFAULT_SIZE = modelDescriptor('rtmdet-nano').size!;
/**
 * IoU above which a lower-scored person box is dropped, after the export's own NMS: that one keeps pairs up to a
 * higher overlap, and they are mostly one person seen twice (a whole body and its upper half, two boxes on one
 * seated person in a small panorama). Measured across COCO-128, classroom, vtest and the wide panoramas at short
 * side 512: the mean MAE went from 0.72 (no extra pass, best threshold) to 0.59 at 0.45 (0.64 at 0.5, 0.60 at 0.35).
 */
export const RTMDET_IOU_THRESHOLD = 0.45;
const MAX_DETECTIONS = 100;
const INPUT_NAME = 'input';
const DETS = 'dets';
const LABELS = 'labels';
const PERSON_LABEL = 0;
const PAD_VALUE = 114;
/** mmdet's data preprocessor for RTMDet, in B, G, R order. */
const MEAN = [103.53, 116.28, 123.675] as const;
const STD = [57.375, 57.12, 58.395] as const;

export interface RtmdetOptions {
  modelPath: string;
  /** Expected sha256 of the file; default RTMDET_NANO_SHA256. */
  sha256?: string;
  minScore: number;
  /** Short side of the input (rounded to a multiple of 32); default 416. */
  size?: number;
  /** Run on a size × size letterbox instead of the frame's aspect ratio (for comparisons). */
  square?: boolean;
  threads?: number;
}

/** Loads RTMDet-nano (ONNX) on onnxruntime-node's CPU provider; the file's sha256 is checked first. */
export async function loadRtmdet(opts: RtmdetOptions): Promise<PersonModel> {
  const { minScore } = opts;
  checkMinScore(minScore);
  const size = Math.max(
    RTMDET_STRIDE,
    Math.round((opts.size ?? RTMDET_DEFAULT_SIZE) / RTMDET_STRIDE) * RTMDET_STRIDE,
  );
  const { session, file, threads } = await openOnnxModel({
    file: opts.modelPath,
    model: 'rtmdet-nano',
    pinned: RTMDET_NANO_SHA256,
    sha256: opts.sha256,
    threads: opts.threads,
  });
  const model = new RtmdetModel(session, size, opts.square ?? false, minScore);
  try {
    if (!session.inputNames.includes(INPUT_NAME) || !session.outputNames.includes(DETS)) {
      throw new Error(
        `expected input "${INPUT_NAME}" and outputs "${DETS}", "${LABELS}", got [${session.inputNames.join(', ')}] ` +
          `and [${session.outputNames.join(', ')}]`,
      );
    }
    // Warm-up at a 2:1 shape, and proof that the outputs decode.
    await model.detect(blankFrame({ width: size * 2, height: size }));
  } catch (err) {
    await session.release();
    throw new Error(`model file ${file} is not a usable RTMDet model: ${oneLine(err)}`, { cause: err });
  }
  model.details = {
    path: file,
    threads,
    input: opts.square ? `${size}x${size}` : `short side ${size}, frame aspect`,
  };
  return model;
}

function blankFrame({ width, height }: Size): Frame {
  return { width, height, data: new Uint8Array(width * height * 3).fill(PAD_VALUE), capturedAt: 0 };
}

class RtmdetModel implements PersonModel {
  readonly model = 'rtmdet-nano';
  readonly backend = 'onnxruntime-cpu';
  readonly input: ModelInput;
  readonly #session: ModelHandle<ort.InferenceSession>;
  details: Readonly<Record<string, unknown>> = {};
  #buffer: Float32Array | undefined;

  constructor(
    session: ort.InferenceSession,
    private readonly size: number,
    private readonly square: boolean,
    private readonly minScore: number,
  ) {
    this.#session = new ModelHandle('rtmdet-nano', session, (s) => s.release());
    this.input = square ? { kind: 'fixed', size } : { kind: 'dynamic', size, stride: RTMDET_STRIDE };
  }

  async detect(frame: Frame): Promise<Detection[]> {
    const session = this.#session.get();
    assertFrame(frame);
    const tensor = this.square
      ? { width: this.size, height: this.size }
      : nativeInputSize(frame, this.size, RTMDET_STRIDE);
    const buffer = this.#buffer;
    this.#buffer = undefined;
    const input = planarInput(frame, rtmdetSpec(tensor), buffer);
    let out: Record<string, ort.Tensor>;
    try {
      out = await runOnnx(session, INPUT_NAME, input.data, tensor, [DETS, LABELS]);
    } finally {
      this.#buffer = input.data;
    }
    const dets = out[DETS]!;
    const labels = out[LABELS]!;
    const people = decodeRtmdet(dets.data as Float32Array, labels.data as BigInt64Array | Int32Array, {
      scale: input.scaleX,
      frameWidth: frame.width,
      frameHeight: frame.height,
      minScore: this.minScore,
      valuesPerRow: Number(dets.dims[2] ?? 5),
    });
    return nms(people, RTMDET_IOU_THRESHOLD, MAX_DETECTIONS);
  }

  async dispose(): Promise<void> {
    await this.#session.dispose();
  }
}

/** RTMDet's input recipe: BGR, keep-ratio resize at the top-left, padded with 114, mean/std normalised. */
export function rtmdetSpec(tensor: Size): PlanarSpec {
  return { ...tensor, fit: 'letterbox', pad: PAD_VALUE, mean: MEAN, std: STD };
}

export interface RtmdetDecodeOptions {
  /** r: input pixels per frame pixel. */
  scale: number;
  frameWidth: number;
  frameHeight: number;
  minScore: number;
  /** Values per row of `dets`: 5 (x1, y1, x2, y2, score). */
  valuesPerRow?: number;
}

/**
 * The export's `dets` rows (x1, y1, x2, y2 in input pixels, score; already NMS'd) and `labels` → person
 * detections in frame pixels (÷ r, clamped; boxes left without area dropped), score >= minScore, best first.
 */
export function decodeRtmdet(
  dets: ArrayLike<number>,
  labels: ArrayLike<number | bigint>,
  opts: RtmdetDecodeOptions,
): Detection[] {
  const V = opts.valuesPerRow ?? 5;
  if (dets.length !== labels.length * V) {
    throw new Error(
      `RTMDet output has ${dets.length} box values for ${labels.length} labels (expected ${V} each)`,
    );
  }
  const { scale: r, frameWidth: W, frameHeight: H, minScore } = opts;
  const out: Detection[] = [];
  for (let i = 0; i < labels.length; i++) {
    const o = i * V;
    const score = dets[o + 4] as number;
    if (Number(labels[i]) !== PERSON_LABEL || !(score >= minScore)) continue; // NaN-safe
    const x1 = clamp((dets[o] as number) / r, W);
    const y1 = clamp((dets[o + 1] as number) / r, H);
    const x2 = clamp((dets[o + 2] as number) / r, W);
    const y2 = clamp((dets[o + 3] as number) / r, H);
    if (!(x2 > x1 && y2 > y1)) continue;
    out.push({ score, box: [x1, y1, x2, y2] });
  }
  return out.sort((a, b) => b.score - a.score);
}
