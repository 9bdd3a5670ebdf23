import path from 'node:path';
import type { Config, DetectorConfig, RoomConfig } from '../config/schema.js';
import { configSchema, MODELS } from '../config/schema.js';
import type { Detector, TileSetting } from '../detect/detector.js';
import type { DetectorChoice } from '../detect/index.js';
import { defaultMinScore, INPUT_SIZE, modelDescriptor } from '../detect/models.js';
import { AUTO_TILE_OVERLAP, MAX_TILES_PER_SIDE } from '../detect/geometry.js';

export type ModelName = (typeof MODELS)[number];

/** Command-line overrides of the configured detector (`--model`, `--model-path`, `--min-score`). */
export interface DetectorOverrides {
  model?: string;
  modelPath?: string;
  minScore?: number;
  tiles?: TileSetting;
  inputSize?: number;
  /** Where fetched models are (default: the models folder). */
  modelsDir?: string;
}

/**
 * The detector settings a command uses: the config's (or the defaults), with command-line overrides. Switching
 * to another model drops the config's model-specific keys (modelPath, modelUrl, sha256, base), which belong
 * to the configured model. `--model-path` is relative to the current directory.
 */
export function detectorConfigFrom(config: Config | undefined, o: DetectorOverrides = {}): DetectorChoice {
  const base: DetectorConfig = config?.detector ?? configSchema.shape.detector.parse(undefined);
  let cfg: DetectorChoice = { ...base };
  if (o.model !== undefined) {
    if (!(MODELS as readonly string[]).includes(o.model)) {
      throw new Error(`--model ${o.model}: unknown model; use one of ${MODELS.join(', ')}`);
    }
    if (o.model !== base.model) {
      cfg = { model: o.model as ModelName, ...(base.minScore !== undefined && { minScore: base.minScore }) };
    }
  }
  if (o.modelPath !== undefined) {
    cfg = { ...cfg, modelPath: path.resolve(o.modelPath) };
    delete cfg.modelUrl;
  }
  if (o.tiles !== undefined) cfg = { ...cfg, tiles: o.tiles };
  if (o.inputSize !== undefined) cfg = { ...cfg, inputSize: o.inputSize };
  if (o.minScore !== undefined) {
    if (!(o.minScore >= 0 && o.minScore <= 1))
      throw new Error(`--min-score must be within 0..1, got ${o.minScore}`);
    cfg = { ...cfg, minScore: o.minScore };
  }
  if (o.modelsDir !== undefined) cfg = { ...cfg, modelsDir: path.resolve(o.modelsDir) };
  return cfg;
}

/** Parses a `--tiles` value: `auto`, `off`, or `CxR` with an optional overlap, e.g. `2x1` or `3x2:0.2`. */
export function parseTiles(value: string): TileSetting {
  const v = value.trim().toLowerCase();
  if (v === 'auto' || v === 'off') return v;
  const m = /^(\d+)x(\d+)(?::(0?\.\d+|0))?$/.exec(v);
  const columns = Number(m?.[1]);
  const rows = Number(m?.[2]);
  const overlap = m?.[3] === undefined ? AUTO_TILE_OVERLAP : Number(m[3]);
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_TILES_PER_SIDE;
  if (!m || !ok(columns) || !ok(rows) || overlap > 0.5) {
    throw new Error(
      `expected auto, off or COLUMNSxROWS[:OVERLAP] (1..${MAX_TILES_PER_SIDE} each, overlap 0..0.5), got "${value}"`,
    );
  }
  return { columns, rows, overlap };
}

/** Parses an `--input-size` value (a multiple of 32). */
export function parseInputSize(value: string): number {
  const n = Number(value);
  const { min, max, multipleOf } = INPUT_SIZE;
  if (!Number.isInteger(n) || n < min || n > max || n % multipleOf !== 0) {
    throw new Error(`expected a multiple of ${multipleOf} from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** Parses a `--min-score` value. */
export function parseScore(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1))
    throw new Error(`expected a score within 0..1, got "${value}"`);
  return n;
}

/**
 * The room `--room ID` names (undefined without the flag). Throws, naming the rooms there are, when the config has
 * no such room, or when there is no config to look in.
 */
export function roomOf(config: Config | undefined, roomId: string | undefined): RoomConfig | undefined {
  if (roomId === undefined) return undefined;
  if (!config) throw new Error(`--room ${roomId} needs --config FILE (the file that defines the room)`);
  const room = config.rooms.find((r) => r.id === roomId);
  if (!room) {
    const ids = config.rooms.map((r) => r.id).join(', ');
    throw new Error(`--room ${roomId}: no such room in the configuration (rooms: ${ids})`);
  }
  return room;
}

/** The weakest boxes an annotated picture shows (as "below minScore"), unless the threshold is lower. */
export const WEAKEST_SHOWN_SCORE = 0.1;

/** The threshold a command counts with: the flag's or config's, else the chosen model's own. */
export function configuredThreshold(
  cfg: DetectorChoice,
  detector: Pick<Detector, 'model' | 'input'>,
): number {
  return cfg.minScore ?? defaultMinScore(modelDescriptor(detector.model), detector.input.size);
}

/**
 * Detector settings for an annotated picture, which also shows the boxes a room ignores as too weak: the detector
 * reports down to WEAKEST_SHOWN_SCORE and the room's filter judges. Greedy NMS visits boxes by score, so the boxes
 * at or above the room's minScore, and so the count, are the same as with the room's own threshold. A model whose
 * minScore is its NMS overlap threshold too (coco-ssd) keeps it: a lower one would change the counted boxes.
 */
export function showingWeakDetections(cfg: DetectorChoice): DetectorChoice {
  if (cfg.model !== 'auto' && modelDescriptor(cfg.model).minScoreSetsNms) return cfg;
  return { ...cfg, minScore: Math.min(WEAKEST_SHOWN_SCORE, cfg.minScore ?? 1) };
}
