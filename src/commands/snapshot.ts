import { statSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { annotateFrame } from '../annotate.js';
import { DEFAULT_GRAB_TIMEOUT_MS, grabFrame, GrabError } from '../camera/snapshot.js';
import type { Config } from '../config/schema.js';
import { explainDetections, roomFilterFrom } from '../count/region.js';
import { createDetector } from '../detect/index.js';
import { detectInPicture } from '../detect/picture.js';
import { createLogger } from '../log.js';
import { roomDetectOptions } from '../room.js';
import { pictureTitle } from './count.js';
import {
  configuredThreshold,
  roomOf,
  detectorConfigFrom,
  showingWeakDetections,
  type DetectorOverrides,
} from './detector-options.js';

export interface SnapshotOptions extends DetectorOverrides {
  config: Config;
  roomId: string;
  /** The JPEG to write (.jpg / .jpeg); its folder must exist. Nothing else is written. */
  out: string;
  fullResolution?: boolean;
  /** Give up when the camera has sent no picture within this long. Default 15 s. */
  timeoutSeconds?: number;
  stdout?: NodeJS.WritableStream;
}

export interface SnapshotResult {
  file: string;
  bytes: number;
  width: number;
  height: number;
  counted: number;
  ignored: number;
}

/**
 * `roomcount snapshot`: one picture from a room's camera with the room's region, every detection (counted, or
 * ignored and why) and the count drawn on it, written to `out` and nowhere else. Throws (nothing written) when the
 * camera gives no picture; the message names the room and never the camera's credentials.
 */
export async function snapshotRoom(opts: SnapshotOptions): Promise<SnapshotResult> {
  const stdout = opts.stdout ?? process.stdout;
  const room = roomOf(opts.config, opts.roomId)!;
  checkOut(opts.out);
  const detectorConfig = detectorConfigFrom(opts.config, opts);

  const frame = await grabFrame({
    url: room.camera.url,
    transport: room.camera.transport,
    keyframesOnly: room.camera.keyframesOnly,
    timeoutMs: opts.timeoutSeconds !== undefined ? opts.timeoutSeconds * 1000 : DEFAULT_GRAB_TIMEOUT_MS,
  }).catch((err: unknown) => {
    throw err instanceof GrabError ? new Error(`room ${room.id}: ${err.message}`, { cause: err }) : err;
  });

  const detector = await createDetector(
    // The picture shows the boxes below minScore too; the filter still counts only those at or above it.
    showingWeakDetections(detectorConfig),
    createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  );
  const filter = roomFilterFrom(room, configuredThreshold(detectorConfig, detector));
  let picture;
  try {
    const detections = await detectInPicture(detector, frame, {
      fullResolution: opts.fullResolution,
      detect: roomDetectOptions(room),
    });
    const explained = explainDetections(detections, filter, frame);
    const taken = new Date(frame.capturedAt).toISOString().slice(0, 19).replace('T', ' ');
    const title = `${pictureTitle(`${taken} UTC`, detector.model, filter, room.id)} · camera ${frame.width}x${frame.height}`;
    picture = await annotateFrame(frame, explained, filter, { title });
  } finally {
    await detector.dispose();
  }
  writeFileSync(opts.out, picture.jpeg);
  const result: SnapshotResult = {
    file: opts.out,
    bytes: picture.jpeg.length,
    width: picture.layout.width,
    height: picture.layout.height,
    counted: picture.counted,
    ignored: picture.ignored,
  };
  stdout.write(
    `${result.file}: ${result.width}x${result.height} JPEG, ${Math.ceil(result.bytes / 1024)} KiB; room ${room.id}: ` +
      `${result.counted} counted, ${result.ignored} ignored. The picture is written to this file only ` +
      `(roomcount run never writes pictures).\n`,
  );
  return result;
}

/** Before the camera is opened: the picture must be able to go where it is told. */
function checkOut(out: string): void {
  if (!/^\.jpe?g$/i.test(extname(out))) {
    throw new Error(`--out ${out}: the picture is a JPEG; give a file name ending in .jpg`);
  }
  const dir = dirname(resolve(out));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new Error(`--out ${out}: folder ${dir} does not exist; create it or choose another path`);
}
