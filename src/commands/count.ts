import { writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { annotateFrame } from '../annotate.js';
import type { Config } from '../config/schema.js';
import { explainDetections, roomFilterFrom, wholeFrameFilter, type RoomFilter } from '../count/region.js';
import { createDetector } from '../detect/index.js';
import { makeDirectory } from '../dirs.js';
import { detectInPicture } from '../detect/picture.js';
import { readImageFrame } from '../image.js';
import { createLogger } from '../log.js';
import { roomDetectOptions } from '../room.js';
import {
  configuredThreshold,
  detectorConfigFrom,
  roomOf,
  showingWeakDetections,
  type DetectorOverrides,
} from './detector-options.js';

export interface CountOptions extends DetectorOverrides {
  config: Config | undefined;
  roomId: string | undefined;
  json: boolean;
  /** Detect on the full-size image instead of scaling it to the detector's input box as the camera does. */
  fullResolution?: boolean;
  /** Also write each image, annotated with the region and every detection, into this folder (created). */
  annotateDir?: string;
  out?: NodeJS.WritableStream;
  /** Where the annotated pictures went (stderr by default). */
  err?: NodeJS.WritableStream;
}

/** `roomcount count IMAGE...`: people per image with the configured detector (and a room's region). */
export async function countImages(files: string[], opts: CountOptions): Promise<void> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const detectorConfig = detectorConfigFrom(opts.config, opts);
  const room = roomOf(opts.config, opts.roomId);
  const annotated = opts.annotateDir === undefined ? undefined : annotationPaths(files, opts.annotateDir);
  const detector = await createDetector(
    // Pictures show the boxes below minScore too; the filter still counts only those at or above it.
    annotated ? showingWeakDetections(detectorConfig) : detectorConfig,
    createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  );
  const minScore = configuredThreshold(detectorConfig, detector);
  const filter = room ? roomFilterFrom(room, minScore) : wholeFrameFilter(minScore);
  const detectOptions = room && roomDetectOptions(room);
  try {
    if (opts.annotateDir !== undefined) makeDirectory(opts.annotateDir);
    for (const [i, file] of files.entries()) {
      const image = await readImageFrame(file);
      // Like `roomcount run`: the detector sees the picture scaled to its input box; boxes are in the image's
      // own pixels.
      const detections = await detectInPicture(detector, image, {
        fullResolution: opts.fullResolution,
        detect: detectOptions,
      });
      const explained = explainDetections(detections, filter, image);
      const people = explained.filter((e) => e.counted).map((e) => e.detection);
      if (opts.json) {
        const boxes = people.map((d) => ({
          score: round(d.score, 3),
          box: d.box.map((v) => round(v, 1)),
        }));
        out.write(JSON.stringify({ file, count: people.length, detections: boxes }) + '\n');
      } else {
        out.write(`${file}\t${people.length}\n`);
      }
      const path = annotated?.[i];
      if (path !== undefined) {
        const title = pictureTitle(basename(file), detector.model, filter, opts.roomId);
        const picture = await annotateFrame(image, explained, filter, { title });
        writeFileSync(path, picture.jpeg);
        err.write(
          `${file}: annotated picture written to ${path} (${picture.counted} counted, ${picture.ignored} ignored)\n`,
        );
      }
    }
  } finally {
    await detector.dispose();
  }
}

/**
 * DIR/<name>.jpg for each image (name without its extension; -2, -3... when two images share a name). Refuses
 * a folder where that would overwrite one of the images.
 */
export function annotationPaths(files: readonly string[], dir: string): string[] {
  const inputs = new Set(files.map((f) => resolve(f)));
  const used = new Set<string>();
  return files.map((file) => {
    const name = basename(file, extname(file));
    let path = join(dir, `${name}.jpg`);
    for (let n = 2; used.has(resolve(path)); n++) path = join(dir, `${name}-${n}.jpg`);
    if (inputs.has(resolve(path))) {
      throw new Error(
        `--annotate ${dir}: the picture for ${file} would overwrite ${path}; choose another folder`,
      );
    }
    used.add(resolve(path));
    return path;
  });
}

/** The banner's second line: what was looked at and with which threshold. */
export function pictureTitle(what: string, model: string, filter: RoomFilter, roomId?: string): string {
  return [
    what,
    roomId !== undefined ? `room ${roomId}` : 'whole picture',
    `${model} minScore ${filter.minScore}`,
  ].join(' · ');
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
