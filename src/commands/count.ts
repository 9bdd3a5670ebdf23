import type { Config } from '../config/schema.js';
import { peopleInRoom, roomFilterFrom, wholeFrameFilter } from '../count/region.js';
import { createDetector } from '../detect/index.js';
import { readImageFrame } from '../image.js';
import { createLogger } from '../log.js';
import { detectorConfigFrom, type DetectorOverrides } from './detector-options.js';

export interface CountOptions extends DetectorOverrides {
  config: Config | undefined;
  roomId: string | undefined;
  json: boolean;
  out?: NodeJS.WritableStream;
}

/** `roomcount count IMAGE...`: people per image with the configured detector (and a room's region). */
export async function countImages(files: string[], opts: CountOptions): Promise<void> {
  const out = opts.out ?? process.stdout;
  const detectorConfig = detectorConfigFrom(opts.config, opts);
  let filter = wholeFrameFilter(detectorConfig.minScore);
  if (opts.roomId !== undefined) {
    const room = opts.config?.rooms.find((r) => r.id === opts.roomId);
    if (!room) throw new Error(`--room ${opts.roomId}: no such room in the configuration`);
    filter = roomFilterFrom(room, detectorConfig.minScore);
  }
  const detector = await createDetector(
    detectorConfig,
    createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  );
  try {
    for (const file of files) {
      const frame = await readImageFrame(file);
      const people = peopleInRoom(await detector.detect(frame), filter, frame);
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

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
