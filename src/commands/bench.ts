import os from 'node:os';
import path from 'node:path';
import type { Frame } from '../camera/frame.js';
import { existsSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { Detector } from '../detect/detector.js';
import { nativeInputSize } from '../detect/geometry.js';
import { createDetector, type DetectorChoice } from '../detect/index.js';
import {
  defaultModelsDir,
  installedPath,
  MODEL_DESCRIPTORS,
  MODEL_NAMES,
  type ModelDescriptor,
  type ModelName,
} from '../detect/models.js';
import { ORT_THREADS_ENV } from '../detect/onnx.js';
import { tilesFor } from '../detect/tiling.js';
import { timingStats } from '../eval/metrics.js';
import { limitFrame, readImageFrame } from '../image.js';
import { createLogger } from '../log.js';
import { redactUrl } from '../redact.js';

export interface BenchOptions {
  config?: Config;
  /** Only these models (default: every available one). */
  models?: string[];
  /** Image files to time instead of the rendered frames. */
  images?: string[];
  iterations?: number;
  warmup?: number;
  out?: NodeJS.WritableStream;
  /** Where the fetched models are (default: the models folder). */
  modelsDir?: string;
}

/** How a model is made to look at a frame. */
export type Geometry = 'square' | 'native aspect' | 'tiles';

export interface BenchRow {
  model: string;
  backend: string;
  geometry: Geometry;
  /** The camera frame timed: the picture scaled as the camera would deliver it for this geometry. */
  frame: string;
  /** Model runs per frame and their input sizes, e.g. "2 × 416×416". */
  runs: string;
  median: number;
  p95: number;
  fps: number;
  /** Rooms at 1 frame/s one 2-core box sustains with this configuration (see roomsPerBox). */
  rooms: number;
  source: string;
}

/**
 * The frames timed when no images are given, rendered (no image files needed): a 16:9 camera and a 2:1
 * panorama (a 360° meeting-room camera's strip), both at 1280 px — big enough that every geometry gets the
 * pixels it asks for.
 */
export const BENCH_FRAME_SIZES = [
  [1280, 720],
  [1280, 640],
] as const;

/** Sizing assumptions for rooms per box: what else a room costs, and how busy a box may run. */
export const BOX = {
  cores: 2,
  /** Share of the machine to plan for (the rest absorbs bursts, HTTP, delivery). */
  utilisation: 0.8,
  /** ffmpeg per camera at 1 fps, % of a core, with a sub-stream or keyframesOnly (README "Performance"). */
  decodeCoreShare: 0.02,
} as const;

/**
 * Rooms at 1 frame/s per box for a detector taking `meanMs` per frame: the shared detector runs on one thread
 * (one frame at a time), so it alone bounds rooms at utilisation × 1000 / ms; and all of it, detector plus one
 * decoder per camera, must fit the box's cores.
 */
export function roomsPerBox(meanMs: number): number {
  const perRoom = meanMs / 1000 + BOX.decodeCoreShare;
  const byDetector = (BOX.utilisation * 1000) / meanMs;
  const byCores = (BOX.cores * BOX.utilisation) / perRoom;
  return Math.max(0, Math.floor(Math.min(byDetector, byCores)));
}

interface Candidate {
  descriptor: ModelDescriptor;
  /** How createDetector gets it: the configured detector block when it names this model, else the defaults. */
  choice?: DetectorChoice;
  source: string;
  skip?: string;
}

/**
 * `roomcount bench`: times detect() (cropping tiles, preprocessing, inference, decoding, NMS, merging) per model,
 * geometry (square letterbox / native aspect for dynamic inputs / tiles) and frame, and prints median and p95
 * ms/frame, frames/s and the rooms per 2-core box at 1 frame/s each allows. Models: the bundled one, every ONNX
 * model installed in the models folder (or configured), coco-ssd when its weights are configured.
 */
export async function bench(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const out = opts.out ?? process.stdout;
  const iterations = opts.iterations ?? 20;
  const warmup = opts.warmup ?? 3;
  if (!(Number.isInteger(iterations) && iterations >= 1))
    throw new Error('--iterations must be a whole number >= 1');
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new Error('--warmup must be a whole number >= 0');
  for (const m of opts.models ?? []) {
    if (!(MODEL_NAMES as readonly string[]).includes(m))
      throw new Error(`--models: unknown model "${m}" (${MODEL_NAMES.join(', ')})`);
  }
  const frames: { name: string; frame: Frame }[] = [];
  for (const file of opts.images ?? [])
    frames.push({ name: path.basename(file), frame: await readImageFrame(file) });
  if (frames.length === 0) {
    for (const [w, h] of BENCH_FRAME_SIZES) frames.push({ name: `${w}x${h}`, frame: renderBenchFrame(w, h) });
  }

  const candidates = benchCandidates(opts.config, opts.modelsDir).filter(
    (c) => !opts.models?.length || opts.models.includes(c.descriptor.name),
  );
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  out.write(
    `roomcount bench: detect() per frame (tiles, preprocess, inference, decode, NMS, merge), median and p95 of ` +
      `${iterations} runs after ${warmup} warm-up; Node ${process.version}, ${os.availableParallelism()} CPUs ` +
      `(${cpu}); onnxruntime threads: ${process.env[ORT_THREADS_ENV] ?? '1'} (${ORT_THREADS_ENV}).\n` +
      `rooms/box: rooms at 1 frame/s on ${BOX.cores} cores at ${BOX.utilisation * 100} % (one detector thread; ` +
      `${BOX.decodeCoreShare * 100} % of a core per camera for ffmpeg with a sub-stream or keyframesOnly).\n`,
  );
  const header = ['model', 'geometry', 'frame', 'model runs', 'median ms', 'p95 ms', 'frames/s', 'rooms/box'];
  const rows: BenchRow[] = [];
  const table: string[][] = [];
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const notes: string[] = [];
  for (const c of candidates) {
    if (c.skip || !c.choice) {
      notes.push(`skipped ${c.descriptor.name}: ${c.skip}`);
      continue;
    }
    const d = c.descriptor;
    for (const geometry of geometriesOf(d)) {
      let detector: Detector;
      try {
        detector = await createDetector(
          { ...c.choice, tiles: geometry === 'tiles' ? 'auto' : 'off', square: geometry === 'square' },
          log,
        );
      } catch (err) {
        notes.push(`skipped ${d.name}: ${(err as Error).message}`);
        break;
      }
      try {
        for (const { name, frame: picture } of frames) {
          const frame = await limitFrame(picture, detector.frameLimit());
          const runs = modelRuns(detector, frame);
          for (let i = 0; i < warmup; i++) await detector.detect(frame);
          const times: number[] = [];
          for (let i = 0; i < iterations; i++) {
            const started = performance.now();
            await detector.detect(frame);
            times.push(performance.now() - started);
          }
          const t = timingStats(times);
          const row: BenchRow = {
            model: d.name,
            backend: detector.backend,
            geometry,
            frame: `${name} → ${frame.width}x${frame.height}`,
            runs,
            median: t.median,
            p95: t.p95,
            fps: 1000 / t.mean,
            rooms: roomsPerBox(t.mean),
            source: c.source,
          };
          rows.push(row);
          table.push([
            row.model,
            row.geometry,
            row.frame,
            row.runs,
            row.median.toFixed(1),
            row.p95.toFixed(1),
            row.fps.toFixed(1),
            String(row.rooms),
          ]);
        }
      } finally {
        await detector.dispose();
      }
    }
  }
  out.write(formatTable(header, table, [4, 5, 6, 7]));
  for (const c of candidates.filter((c) => !c.skip)) out.write(`${c.descriptor.name}: ${c.source}\n`);
  for (const note of notes) out.write(`${note}\n`);
  return rows;
}

/** Square letterbox and tiles for every model; dynamic-input models also at the frame's own aspect ratio. */
function geometriesOf(d: ModelDescriptor): Geometry[] {
  if (d.resizesItself) return ['square'];
  return d.size !== undefined ? ['square', 'native aspect', 'tiles'] : ['square', 'tiles'];
}

/** How many model runs a frame takes and at which input size, e.g. "2 × 416x416" or "1 × 832x416". */
function modelRuns(detector: Detector, frame: { width: number; height: number }): string {
  const tiles = tilesFor(frame, detector.tiles);
  const input = detector.input;
  const sizes = tiles.map((t) =>
    input.kind === 'fixed'
      ? { width: input.size, height: input.size }
      : nativeInputSize(t, input.size, input.stride),
  );
  const distinct = [...new Set(sizes.map((s) => `${s.width}x${s.height}`))];
  return `${tiles.length} × ${distinct.join('/')}`;
}

/** Which models bench times, with where each one's weights come from (or why it is skipped). */
export function benchCandidates(config: Config | undefined, modelsDir = defaultModelsDir()): Candidate[] {
  const configured = config?.detector;
  return (MODEL_DESCRIPTORS as readonly ModelDescriptor[]).map((d) => {
    const mine = configured?.model === d.name ? configured : undefined;
    const choice: DetectorChoice = { ...(mine ?? { model: d.name as ModelName }), modelsDir };
    if (d.bundled) {
      return { descriptor: d, choice, source: mine?.modelPath ?? 'bundled with npm install' };
    }
    if (d.weights) {
      const file = mine?.modelPath ?? installedPath(d, modelsDir)!;
      return existsSync(file)
        ? { descriptor: d, choice, source: file }
        : {
            descriptor: d,
            source: '',
            skip: `${file} not found (roomcount models fetch ${d.name}, or detector.modelPath)`,
          };
    }
    if (mine && (mine.modelPath || mine.modelUrl)) {
      return {
        descriptor: d,
        choice,
        source: `${mine.modelPath ?? redactUrl(mine.modelUrl!)} (${mine.base ?? 'lite_mobilenet_v2'})`,
      };
    }
    return {
      descriptor: d,
      source: '',
      skip: 'no weights configured (detector.model: coco-ssd with detector.modelPath; see `roomcount models fetch`)',
    };
  });
}

/**
 * A deterministic stand-in for a camera frame: a lit wall with a window, a floor, a table and a few
 * person-sized dark blobs, plus mild noise, so the models do the same work as on real pictures.
 */
export function renderBenchFrame(width: number, height: number): Frame {
  const data = new Uint8Array(width * height * 3);
  let seed = 12345;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return ((seed >> 16) % 9) - 4;
  };
  const horizon = Math.round(height * 0.55);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r: number, g: number, b: number;
      if (y < horizon) {
        const light = 200 - (40 * y) / horizon;
        [r, g, b] = [light, light - 5, light - 20];
        const inWindow = x > width * 0.6 && x < width * 0.85 && y > height * 0.1 && y < height * 0.4;
        if (inWindow) [r, g, b] = [170, 200, 235];
      } else {
        const shade = 110 + (50 * (y - horizon)) / (height - horizon);
        [r, g, b] = [shade, shade * 0.8, shade * 0.6];
      }
      const onTable = x > width * 0.3 && x < width * 0.7 && y > height * 0.6 && y < height * 0.7;
      if (onTable) [r, g, b] = [90, 60, 40];
      for (const [cx, top, w, h] of [
        [0.22, 0.35, 0.06, 0.4],
        [0.5, 0.3, 0.05, 0.33],
        [0.78, 0.4, 0.07, 0.45],
      ] as const) {
        const dx = (x / width - cx) / (w / 2);
        const head = ((x / width - cx) / (w / 3)) ** 2 + ((y / height - top - 0.04) / 0.04) ** 2 <= 1;
        if (head) [r, g, b] = [205, 165, 140];
        else if (Math.abs(dx) <= 1 && y / height > top + 0.08 && y / height < top + h)
          [r, g, b] = [40, 50, 80];
      }
      const o = (y * width + x) * 3;
      data[o] = clampByte(r + noise());
      data[o + 1] = clampByte(g + noise());
      data[o + 2] = clampByte(b + noise());
    }
  }
  return { width, height, data, capturedAt: 0 };
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

function formatTable(header: string[], rows: string[][], rightAligned: number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n') + '\n';
}
