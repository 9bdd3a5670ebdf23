import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config, DetectorConfig } from '../config/schema.js';
import { configSchema, MODELS } from '../config/schema.js';

export type ModelName = (typeof MODELS)[number];

/** Command-line overrides of the configured detector (`--model`, `--model-path`, `--min-score`). */
export interface DetectorOverrides {
  model?: string;
  modelPath?: string;
  minScore?: number;
}

/**
 * The detector settings a command uses: the config's (or the defaults), with command-line overrides. Switching
 * to another model drops the config's model-specific keys (modelPath, modelUrl, sha256, base), which belong
 * to the configured model. `--model-path` is relative to the current directory.
 */
export function detectorConfigFrom(config: Config | undefined, o: DetectorOverrides = {}): DetectorConfig {
  const base: DetectorConfig = config?.detector ?? configSchema.shape.detector.parse(undefined);
  let cfg: DetectorConfig = { ...base };
  if (o.model !== undefined) {
    if (!(MODELS as readonly string[]).includes(o.model)) {
      throw new Error(`--model ${o.model}: unknown model; use one of ${MODELS.join(', ')}`);
    }
    if (o.model !== base.model) cfg = { model: o.model as ModelName, minScore: base.minScore };
  }
  if (o.modelPath !== undefined) {
    cfg = { ...cfg, modelPath: path.resolve(o.modelPath) };
    delete cfg.modelUrl;
  }
  if (o.minScore !== undefined) {
    if (!(o.minScore >= 0 && o.minScore <= 1))
      throw new Error(`--min-score must be within 0..1, got ${o.minScore}`);
    cfg = { ...cfg, minScore: o.minScore };
  }
  return cfg;
}

/** On the command line, a missing yolox-nano path is better explained by naming the flag as well as the key. */
export function checkModelPath(cfg: DetectorConfig): void {
  if (cfg.model === 'yolox-nano' && !cfg.modelPath) {
    throw new Error(
      'yolox-nano needs the path of yolox_nano.onnx: pass --model-path FILE or set detector.modelPath',
    );
  }
}

/** Where tests and benchmarks look for YOLOX-Nano when nothing is configured (the team's shared copy). */
export const SHARED_YOLOX_PATH = '../shared/models/yolox_nano.onnx';

/** The shared yolox_nano.onnx, resolved against `cwd`, if it exists. */
export function sharedYoloxPath(cwd = process.cwd()): string | undefined {
  const p = path.resolve(cwd, SHARED_YOLOX_PATH);
  return existsSync(p) ? p : undefined;
}

/** Parses a `--min-score` value. */
export function parseScore(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1))
    throw new Error(`expected a score within 0..1, got "${value}"`);
  return n;
}

/** The weakest boxes an annotated picture shows (as "below minScore"), unless the room's threshold is lower. */
export const WEAKEST_SHOWN_SCORE = 0.1;

/**
 * Detector settings for an annotated picture, which also shows the boxes a room ignores as too weak: the detector
 * reports down to WEAKEST_SHOWN_SCORE and the room's filter judges. Greedy NMS visits boxes by score, so the boxes
 * at or above the room's minScore, and so the count, are the same as with the room's own threshold. coco-ssd keeps
 * its minScore: it uses it as its NMS overlap threshold too, which would change the counted boxes.
 */
export function showingWeakDetections(cfg: DetectorConfig, roomMinScore: number): DetectorConfig {
  if (cfg.model === 'coco-ssd') return cfg;
  return { ...cfg, minScore: Math.min(WEAKEST_SHOWN_SCORE, roomMinScore, cfg.minScore) };
}
