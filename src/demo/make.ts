/**
 * `node dist/demo/make.js [DIR]` (npm's `prestart`): writes the demo camera's picture into DIR, by default
 * .cache/demo/ of the project (git-ignored), where config/demo.yaml looks for it. `roomcount run` itself never
 * writes pixels; this separate step does, and says where.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_PICTURE, DEMO_ROOM_COUNTS, writeDemoPicture } from './pictures.js';

/** .cache/demo/ of the project: dist/demo/make.js (or src/demo/make.ts) is two folders below its root. */
const DEFAULT_DEMO_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '.cache',
  'demo',
);

const dir = path.resolve(process.argv[2] ?? DEFAULT_DEMO_DIR);
try {
  const file = await writeDemoPicture(dir);
  const shown = path.relative(process.cwd(), file);
  const counts = Object.entries(DEMO_ROOM_COUNTS)
    .map(([room, n]) => `${room} ${n}`)
    .join(', ');
  const { width, height } = DEMO_PICTURE;
  process.stderr.write(
    `demo: wrote ${shown.startsWith('..') ? file : shown} (${width}x${height}; people: ${counts})\n`,
  );
} catch (err) {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
