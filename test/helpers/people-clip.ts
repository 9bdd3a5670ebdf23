import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { defaultCenterNetModelPath } from '../../src/detect/centernet.js';

/** A collage of photos of people that ships inside the @vladmandic/human package (a dependency). */
export const PEOPLE_PHOTO = join(dirname(dirname(defaultCenterNetModelPath())), 'assets', 'samples.jpg');

/**
 * Single, fully visible people in the top row of the collage (left, top, width, height in its 1280×1158 pixels):
 * a woman in a red skirt, a woman seated on a stool, a rendered figure in a white dress.
 */
export const PEOPLE = {
  red: [546, 0, 87, 158],
  stool: [798, 0, 107, 158],
  figure: [0, 0, 157, 158],
} as const;
export type Person = keyof typeof PEOPLE;

export interface ClipSegment {
  seconds: number;
  people: readonly Person[];
}

const WIDTH = 640;
const HEIGHT = 360;
const SLOTS = [40, 240, 440];
const FPS = 5;

/** One picture: the people (each always in its own place, `scale` × the collage size) on a plain grey wall. */
async function renderScene(people: readonly Person[], file: string, scale: number): Promise<void> {
  const layers = await Promise.all(
    people.map(async (who) => {
      const [left, top, width, height] = PEOPLE[who];
      const input = await sharp(PEOPLE_PHOTO)
        .extract({ left, top, width, height })
        .resize({ height: Math.round(height * scale) })
        .toBuffer();
      const slot = SLOTS[Object.keys(PEOPLE).indexOf(who)]!;
      return { input, left: slot, top: HEIGHT - Math.round(height * scale) - 20 };
    }),
  );
  await sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: '#8a8f96' } })
    .composite(layers)
    .png()
    .toFile(file);
}

/**
 * Renders a clip (H.264, 640×360, 5 fps) in which the given people are visible for each segment in turn, and
 * returns the truth CSV (start_s,end_s,count) that describes it. `scale`: people's size (default 1.5 × the
 * collage, ~240 px tall: easy to detect).
 */
export async function renderPeopleClip(
  file: string,
  segments: readonly ClipSegment[],
  opts: { scale?: number } = {},
): Promise<string> {
  const dir = dirname(file);
  const inputs: string[] = [];
  const truth = ['start_s,end_s,count'];
  let t = 0;
  for (const [i, seg] of segments.entries()) {
    const scene = join(dir, `scene-${i}.png`);
    await renderScene(seg.people, scene, opts.scale ?? 1.5);
    inputs.push('-loop', '1', '-framerate', String(FPS), '-t', String(seg.seconds), '-i', scene);
    truth.push(`${t},${t + seg.seconds},${seg.people.length}`);
    t += seg.seconds;
  }
  const concat = `${segments.map((_, i) => `[${i}:v]`).join('')}concat=n=${segments.length}:v=1:a=0,format=yuv420p`;
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', ...inputs],
    ...['-filter_complex', concat, '-c:v', 'libx264', '-preset', 'ultrafast', '-r', String(FPS), file],
  ]);
  return truth.join('\n') + '\n';
}
