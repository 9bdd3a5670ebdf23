import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { assertFrame, type Frame } from '../camera/frame.js';
import type { Logger } from '../log.js';
import type { Detection, Detector } from './detector.js';
import { readModelFile, verifySha256 } from './model-file.js';
import { nms } from './nms.js';

/**
 * sha256 of yolox_nano.onnx: the official Megvii YOLOX-Nano COCO weights exported to ONNX (opset 11) by
 * Kazuhito00/YOLOX-ONNX-TFLite-Sample at commit 3d4f1119d0694200671c08069ecb847aa0d8495a (3,660,092 bytes).
 */
export const YOLOX_NANO_SHA256 = '695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14';
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
/** onnxruntime intra-op threads; default 1 so several cameras' ffmpeg decoders keep the other cores. */
export const ORT_THREADS_ENV = 'ROOMCOUNT_ORT_THREADS';

export interface YoloxOptions {
  /** Local yolox_nano.onnx. */
  modelPath: string;
  /** Expected sha256 of the file (hex); default YOLOX_NANO_SHA256. */
  sha256?: string;
  /** Keep people with score (objectness x person probability) >= minScore. */
  minScore: number;
  /** onnxruntime intra-op threads; default from ROOMCOUNT_ORT_THREADS, else 1. */
  threads?: number;
  log?: Logger;
}

/**
 * Loads YOLOX-Nano (ONNX) on onnxruntime-node's CPU execution provider and returns a person detector.
 * The file must have the expected sha256 (`detector.sha256` overrides it for one's own export); it is read
 * once, verified, and the verified bytes are what onnxruntime loads.
 */
export async function createYoloxDetector(opts: YoloxOptions): Promise<Detector> {
  const { minScore, log } = opts;
  if (!(minScore >= 0 && minScore <= 1)) throw new Error(`minScore must be within 0..1, got ${minScore}`);
  const file = path.resolve(opts.modelPath);
  const threads = opts.threads ?? threadsFromEnv();
  const started = performance.now();
  const bytes = await readModelFile(file);
  const expected = opts.sha256 ?? YOLOX_NANO_SHA256;
  verifySha256(
    file,
    bytes,
    expected,
    expected === YOLOX_NANO_SHA256
      ? 'yolox-nano expects the official YOLOX-Nano ONNX export (see README "Models and accuracy"); ' +
          'for an export of your own, set detector.sha256 to its sha256'
      : 'the expected value is detector.sha256',
  );
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new Error(`model file ${file} is not a usable ONNX model: ${oneLine(err)}`, { cause: err });
  }
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
  log?.info(
    {
      model: 'yolox-nano',
      path: file,
      backend: 'onnxruntime-cpu',
      threads,
      inputSize,
      loadMs: Math.round(performance.now() - started),
    },
    'person detector loaded',
  );
  return new YoloxDetector(session, inputSize, minScore);
}

class YoloxDetector implements Detector {
  readonly model = 'yolox-nano';
  readonly backend = 'onnxruntime-cpu';
  readonly inputSize: { width: number; height: number };
  #session: ort.InferenceSession | undefined;
  #input: Float32Array | undefined;

  constructor(
    session: ort.InferenceSession,
    private readonly size: number,
    private readonly minScore: number,
  ) {
    this.#session = session;
    this.inputSize = { width: size, height: size };
  }

  async detect(frame: Frame): Promise<Detection[]> {
    const session = this.#session;
    if (!session) throw new Error('yolox-nano detector used after dispose()');
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
    const session = this.#session;
    this.#session = undefined;
    await session?.release();
  }
}

async function run(session: ort.InferenceSession, data: Float32Array, size: number): Promise<ort.Tensor> {
  const input = new ort.Tensor('float32', data, [1, 3, size, size]);
  const result = await session.run({ [INPUT_NAME]: input });
  const out = result[OUTPUT_NAME];
  if (!out || out.type !== 'float32') throw new Error(`no float32 output named "${OUTPUT_NAME}"`);
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

/**
 * YOLOX's reference preprocessing (yolox/data/data_augment.py `preproc`): scale by r = min(S/h, S/w) to
 * floor(w*r) x floor(h*r) with bilinear interpolation as cv2.resize(INTER_LINEAR) does it (half-pixel
 * centres, edge clamped, no antialiasing), paste at the top-left of an S x S canvas filled with 114, and
 * lay it out as planar BGR floats 0..255 (no normalisation).
 */
export function preprocessYolox(frame: Frame, size: number, into?: Float32Array): YoloxInput {
  const { width: W, height: H, data: src } = frame;
  const scale = Math.min(size / H, size / W);
  const w = Math.max(1, Math.min(size, Math.floor(W * scale)));
  const h = Math.max(1, Math.min(size, Math.floor(H * scale)));
  const plane = size * size;
  const out = (into?.length === 3 * plane ? into : new Float32Array(3 * plane)).fill(YOLOX_PAD_VALUE);
  if (w === W && h === H) {
    // The camera already scaled the frame to fit the input (the usual case): a copy, no interpolation.
    for (let y = 0, i = 0; y < h; y++) {
      for (let o = y * size, end = o + w; o < end; o++, i += 3) {
        out[2 * plane + o] = src[i]!;
        out[plane + o] = src[i + 1]!;
        out[o] = src[i + 2]!;
      }
    }
    return { data: out, scale, width: w, height: h };
  }
  // cv2 maps destination pixel centres with the ratio of the sizes (not r), so the edges line up exactly.
  const xs = axisTaps(W, w);
  const ys = axisTaps(H, h);
  for (let y = 0; y < h; y++) {
    const row0 = ys.i0[y]! * W;
    const row1 = ys.i1[y]! * W;
    const fy = ys.f[y]!;
    for (let x = 0; x < w; x++) {
      const a = (row0 + xs.i0[x]!) * 3;
      const b = (row0 + xs.i1[x]!) * 3;
      const c = (row1 + xs.i0[x]!) * 3;
      const d = (row1 + xs.i1[x]!) * 3;
      const fx = xs.f[x]!;
      const o = y * size + x;
      for (let ch = 0; ch < 3; ch++) {
        const top = src[a + ch]! + (src[b + ch]! - src[a + ch]!) * fx;
        const bottom = src[c + ch]! + (src[d + ch]! - src[c + ch]!) * fx;
        // RGB in, BGR out: channel ch goes to plane 2 - ch.
        out[(2 - ch) * plane + o] = top + (bottom - top) * fy;
      }
    }
  }
  return { data: out, scale, width: w, height: h };
}

/** For each destination index along one axis: the two source indices and the weight of the second. */
function axisTaps(srcLen: number, dstLen: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(dstLen);
  const i1 = new Int32Array(dstLen);
  const f = new Float32Array(dstLen);
  const ratio = srcLen / dstLen;
  for (let i = 0; i < dstLen; i++) {
    let s = (i + 0.5) * ratio - 0.5;
    if (s < 0) s = 0;
    let lo = Math.floor(s);
    let frac = s - lo;
    if (lo >= srcLen - 1) {
      lo = srcLen - 1;
      frac = 0;
    }
    i0[i] = lo;
    i1[i] = Math.min(lo + 1, srcLen - 1);
    f[i] = frac;
  }
  return { i0, i1, f };
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

function clamp(v: number, max: number): number {
  return v < 0 ? 0 : v > max ? max : v;
}

function threadsFromEnv(): number {
  const value = process.env[ORT_THREADS_ENV]?.trim();
  if (!value) return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new Error(`${ORT_THREADS_ENV}="${value}" must be a whole number of threads from 1 to 64`);
  }
  return n;
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
}
