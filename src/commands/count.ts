import type { Config } from '../config/schema.js';
import { peopleInRoom, roomFilterFrom, wholeFrameFilter } from '../count/region.js';
import { createDetector } from '../detect/index.js';
import { limitFrame, readImageFrame } from '../image.js';
import type { Detection } from '../detect/detector.js';
import { createLogger } from '../log.js';
import { detectorConfigFrom, type DetectorOverrides } from './detector-options.js';

export interface CountOptions extends DetectorOverrides {
  config: Config | undefined;
  roomId: string | undefined;
  json: boolean;
  /** Detect on the full-size image instead of scaling it to the detector's input box as the camera does. */
  fullResolution?: boolean;
  out?: NodeJS.WritableStream;
}

/** `roomcount count IMAGE...`: people per image with the configured detector (and a room's region). */
export async function countImages(files: string[], opts: CountOptions): Promise<void> {
  const out = opts.out ?? process.stdout;
  const detectorConfig = detectorConfigFrom(opts.config, opts);
  const room = opts.roomId === undefined ? undefined : opts.config?.rooms.find((r) => r.id === opts.roomId);
  if (opts.roomId !== undefined && !room) {
    throw new Error(`--room ${opts.roomId}: no such room in the configuration`);
  }
  const detector = await createDetector(
    detectorConfig,
    createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  );
  const filter = room ? roomFilterFrom(room, detector.minScore) : wholeFrameFilter(detector.minScore);
  const detectOptions = room?.tiles && { tiles: room.tiles };
  try {
    for (const file of files) {
      const image = await readImageFrame(file);
      // Like `roomcount run`: the detector sees the picture scaled to its input box; boxes are reported in
      // the image's own pixels.
      const frame = opts.fullResolution ? image : await limitFrame(image, detector.frameLimit(detectOptions));
      const people = peopleInRoom(await detector.detect(frame, detectOptions), filter, frame).map((d) =>
        scaleBox(d, image.width / frame.width, image.height / frame.height),
      );
      if (opts.json) {
        const detections = people.map((d) => ({
          score: round(d.score, 3),
          box: d.box.map((v) => round(v, 1)),
        }));
        out.write(JSON.stringify({ file, count: people.length, detections }) + '\n');
      } else {
        out.write(`${file}\t${people.length}\n`);
      }
    }
  } finally {
    await detector.dispose();
  }
}

function scaleBox(d: Detection, sx: number, sy: number): Detection {
  if (sx === 1 && sy === 1) return d;
  const [x1, y1, x2, y2] = d.box;
  return { score: d.score, box: [x1 * sx, y1 * sy, x2 * sx, y2 * sy] };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
