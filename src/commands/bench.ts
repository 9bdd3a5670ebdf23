import os from 'node:os';
import path from 'node:path';
import type { Frame } from '../camera/frame.js';
import type { Config, DetectorConfig } from '../config/schema.js';
import { MODELS } from '../config/schema.js';
import { defaultCenterNetModelPath } from '../detect/centernet.js';
import type { Detector } from '../detect/detector.js';
import { createDetector } from '../detect/index.js';
import { timingStats } from '../eval/metrics.js';
import { readImageFrame } from '../image.js';
import { createLogger } from '../log.js';
import { redactUrl } from '../redact.js';
import { SHARED_YOLOX_PATH, sharedYoloxPath, type ModelName } from './detector-options.js';
import { ORT_THREADS_ENV } from '../detect/yolox.js';

export interface BenchOptions {
  config?: Config;
  /** Only these models (default: every available one). */
  models?: string[];
  /** Image files to time instead of the rendered frames. */
  images?: string[];
  iterations?: number;
  warmup?: number;
  out?: NodeJS.WritableStream;
  /** Where to look for the shared yolox_nano.onnx (default: the current directory). */
  cwd?: string;
}

export interface BenchRow {
  model: string;
  backend: string;
  frame: string;
  median: number;
  p95: number;
  fps: number;
  source: string;
}

/** The frames timed when no images are given: typical camera sizes, rendered (no image files needed). */
export const BENCH_FRAME_SIZES = [
  [640, 480],
  [1280, 720],
] as const;

interface Candidate {
  model: ModelName;
  cfg?: DetectorConfig;
  source: string;
  skip?: string;
}

/**
 * `roomcount bench`: times detect() (preprocessing, inference, decoding, NMS) per model and frame, and prints
 * median and p95 ms/frame and frames/s. Models: centernet always; yolox-nano when configured or when
 * ../shared/models/yolox_nano.onnx exists; coco-ssd when its weights are configured.
 */
export async function bench(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const out = opts.out ?? process.stdout;
  const iterations = opts.iterations ?? 20;
  const warmup = opts.warmup ?? 3;
  if (!(Number.isInteger(iterations) && iterations >= 1))
    throw new Error('--iterations must be a whole number >= 1');
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new Error('--warmup must be a whole number >= 0');
  for (const m of opts.models ?? []) {
    if (!(MODELS as readonly string[]).includes(m))
      throw new Error(`--models: unknown model "${m}" (${MODELS.join(', ')})`);
  }
  const frames: { name: string; frame: Frame }[] = [];
  for (const file of opts.images ?? [])
    frames.push({ name: path.basename(file), frame: await readImageFrame(file) });
  if (frames.length === 0) {
    for (const [w, h] of BENCH_FRAME_SIZES) frames.push({ name: `${w}x${h}`, frame: renderBenchFrame(w, h) });
  }

  const candidates = benchCandidates(opts.config, opts.cwd).filter(
    (c) => !opts.models?.length || opts.models.includes(c.model),
  );
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  out.write(
    `roomcount bench: detect() per frame (preprocess + inference + decode + NMS), median and p95 of ${iterations} ` +
      `runs after ${warmup} warm-up; Node ${process.version}, ${os.availableParallelism()} CPUs (${cpu}); ` +
      `onnxruntime threads: ${process.env[ORT_THREADS_ENV] ?? '1'} (${ORT_THREADS_ENV})\n`,
  );
  const header = ['model', 'backend', 'frame', 'median ms', 'p95 ms', 'frames/s', 'model file'];
  const rows: BenchRow[] = [];
  const table: string[][] = [];
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const notes: string[] = [];
  for (const c of candidates) {
    if (c.skip || !c.cfg) {
      notes.push(`skipped ${c.model}: ${c.skip}`);
      continue;
    }
    let detector: Detector;
    try {
      detector = await createDetector(c.cfg, log);
    } catch (err) {
      notes.push(`skipped ${c.model}: ${(err as Error).message}`);
      continue;
    }
    try {
      for (const { name, frame } of frames) {
        for (let i = 0; i < warmup; i++) await detector.detect(frame);
        const times: number[] = [];
        for (let i = 0; i < iterations; i++) {
          const started = performance.now();
          await detector.detect(frame);
          times.push(performance.now() - started);
        }
        const t = timingStats(times);
        const row = {
          model: c.model,
          backend: detector.backend,
          frame: name,
          median: t.median,
          p95: t.p95,
          fps: 1000 / t.mean,
          source: c.source,
        };
        rows.push(row);
        table.push([
          row.model,
          row.backend,
          row.frame,
          row.median.toFixed(1),
          row.p95.toFixed(1),
          row.fps.toFixed(1),
          row.source,
        ]);
      }
    } finally {
      await detector.dispose();
    }
  }
  out.write(formatTable(header, table, [3, 4, 5]));
  for (const note of notes) out.write(`${note}\n`);
  return rows;
}

/** Which models bench times, with where each one's weights come from (or why it is skipped). */
export function benchCandidates(config: Config | undefined, cwd = process.cwd()): Candidate[] {
  const configured = config?.detector;
  const minScore = configured?.minScore ?? 0.3;
  const fromConfig = (model: ModelName) => (configured?.model === model ? configured : undefined);

  const centernet = fromConfig('centernet');
  const centernetPath = centernet?.modelPath ?? defaultCenterNetModelPath();
  const list: Candidate[] = [
    {
      model: 'centernet',
      cfg: { model: 'centernet', minScore, ...(centernet?.modelPath && { modelPath: centernet.modelPath }) },
      source: centernet?.modelPath ? centernetPath : `${path.relative(cwd, centernetPath)} (bundled)`,
    },
  ];

  const yolox = fromConfig('yolox-nano');
  const shared = sharedYoloxPath(cwd);
  if (yolox?.modelPath) {
    list.push({ model: 'yolox-nano', cfg: yolox, source: `${yolox.modelPath} (detector.modelPath)` });
  } else if (shared) {
    list.push({
      model: 'yolox-nano',
      cfg: { model: 'yolox-nano', minScore, modelPath: shared },
      source: `${shared} (${SHARED_YOLOX_PATH})`,
    });
  } else {
    list.push({
      model: 'yolox-nano',
      source: '',
      skip: `no detector.modelPath configured and ${path.resolve(cwd, SHARED_YOLOX_PATH)} does not exist`,
    });
  }

  const ssd = fromConfig('coco-ssd');
  if (ssd && (ssd.modelPath || ssd.modelUrl)) {
    list.push({
      model: 'coco-ssd',
      cfg: ssd,
      source: `${ssd.modelPath ?? redactUrl(ssd.modelUrl!)} (${ssd.base ?? 'lite_mobilenet_v2'})`,
    });
  } else {
    list.push({
      model: 'coco-ssd',
      source: '',
      skip: 'no weights configured (detector.model: coco-ssd with detector.modelPath; see `roomcount models fetch`)',
    });
  }
  return list;
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
