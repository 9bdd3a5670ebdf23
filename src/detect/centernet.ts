import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { assertFrame, type Frame } from '../camera/frame.js';
import type { Logger } from '../log.js';
import { initTfBackend } from './backend.js';
import { checkMinScore, ModelHandle, type Detection, type PersonModel } from './detector.js';
import { clamp, type ModelInput } from './geometry.js';
import { fileModelHandler } from './file-io.js';
import { nms } from './nms.js';

/** Graph output: [1, 100, 6] rows of x1, y1, x2, y2 (input pixels), score, COCO class index (0 = person). */
export const CENTERNET_OUTPUT = 'tower_0/detections';
export const CENTERNET_INPUT_SIZE = 512;
const VALUES_PER_ROW = 6;
const PERSON_CLASS = 0;
/**
 * IoU above which a lower-scored person box is dropped as a duplicate. CenterNet already removes most
 * duplicates inside the graph (3x3 max-pool peak picking before TopK), so this pass only catches the odd
 * second peak on one person (seen once in the sample crops: a head-and-shoulders photo gave two boxes).
 * Human uses 0.4 for every class; people in a meeting room sit close together and their boxes overlap
 * (neighbours, someone behind someone), so we take the less aggressive 0.5. On the sample crops any value
 * from 0.3 to 0.6 gave the same counts.
 */
export const CENTERNET_IOU_THRESHOLD = 0.5;
export const CENTERNET_MAX_DETECTIONS = 100;

export interface CenterNetOptions {
  /** Keep people with score >= minScore (0..1). */
  minScore: number;
  /** model.json of a CenterNet graph model; default: the one shipped in @vladmandic/human. */
  modelJsonPath?: string;
  log?: Logger;
}

/** Path of the CenterNet model.json that ships inside the @vladmandic/human package. */
export function defaultCenterNetModelPath(): string {
  return path.join(packageRoot('@vladmandic/human'), 'models', 'centernet.json');
}

/**
 * Loads CenterNet (MobileNetV3 backbone, COCO, from @vladmandic/human) on the process's tfjs backend and
 * returns a person detector.
 *
 * Preprocessing: RGB float 0..255 as Human feeds it (the normalisation is folded into the first convolution),
 * but letterboxed like the model's training and reference inference code (github.com/610265158/
 * mobilenetv3_centernet, lib/core/api/face_detector.py `preprocess`: aspect-preserving cv2 bilinear resize,
 * centred on a zero canvas) rather than stretched to a square as Human does: the network never saw
 * aspect-distorted people in training. Measured on 18 crops of the pictures in @vladmandic/human/assets at
 * minScore 0.3, letterboxing cut the summed count error from 34 to 28 (mostly big groups: a ~15-person
 * thumbnail went from 1 to 5 found) and found the woman in an 89x157 crop that stretching missed, but found
 * one person fewer in a 3-person and in a 5-person crop. See `letterbox()`.
 */
export async function loadCenterNet(opts: CenterNetOptions): Promise<PersonModel> {
  const { minScore, log } = opts;
  checkMinScore(minScore);
  const backend = await initTfBackend(log);
  const modelJsonPath = path.resolve(opts.modelJsonPath ?? defaultCenterNetModelPath());
  const model = await loadGraphModel(fileModelHandler(modelJsonPath));
  let inputSize: number;
  try {
    inputSize = checkModel(model);
    // Warm-up: compiles kernels, and proves the output has the shape decodeCenterNet expects.
    const out = tf.tidy(
      () => model.execute(tf.zeros([1, inputSize, inputSize, 3]), CENTERNET_OUTPUT) as tf.Tensor,
    );
    const shape = out.shape;
    out.dispose();
    if (shape.length !== 3 || shape[0] !== 1 || shape[2] !== VALUES_PER_ROW) {
      throw new Error(`expected ${CENTERNET_OUTPUT} of shape [1, N, 6], got [${shape.join(', ')}]`);
    }
  } catch (err) {
    model.dispose();
    throw new Error(`${modelJsonPath} is not a usable CenterNet model: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const detector = new CenterNetModel(model, backend, inputSize, minScore);
  detector.details = { path: modelJsonPath, inputSize };
  return detector;
}

class CenterNetModel implements PersonModel {
  readonly model = 'centernet';
  readonly input: ModelInput;
  readonly #graph: ModelHandle<GraphModel>;
  details: Readonly<Record<string, unknown>> = {};

  constructor(
    graph: GraphModel,
    readonly backend: string,
    private readonly size: number,
    private readonly minScore: number,
  ) {
    this.#graph = new ModelHandle('centernet', graph, (g) => g.dispose());
    this.input = { kind: 'fixed', size };
  }

  async detect(frame: Frame): Promise<Detection[]> {
    const graph = this.#graph.get();
    assertFrame(frame);
    const size = this.size;
    const lb = letterbox(frame.width, frame.height, size);
    const out = tf.tidy(() => {
      const pixels = tf.tensor3d(frame.data, [frame.height, frame.width, 3], 'float32');
      const resized =
        lb.width === frame.width && lb.height === frame.height
          ? pixels
          : tf.image.resizeBilinear(pixels, [lb.height, lb.width], false, true); // halfPixelCenters = cv2
      const padded = tf.pad(resized, [
        [lb.padY, size - lb.height - lb.padY],
        [lb.padX, size - lb.width - lb.padX],
        [0, 0],
      ]);
      return graph.execute(tf.expandDims(padded, 0), CENTERNET_OUTPUT) as tf.Tensor;
    });
    let raw: Float32Array;
    try {
      raw = (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
    const people = decodeCenterNet(raw, frame.width, frame.height, size, this.minScore);
    return nms(people, CENTERNET_IOU_THRESHOLD, CENTERNET_MAX_DETECTIONS);
  }

  async dispose(): Promise<void> {
    await this.#graph.dispose();
  }
}

/** Where a frame lands in the model's square input: resized to width x height (aspect kept), offset by padX/padY. */
export interface Letterbox {
  width: number;
  height: number;
  padX: number;
  padY: number;
}

export function letterbox(frameW: number, frameH: number, inputSize: number): Letterbox {
  const scale = inputSize / Math.max(frameW, frameH);
  const width = Math.min(inputSize, Math.max(1, Math.round(frameW * scale)));
  const height = Math.min(inputSize, Math.max(1, Math.round(frameH * scale)));
  return {
    width,
    height,
    padX: Math.floor((inputSize - width) / 2),
    padY: Math.floor((inputSize - height) / 2),
  };
}

/**
 * Turns CenterNet's raw `tower_0/detections` rows (x1, y1, x2, y2, score, class; boxes in pixels of the
 * letterboxed `inputSize` square, see `letterbox()`) into person detections in frame pixels: drops other
 * classes and scores below `minScore`, maps back to frameW x frameH, clamps to the frame and drops boxes
 * left with no area. No NMS.
 */
export function decodeCenterNet(
  raw: ArrayLike<number>,
  frameW: number,
  frameH: number,
  inputSize: number,
  minScore: number,
): Detection[] {
  if (raw.length % VALUES_PER_ROW !== 0) {
    throw new Error(`CenterNet output has ${raw.length} values, not a multiple of ${VALUES_PER_ROW}`);
  }
  const { width, height, padX, padY } = letterbox(frameW, frameH, inputSize);
  const toX = (v: number) => clamp(((v - padX) * frameW) / width, frameW);
  const toY = (v: number) => clamp(((v - padY) * frameH) / height, frameH);
  const out: Detection[] = [];
  for (let i = 0; i < raw.length; i += VALUES_PER_ROW) {
    const score = raw[i + 4] as number;
    const cls = raw[i + 5] as number;
    if (Math.round(cls) !== PERSON_CLASS || !(score >= minScore)) continue; // NaN-safe
    const x1 = toX(Math.min(raw[i] as number, raw[i + 2] as number));
    const y1 = toY(Math.min(raw[i + 1] as number, raw[i + 3] as number));
    const x2 = toX(Math.max(raw[i] as number, raw[i + 2] as number));
    const y2 = toY(Math.max(raw[i + 1] as number, raw[i + 3] as number));
    if (!(x2 > x1 && y2 > y1)) continue;
    out.push({ score, box: [x1, y1, x2, y2] });
  }
  return out;
}

/** Checks the graph has CenterNet's input/output and returns the (square) input size. */
function checkModel(model: GraphModel): number {
  const shape = model.inputs[0]?.shape;
  if (model.inputs.length !== 1 || !shape || shape.length !== 4 || shape[3] !== 3) {
    throw new Error(
      `expected one [1, H, W, 3] image input, got ${JSON.stringify(model.inputs.map((i) => i.shape))}`,
    );
  }
  if (!model.outputNodes.includes(CENTERNET_OUTPUT)) {
    throw new Error(`no output named ${CENTERNET_OUTPUT} (outputs: ${model.outputNodes.join(', ')})`);
  }
  const h = shape[1] ?? -1;
  const w = shape[2] ?? -1;
  if (h <= 0 && w <= 0) return CENTERNET_INPUT_SIZE; // dynamic size: use the size CenterNet was trained at
  if (h !== w) throw new Error(`expected a square input, got ${w}x${h}`);
  return h;
}

/** Folder of an installed package, found from its entry point (Human's exports map hides package.json). */
function packageRoot(name: string): string {
  const req = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = req.resolve(name);
  } catch (err) {
    throw new Error(`cannot find package ${name} (needed for its bundled model): ${(err as Error).message}`, {
      cause: err,
    });
  }
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === name) {
      return dir;
    }
  }
  throw new Error(`cannot find the package.json of ${name} above ${entry}`);
}
