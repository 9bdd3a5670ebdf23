import { stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as cocoSsd from '@tensorflow-models/coco-ssd';
import { assertFrame, type Frame } from '../camera/frame.js';
import type { CocoSsdBase } from '../config/schema.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../redact.js';
import { initTfBackend } from './backend.js';
import { checkMinScore, ModelHandle, type Detection, type PersonModel } from './detector.js';
import { clamp, type ModelInput } from './geometry.js';
import { loadModelArtifacts } from './file-io.js';
import { fsReason, verifySha256SumsIn } from './model-file.js';

export const COCO_SSD_DEFAULT_BASE: CocoSsdBase = 'lite_mobilenet_v2';
/**
 * Boxes coco-ssd may return per frame (all classes, before we keep persons). Its default of 20 would cap
 * the count of a large room, and other objects (chairs, laptops, cups) take slots too.
 */
export const COCO_SSD_MAX_BOXES = 100;
/**
 * The frame box frames are scaled to fit. The graph resizes every input to 300x300 itself (stretching), so a
 * larger input buys nothing but conversion work; 640 keeps small people sharp through that resize.
 */
export const COCO_SSD_INPUT_SIZE = 640;
/** Where @tensorflow-models/coco-ssd 2.2.3 loads each base from when no URL is given. */
export const COCO_SSD_BASE_URL = 'https://storage.googleapis.com/tfjs-models/savedmodel/';

/** URL of the official model.json of a coco-ssd base (as @tensorflow-models/coco-ssd builds it). */
export function cocoSsdModelUrl(base: CocoSsdBase): string {
  const prefix = base === 'lite_mobilenet_v2' ? `ssd${base}` : `ssd_${base}`;
  return `${COCO_SSD_BASE_URL}${prefix}/model.json`;
}

export interface CocoSsdOptions {
  minScore: number;
  base?: CocoSsdBase;
  /** A folder holding model.json (and its weight shards), or the model.json itself. */
  modelPath?: string;
  /** http(s) URL of a model.json. */
  modelUrl?: string;
  log?: Logger;
}

/**
 * Loads COCO-SSD (@tensorflow-models/coco-ssd: SSD on a MobileNet base, COCO) on the process's tfjs backend
 * and returns a person detector. Weights come from `modelPath` (local folder, read through our file
 * IOHandler, so tfjs-node is not needed; if the folder has a SHA256SUMS file, every listed file is checked
 * first) or `modelUrl`. Nothing is downloaded implicitly: without either, the error says how to get them.
 *
 * Detection is coco-ssd's own: the graph resizes to 300x300 and decodes boxes; coco-ssd then takes each box's
 * best class, runs class-agnostic NMS, and labels boxes. Note that coco-ssd 2.2.3 passes `minScore` to
 * tf.image.nonMaxSuppression as both the score threshold and the IoU threshold, so at minScore 0.3 two boxes
 * overlapping by IoU > 0.3 merge: people sitting close together can be counted as one.
 */
export async function loadCocoSsd(opts: CocoSsdOptions): Promise<PersonModel> {
  const { minScore, log } = opts;
  checkMinScore(minScore);
  const base = opts.base ?? COCO_SSD_DEFAULT_BASE;
  if (opts.modelPath === undefined && opts.modelUrl === undefined) {
    throw new Error(
      'detector.model coco-ssd needs its weights: run `roomcount models fetch coco-ssd' +
        `${base === COCO_SSD_DEFAULT_BASE ? '' : ` --base ${base}`} --dir ./models/coco-ssd\` and set ` +
        `detector.modelPath: ./models/coco-ssd (or set detector.modelUrl, e.g. ${cocoSsdModelUrl(base)})`,
    );
  }
  const backend = await initTfBackend(log);
  let source: string;
  let handlerOrUrl: tf.io.IOHandler | string;
  if (opts.modelPath !== undefined) {
    const jsonPath = await modelJsonIn(path.resolve(opts.modelPath));
    const checked = await verifySha256SumsIn(path.dirname(jsonPath));
    if (checked !== undefined) log?.debug({ files: checked }, 'coco-ssd weights match SHA256SUMS');
    // Read (and validate) the files before coco-ssd sees them, so every file error names the file.
    const artifacts = await loadModelArtifacts(jsonPath);
    handlerOrUrl = { load: async () => artifacts };
    source = jsonPath;
  } else {
    handlerOrUrl = opts.modelUrl!;
    source = redactUrl(opts.modelUrl!);
  }
  let model: cocoSsd.ObjectDetection;
  try {
    // coco-ssd hands modelUrl to tfjs-converter's loadGraphModel, which takes a URL or an IOHandler.
    model = await cocoSsd.load({ base, modelUrl: handlerOrUrl as unknown as string });
  } catch (err) {
    throw new Error(`${source} is not a usable coco-ssd model: ${(err as Error).message}`, { cause: err });
  }
  const detector = new CocoSsdModel(model, backend, minScore);
  try {
    // coco-ssd's load() ran the graph once; this proves its postprocessing accepts the outputs too.
    await detector.detect({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 3), capturedAt: 0 });
  } catch (err) {
    await detector.dispose();
    throw new Error(
      `${source} is not a usable coco-ssd model (expected outputs: scores [1, N, 90], boxes [1, N, 1, 4]): ` +
        (err as Error).message,
      { cause: err },
    );
  }
  detector.details = { base, source, backend };
  return detector;
}

/** model.json inside a folder, or the file itself; errors name the path. */
async function modelJsonIn(p: string): Promise<string> {
  let isDir: boolean;
  try {
    isDir = (await stat(p)).isDirectory();
  } catch (err) {
    throw new Error(`cannot read model path ${p}: ${fsReason(err)}`, { cause: err });
  }
  return isDir ? path.join(p, 'model.json') : p;
}

class CocoSsdModel implements PersonModel {
  readonly model = 'coco-ssd';
  readonly input: ModelInput = { kind: 'fixed', size: COCO_SSD_INPUT_SIZE };
  readonly #model: ModelHandle<cocoSsd.ObjectDetection>;
  details: Readonly<Record<string, unknown>> = {};

  constructor(
    model: cocoSsd.ObjectDetection,
    readonly backend: string,
    private readonly minScore: number,
  ) {
    this.#model = new ModelHandle('coco-ssd', model, (m) => m.dispose());
  }

  async detect(frame: Frame): Promise<Detection[]> {
    const model = this.#model.get();
    assertFrame(frame);
    const image = tf.tensor3d(frame.data, [frame.height, frame.width, 3], 'int32');
    let objects: cocoSsd.DetectedObject[];
    try {
      objects = await model.detect(image, COCO_SSD_MAX_BOXES, this.minScore);
    } finally {
      image.dispose();
    }
    return personsFromCocoSsd(objects, frame.width, frame.height, this.minScore);
  }

  async dispose(): Promise<void> {
    await this.#model.dispose();
  }
}

/**
 * coco-ssd's objects ({bbox: [x, y, width, height] in input pixels, class, score}) → person detections
 * ([x1, y1, x2, y2], clamped to the frame; boxes without area and scores below minScore dropped), best first.
 */
export function personsFromCocoSsd(
  objects: readonly cocoSsd.DetectedObject[],
  frameW: number,
  frameH: number,
  minScore: number,
): Detection[] {
  const out: Detection[] = [];
  for (const o of objects) {
    if (o.class !== 'person' || !(o.score >= minScore)) continue;
    const [x, y, w, h] = o.bbox;
    const x1 = clamp(Math.min(x, x + w), frameW);
    const y1 = clamp(Math.min(y, y + h), frameH);
    const x2 = clamp(Math.max(x, x + w), frameW);
    const y2 = clamp(Math.max(y, y + h), frameH);
    if (!(x2 > x1 && y2 > y1)) continue;
    out.push({ score: o.score, box: [x1, y1, x2, y2] });
  }
  return out.sort((a, b) => b.score - a.score);
}
