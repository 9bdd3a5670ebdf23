import type { Config } from '../config/schema.js';
import { peopleInRoom, roomFilterFrom, wholeFrameFilter, type RoomFilter } from '../count/region.js';
import { createDetector } from '../detect/index.js';
import { modelDescriptor } from '../detect/models.js';
import { describeGeometry } from '../detect/describe.js';
import type { Detection, DetectOptions, Detector } from '../detect/detector.js';
import { readDataset, type Dataset } from '../eval/dataset.js';
import { countMetrics, timingStats, type CountMetrics } from '../eval/metrics.js';
import { Progress, type ProgressStream } from '../eval/progress.js';
import { limitFrame, readImageFrame } from '../image.js';
import { createLogger } from '../log.js';
import { roomDetectOptions } from '../room.js';
import {
  configuredThreshold,
  detectorConfigFrom,
  roomOf,
  type DetectorOverrides,
} from './detector-options.js';

/** Thresholds `--sweep` scores at (the detector runs once, at the lowest). */
export const SWEEP_SCORES = [
  0.2, 0.225, 0.25, 0.275, 0.3, 0.325, 0.35, 0.375, 0.4, 0.425, 0.45, 0.475, 0.5, 0.55, 0.6,
] as const;

export interface EvalOptions extends DetectorOverrides {
  dataset: string;
  config?: Config;
  /** Apply this room's region, box-area limits and minScore (default: the whole picture). */
  roomId?: string;
  verbose?: boolean;
  /** Also score at every SWEEP_SCORES threshold. */
  sweep?: boolean;
  /**
   * Give the detector the images at full size. Default: scaled to fit the detector's input box first, as the
   * camera pipeline (ffmpeg) does for `roomcount run`, so the numbers describe the running service.
   */
  fullResolution?: boolean;
  out?: NodeJS.WritableStream;
  err?: ProgressStream;
}

export interface EvalImageResult {
  file: string;
  truth: number;
  predicted: number;
  /** detect() time. */
  ms: number;
}

export interface EvalResult {
  dataset: Dataset;
  detector: { model: string; backend: string; minScore: number; input: string };
  metrics: CountMetrics;
  images: EvalImageResult[];
  /** detect() time per image. */
  timing: { median: number; p95: number; mean: number };
  sweep?: { minScore: number; metrics: CountMetrics }[];
}

/**
 * `roomcount eval`: runs the detector over a dataset's images and prints count accuracy (MAE, bias, exact %,
 * within-1 %, n, ms/image) on `out`, progress on `err`. Returns the numbers too.
 */
export async function evalDataset(opts: EvalOptions): Promise<EvalResult> {
  const out = opts.out ?? process.stdout;
  const dataset = await readDataset(opts.dataset);
  if (dataset.items.length === 0) throw new Error(`dataset ${dataset.dir} has no images to score`);
  const detectorConfig = detectorConfigFrom(opts.config, opts);
  const room = roomOf(opts.config, opts.roomId);
  const model = detectorConfig.model;
  if (opts.sweep && model !== 'auto' && modelDescriptor(model).minScoreSetsNms) {
    // Its NMS overlap threshold is minScore too, so one run cannot stand for several thresholds.
    throw new Error(
      `--sweep does not work with ${model} (its NMS depends on minScore); run eval once per --min-score`,
    );
  }
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  // With --sweep the detector runs once at the lowest threshold and every threshold is scored from that run.
  const lowest = Math.min(SWEEP_SCORES[0], detectorConfig.minScore ?? 1);
  const detector = await createDetector(
    opts.sweep ? { ...detectorConfig, minScore: lowest } : detectorConfig,
    log,
  );
  // The threshold scored: the flag's or config's, else the chosen model's own.
  const minScore = configuredThreshold(detectorConfig, detector);
  const filter: RoomFilter = room ? roomFilterFrom(room, minScore) : wholeFrameFilter(minScore);
  const scores = opts.sweep ? [...new Set([...SWEEP_SCORES, filter.minScore])].sort((a, b) => a - b) : [];
  const detectOptions = room && roomDetectOptions(room);
  const progress = new Progress('eval', dataset.items.length, opts.err ?? process.stderr);
  const images: EvalImageResult[] = [];
  const raw: { detections: Detection[]; frame: { width: number; height: number } }[] = [];
  try {
    for (const item of dataset.items) {
      const image = await readImageFrame(item.path);
      const frame = opts.fullResolution ? image : await limitFrame(image, detector.frameLimit(detectOptions));
      const started = performance.now();
      const detections = await detector.detect(frame, detectOptions);
      const ms = performance.now() - started;
      const size = { width: frame.width, height: frame.height };
      raw.push({ detections, frame: size });
      images.push({
        file: item.file,
        truth: item.truth,
        predicted: peopleInRoom(detections, filter, size).length,
        ms,
      });
      progress.tick();
    }
  } finally {
    progress.finish();
    await detector.dispose();
  }
  const metrics = countMetrics(images);
  const timing = timingStats(images.map((i) => i.ms));
  const sweep = scores.map((minScore) => ({
    minScore,
    metrics: countMetrics(
      dataset.items.map((item, i) => ({
        truth: item.truth,
        predicted: peopleInRoom(raw[i]!.detections, { ...filter, minScore }, raw[i]!.frame).length,
      })),
    ),
  }));
  const result: EvalResult = {
    dataset,
    detector: {
      model: detector.model,
      backend: detector.backend,
      minScore: filter.minScore,
      input: `${describeGeometry(detector, detectOptions?.tiles)}; ${framesText(detector, detectOptions, opts.fullResolution)}`,
    },
    metrics,
    images,
    timing,
    ...(opts.sweep && { sweep }),
  };
  out.write(formatEval(result, opts.verbose ?? false));
  return result;
}

function framesText(detector: Detector, opts: DetectOptions | undefined, fullResolution?: boolean): string {
  if (fullResolution) return 'full-size images';
  const limit = detector.frameLimit(opts);
  return `images scaled to at most ${limit.shortSide} px (short side) and ${limit.longSide} px (long side) as the camera does`;
}

export function formatEval(r: EvalResult, verbose: boolean): string {
  const lines: string[] = [];
  if (verbose) {
    const width = Math.max(4, ...r.images.map((i) => i.file.length));
    lines.push(`${'file'.padEnd(width)}  truth  predicted  diff      ms`);
    for (const i of r.images) {
      const diff = i.predicted - i.truth;
      lines.push(
        `${i.file.padEnd(width)}  ${String(i.truth).padStart(5)}  ${String(i.predicted).padStart(9)}  ` +
          `${(diff > 0 ? `+${diff}` : String(diff)).padStart(4)}  ${i.ms.toFixed(1).padStart(6)}`,
      );
    }
    lines.push('');
  }
  const m = r.metrics;
  const { dataset: d } = r;
  const excluded = d.excluded.length
    ? `${d.excluded.length} excluded (${[...new Set(d.excluded.map((e) => e.reason))].join(', ')} in details.csv)`
    : d.hasDetails
      ? 'none excluded by details.csv'
      : 'no details.csv';
  lines.push(
    `dataset   ${d.dir}: ${d.items.length + d.excluded.length} images in counts.csv, ${excluded}`,
    `model     ${r.detector.model} (${r.detector.backend}), minScore ${r.detector.minScore}; ${r.detector.input}`,
    `n         ${m.n}`,
    `MAE       ${m.mae.toFixed(3)}`,
    `bias      ${signed(m.bias)}  (mean of predicted - true; ${m.predictedTotal} found, ${m.truthTotal} true)`,
    `exact     ${m.exactPct.toFixed(1)} %`,
    `within 1  ${m.within1Pct.toFixed(1)} %`,
    `ms/image  ${r.timing.mean.toFixed(1)}  (detector only; median ${r.timing.median.toFixed(1)}, p95 ${r.timing.p95.toFixed(1)})`,
  );
  if (r.sweep) {
    lines.push('', 'minScore    MAE    bias  exact %  within-1 %');
    for (const { minScore, metrics: s } of r.sweep) {
      lines.push(
        `${minScore.toFixed(2).padStart(8)}  ${s.mae.toFixed(3)}  ${signed(s.bias).padStart(6)}  ` +
          `${s.exactPct.toFixed(1).padStart(7)}  ${s.within1Pct.toFixed(1).padStart(10)}` +
          (minScore === r.detector.minScore ? '  <- configured' : ''),
      );
    }
  }
  return lines.join('\n') + '\n';
}

function signed(v: number): string {
  return `${v > 0 ? '+' : ''}${v.toFixed(3)}`;
}
