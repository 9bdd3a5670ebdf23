import { existsSync } from 'node:fs';
import type { DetectorConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../redact.js';
import type { Detector, TileSetting } from './detector.js';
import {
  autoCandidates,
  defaultMinScore,
  defaultModelsDir,
  installedPath,
  modelDescriptor,
  notInstalledMessage,
  type ModelDescriptor,
} from './models.js';
import { createDetectorPool, type PoolOptions } from './pool.js';
import { TilingDetector } from './tiling.js';

export type { Detection, Detector } from './detector.js';

/** The detector settings createDetector reads (a parsed `detector:` block, or the same from flags). */
export type DetectorChoice = Pick<DetectorConfig, 'model'> &
  Partial<Omit<DetectorConfig, 'model'>> & {
    modelsDir?: string;
    /** Dynamic inputs: a square letterbox instead of the frame's aspect ratio (bench comparisons). */
    square?: boolean;
  };

/**
 * Builds the configured person detector: picks the model (`auto`: the most accurate one installed, see
 * models.ts), finds its weights (detector.modelPath, else the models folder), loads it with its threshold
 * (detector.minScore, else the model's own) and wraps it in the tiling the config asks for (else the model's
 * default). `auto` logs its choice once; a candidate that fails to load gives way to the next, with an error logged.
 */
export async function createDetector(cfg: DetectorChoice, log?: Logger): Promise<Detector> {
  if (cfg.model !== 'auto') return load(modelDescriptor(cfg.model), cfg, log);
  const modelsDir = cfg.modelsDir ?? defaultModelsDir();
  const candidates = autoCandidates(modelsDir);
  for (const [i, d] of candidates.entries()) {
    try {
      const detector = await load(d, { ...cfg, modelPath: undefined, sha256: undefined }, log);
      log?.info(
        {
          model: d.name,
          modelsDir,
          skipped: candidates.slice(0, i).map((c) => c.name),
        },
        `detector.model auto: using ${d.name}` +
          (d.bundled ? ' (no better model installed; `roomcount models fetch rtmdet-nano` adds one)' : ''),
      );
      return detector;
    } catch (err) {
      if (i === candidates.length - 1) throw err;
      log?.error(
        { model: d.name, err: (err as Error).message },
        `detector.model auto: ${d.name} is installed but does not load; trying the next model`,
      );
    }
  }
  throw new Error('detector.model auto: no model available'); // centernet is bundled: not reached
}

async function load(d: ModelDescriptor, cfg: DetectorChoice, log: Logger | undefined): Promise<Detector> {
  if (cfg.modelUrl && d.name !== 'coco-ssd') {
    log?.warn(
      { modelUrl: redactUrl(cfg.modelUrl) },
      `detector.modelUrl is not used by the ${d.name} model; set detector.modelPath to a local file instead`,
    );
  }
  const size = cfg.inputSize ?? d.size;
  const minScore = cfg.minScore ?? defaultMinScore(d, size);
  let modelPath = cfg.modelPath;
  if (modelPath === undefined && d.weights) {
    const dir = cfg.modelsDir ?? defaultModelsDir();
    modelPath = installedPath(d, dir)!;
    if (!existsSync(modelPath)) {
      throw new Error(`detector.model ${d.name}: ${notInstalledMessage(d, dir)}`);
    }
  }
  const started = performance.now();
  const person = await d.load({
    modelPath,
    modelUrl: cfg.modelUrl,
    sha256: cfg.sha256,
    base: cfg.base,
    minScore,
    size,
    square: cfg.square,
    log,
  });
  log?.info(
    {
      model: person.model,
      backend: person.backend,
      ...person.details,
      loadMs: Math.round(performance.now() - started),
    },
    'person detector loaded',
  );
  const tiles: TileSetting = cfg.tiles ?? d.tiles;
  return new TilingDetector(person, tiles, minScore);
}

/**
 * The service's detector: a pool of `detector.workers` worker threads, each loading the model as createDetector
 * does. Default for the ONNX models: one per core — ffmpeg runs at the lowest priority, so the detectors may take
 * every core and the decoders what is left, and the main thread only routes frames; for tfjs models one.
 * `workers: 0` loads it on the main thread instead.
 */
export async function createServiceDetector(
  cfg: DetectorChoice,
  log?: Logger,
  opts: Omit<PoolOptions, 'workers' | 'log'> = {},
): Promise<Detector> {
  if (cfg.workers === 0) return createDetector(cfg, log);
  return createDetectorPool(cfg, { ...opts, workers: cfg.workers ?? 'auto', log });
}
