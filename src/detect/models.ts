import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CocoSsdBase } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { PersonModel, TileSetting } from './detector.js';

/**
 * Every person model roomcount knows, one descriptor each (the config's `detector.model` choices are built from
 * this list). A descriptor says where the weights come from, the model's input, the threshold and tiling chosen
 * for it from the evaluation sets (README "Models and accuracy"), and how to load it; the model's code lives in
 * its own file, imported only when the model is chosen (tfjs and onnxruntime each cost tens of MiB).
 */

/** Weights that `roomcount models fetch` downloads: a pinned URL and the sha256 they must have. */
export interface ModelWeights {
  /** File name in the models folder. */
  file: string;
  url: string;
  sha256: string;
  bytes: number;
  /** Where the file comes from and under which licence (shown by `models list`, README). */
  source: string;
}

export interface LoadOptions {
  /** The weights: a file (ONNX models), a model.json or a folder (tfjs models). */
  modelPath?: string;
  modelUrl?: string;
  /** Expected sha256 instead of the pinned one (an export of one's own). */
  sha256?: string;
  minScore: number;
  /** Dynamic inputs: the short side to run at. */
  size?: number;
  base?: CocoSsdBase;
  /** Dynamic inputs: run on a square letterbox instead (bench comparisons). */
  square?: boolean;
  log?: Logger;
}

export type ModelPathKind = 'onnx' | 'model.json' | 'model.json or folder';

export interface ModelDescriptor {
  name: string;
  /** One line for humans: what the model is. */
  title: string;
  runtime: 'onnxruntime' | 'tfjs';
  /** Fetched by `roomcount models fetch NAME` into the models folder (undefined: ships with npm, or see title). */
  weights?: ModelWeights;
  /** True when the weights ship with `npm install` (nothing to fetch). */
  bundled?: boolean;
  /** What detector.modelPath names: an ONNX file, a tfjs model.json, or (coco-ssd) also a folder holding one. */
  modelPathKind: ModelPathKind;
  /**
   * The threshold used when detector.minScore is not set: a number, or for dynamic inputs a function of the
   * short side the model runs at (its scores rise with the input size).
   */
  minScore: number | ((size: number) => number);
  /** Tiles used when neither detector.tiles nor the room's tiles say. */
  tiles: TileSetting;
  /** Dynamic inputs: default short side. */
  size?: number;
  /** detector keys this model takes besides those every model takes, its weights' sha256 and its input size. */
  options?: readonly ('modelUrl' | 'base')[];
  /**
   * The model uses minScore as its NMS overlap threshold too: a run at a lower threshold changes the boxes above
   * the higher one (no threshold sweep from one run, no "weak boxes" shown in pictures).
   */
  minScoreSetsNms?: boolean;
  /** The model resizes every frame to its own input itself: only a whole-frame (square) geometry is meaningful. */
  resizesItself?: boolean;
  load(opts: LoadOptions): Promise<PersonModel>;
}

/** Most accurate first: `detector.model: auto` takes the first one that is installed. */
export const MODEL_DESCRIPTORS = [
  {
    name: 'rtmdet-nano',
    title: 'RTMDet-nano person (OpenMMLab MMPose, Apache-2.0), any input size',
    runtime: 'onnxruntime',
    modelPathKind: 'onnx',
    weights: {
      file: 'rtmdet_nano_person.onnx',
      url: 'https://github.com/zli20/RtmDet-RtmPose-OnnxRuntime/raw/f7cb01b156d0ddce64ea09dfd24e450103782db9/models/rtmdet_nano.onnx',
      sha256: '4720eda18a18402e7b76d85827d4bc60fba18111fc0b74b559e4d24da9ddc3d2',
      bytes: 4_038_157,
      source:
        'OpenMMLab RTMDet-nano person (rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.pth, Apache-2.0), ' +
        'MMDeploy end2end ONNX export from zli20/RtmDet-RtmPose-OnnxRuntime@f7cb01b',
    },
    // Chosen across COCO-128, classroom, vtest and the wide panoramas (README "Models and accuracy"): the best
    // threshold rises with the input size; between the sizes measured it is interpolated.
    minScore: (size) => interpolate(RTMDET_THRESHOLDS, size),
    tiles: 'off',
    // 480, not 512: 512 was a little more accurate (mean MAE 0.59 against 0.69, mostly on vtest) but took 62–72 ms
    // a frame on the build machine, over the 60 ms budget; 480 takes 51–56 ms (README "Performance").
    size: 480,
    load: async (o) => {
      const { loadRtmdet } = await import('./rtmdet.js');
      return loadRtmdet({ ...o, modelPath: o.modelPath! });
    },
  },
  {
    name: 'yolox-nano',
    title: 'YOLOX-Nano (Megvii, Apache-2.0), COCO, 416 × 416',
    runtime: 'onnxruntime',
    modelPathKind: 'onnx',
    weights: {
      file: 'yolox_nano.onnx',
      url: 'https://github.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/raw/3d4f1119d0694200671c08069ecb847aa0d8495a/model/yolox_nano.onnx',
      sha256: '695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14',
      bytes: 3_660_092,
      source:
        'Megvii YOLOX-Nano COCO weights (Apache-2.0), ONNX export from Kazuhito00/YOLOX-ONNX-TFLite-Sample@3d4f111',
    },
    minScore: 0.25,
    tiles: 'auto',
    load: async (o) => {
      const { loadYolox } = await import('./yolox.js');
      return loadYolox({ ...o, modelPath: o.modelPath! });
    },
  },
  {
    name: 'nanodet-plus',
    title: 'NanoDet-Plus-m (RangiLyu, Apache-2.0), COCO, 416 × 416',
    runtime: 'onnxruntime',
    modelPathKind: 'onnx',
    weights: {
      file: 'nanodet_plus_m_416.onnx',
      url: 'https://github.com/yse-yoo/python_examples/raw/1dcdadb26842a7570efc3b1c769a2d457520e04c/object_detection_nanodet_2022nov.onnx',
      sha256: '4b82da9944b88577175ee23a459dce2e26e6e4be573def65b1055dc2d9720186',
      bytes: 3_800_954,
      source:
        'NanoDet-Plus-m 416 (RangiLyu/nanodet, Apache-2.0), OpenCV Zoo export object_detection_nanodet_2022nov.onnx',
    },
    minScore: 0.4,
    tiles: 'auto',
    load: async (o) => {
      const { loadNanodet } = await import('./nanodet.js');
      return loadNanodet({ ...o, modelPath: o.modelPath! });
    },
  },
  {
    name: 'centernet',
    title: 'CenterNet MobileNetV3 (COCO) from @vladmandic/human, ships with npm install, 512 × 512',
    runtime: 'tfjs',
    modelPathKind: 'model.json',
    bundled: true,
    minScore: 0.25,
    tiles: 'auto',
    load: async (o) => {
      const { loadCenterNet } = await import('./centernet.js');
      return loadCenterNet({ minScore: o.minScore, modelJsonPath: o.modelPath, log: o.log });
    },
  },
  {
    name: 'coco-ssd',
    title: '@tensorflow-models/coco-ssd (weights: `roomcount models fetch coco-ssd --dir DIR`)',
    runtime: 'tfjs',
    modelPathKind: 'model.json or folder',
    options: ['modelUrl', 'base'],
    minScoreSetsNms: true,
    resizesItself: true, // to 300 × 300
    minScore: 0.3,
    tiles: 'off',
    load: async (o) => {
      const { loadCocoSsd } = await import('./coco-ssd.js');
      return loadCocoSsd(o);
    },
  },
] as const satisfies readonly ModelDescriptor[];

export type ModelName = (typeof MODEL_DESCRIPTORS)[number]['name'];
export const MODEL_NAMES = MODEL_DESCRIPTORS.map((d) => d.name) as [ModelName, ...ModelName[]];

export function modelDescriptor(name: string): ModelDescriptor {
  const d = (MODEL_DESCRIPTORS as readonly ModelDescriptor[]).find((m) => m.name === name);
  if (!d) throw new Error(`unknown detector model "${name}"; use one of auto, ${MODEL_NAMES.join(', ')}`);
  return d;
}

/** The models `roomcount models fetch` takes: those with pinned weights, and coco-ssd (its own files). */
export function fetchableModels(): string[] {
  return [...MODEL_DESCRIPTORS.filter((d) => 'weights' in d).map((d) => d.name), 'coco-ssd'];
}

/** detector keys that only some models take (every model takes minScore and tiles). */
export const DETECTOR_OPTIONS = ['modelPath', 'modelUrl', 'sha256', 'base', 'inputSize'] as const;
export type DetectorOption = (typeof DETECTOR_OPTIONS)[number];

/**
 * Whether a model takes a detector key: any model its own file (modelPath), ONNX models the file's sha256, dynamic
 * inputs an input size, and the keys its descriptor lists. `auto` takes only what holds whichever model it picks
 * (inputSize, for a dynamic one); the file keys name one model's weights.
 */
export function takesOption(model: string, key: DetectorOption): boolean {
  if (model === 'auto') return key === 'inputSize';
  const d = modelDescriptor(model);
  if (key === 'modelPath') return true;
  if (key === 'sha256') return d.runtime === 'onnxruntime';
  if (key === 'inputSize') return d.size !== undefined;
  return d.options?.includes(key) ?? false;
}

/** The short sides a dynamic-input model may run at (detector.inputSize, --input-size). */
export const INPUT_SIZE = { min: 128, max: 1280, multipleOf: 32 } as const;

/** rtmdet-nano's best threshold (lowest mean MAE over the four evaluation sets) at the short sides measured. */
const RTMDET_THRESHOLDS: readonly (readonly [number, number])[] = [
  [416, 0.325],
  [448, 0.35],
  [480, 0.35],
  [512, 0.35],
  [576, 0.375],
  [640, 0.425],
];

/** Piecewise-linear through (x, y) points sorted by x; flat beyond the ends; 3 decimals. */
function interpolate(points: readonly (readonly [number, number])[], x: number): number {
  const [first, last] = [points[0]!, points.at(-1)!];
  if (x <= first[0]) return first[1];
  if (x >= last[0]) return last[1];
  const i = points.findIndex(([px]) => px >= x);
  const [x0, y0] = points[i - 1]!;
  const [x1, y1] = points[i]!;
  return Math.round((y0 + ((x - x0) * (y1 - y0)) / (x1 - x0)) * 1000) / 1000;
}

/** A model's own threshold at the input size it runs at (dynamic inputs; fixed ones ignore `size`). */
export function defaultMinScore(d: ModelDescriptor, size = d.size): number {
  return typeof d.minScore === 'number' ? d.minScore : d.minScore(size ?? 0);
}

/** Overrides where `models fetch` installs weights and where `auto` and the ONNX models look for them. */
export const MODELS_DIR_ENV = 'ROOMCOUNT_MODELS_DIR';

/** The models folder: $ROOMCOUNT_MODELS_DIR, else `models/` in roomcount's own folder (next to dist/). */
export function defaultModelsDir(): string {
  const fromEnv = process.env[MODELS_DIR_ENV]?.trim();
  if (fromEnv) return path.resolve(fromEnv);
  // This file is src/detect/models.ts or dist/detect/models.js: two folders below the package root.
  return fileURLToPath(new URL('../../models/', import.meta.url)).replace(/[\\/]$/, '');
}

/** Where a fetchable model's weights are when detector.modelPath does not say. */
export function installedPath(d: ModelDescriptor, modelsDir = defaultModelsDir()): string | undefined {
  return d.weights ? path.join(modelsDir, d.weights.file) : undefined;
}

/** What to do when a fetchable model's weights are not in the models folder (said by run and check-config). */
export function notInstalledMessage(d: ModelDescriptor, modelsDir: string): string {
  return (
    `${d.weights?.file ?? d.name} is not installed in ${modelsDir}. Run \`roomcount models fetch ${d.name}\`, ` +
    'or set detector.modelPath to your copy'
  );
}

/**
 * What `detector.model: auto` picks: the first model in MODEL_DESCRIPTORS order whose weights are in the models
 * folder, else the bundled one. Returns the candidates in the order to try (a file that fails to load gives way to
 * the next).
 */
export function autoCandidates(modelsDir = defaultModelsDir()): ModelDescriptor[] {
  const all = MODEL_DESCRIPTORS as readonly ModelDescriptor[];
  return all.filter((d) => d.bundled || (d.weights && existsSync(installedPath(d, modelsDir)!)));
}
