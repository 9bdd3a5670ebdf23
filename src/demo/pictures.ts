import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { defaultCenterNetModelPath } from '../detect/centernet.js';

/**
 * The picture `npm start` loops as its camera (config/demo.yaml): five people cut out of pictures that ship inside
 * the @vladmandic/human npm package (MIT licensed with it), pasted on a plain background, so that the number
 * the demo reports can be checked by eye. It is composed when the demo starts (the project does not commit
 * third-party pictures, nor composites of them) and written to a git-ignored folder.
 */
export const DEMO_PICTURE = { file: 'room.jpg', width: 1280, height: 720 } as const;

/**
 * What each demo room of config/demo.yaml reports for DEMO_PICTURE, with the bundled detector and with
 * yolox-nano, at any minScore from 0.25 to 0.45: the weakest person scores 0.58 with CenterNet (0.82 with
 * YOLOX-nano), anything else at most 0.13 (0.12). The README's Quick start states these numbers;
 * test/demo.test.ts checks that it does and that both detectors report them.
 */
export const DEMO_ROOM_COUNTS = {
  /** The whole picture: everyone. */
  'demo-room': 5,
  /** Region: the lower half, i.e. the people of the bottom row (their feet are in it). */
  'demo-lower-half': 2,
  /** A `place` (reports occupied: true/false) whose region is the man at his desk, top right. */
  'demo-desk': 1,
} as const;

/** A rectangle of one of @vladmandic/human's assets, showing `people` whole people (counted by eye). */
export interface Cutout {
  asset: string;
  /** The asset's size, checked before cutting: a different picture under the same name would change the count. */
  assetSize: readonly [width: number, height: number];
  left: number;
  top: number;
  width: number;
  height: number;
  people: number;
  what: string;
}

/** One person in the strip of thumbnails at the top of samples.jpg (1280x1158; the strip is y 1..157). */
function fromSamples(left: number, width: number, what: string): Cutout {
  return { asset: 'samples.jpg', assetSize: [1280, 1158], left, top: 1, width, height: 157, people: 1, what };
}

/**
 * Two rows of single people. Each was chosen because every detector tried (CenterNet, YOLOX-nano, RTMDet-nano)
 * finds it alone and in this layout, and nothing else in its cut-out scores near a person; the group photos
 * in the same assets were left out (people too small or overlapping for a count to be certain).
 */
export const DEMO_ROWS: readonly (readonly Cutout[])[] = [
  [
    fromSamples(0, 158, 'a woman, full body (3D render)'),
    fromSamples(166, 151, 'a woman seated, head and shoulders'),
    {
      // The webcam picture top right of screenshot-vrm.jpg, from x 500: further left, a label drawn over it
      // looked a little like a person to RTMDet.
      asset: 'screenshot-vrm.jpg',
      assetSize: [800, 653],
      left: 500,
      top: 2,
      width: 230,
      height: 242,
      people: 1,
      what: 'a man at his desk (webcam)',
    },
  ],
  [fromSamples(380, 156, 'a man at a restaurant table'), fromSamples(641, 148, 'a woman standing')],
];

/** Height of every cut-out in DEMO_PICTURE: two rows and three equal gaps fill the height. */
export const DEMO_ROW_HEIGHT = 324;
const BACKGROUND = '#b0b0b0';

/** Where a cut-out goes in DEMO_PICTURE (pixels), scaled to DEMO_ROW_HEIGHT with its aspect kept. */
export interface Placement {
  cutout: Cutout;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Lays DEMO_ROWS out: rows evenly spaced down the picture, cut-outs of a row evenly spaced across it. */
export function demoLayout(
  rows: readonly (readonly Cutout[])[] = DEMO_ROWS,
  picture: { width: number; height: number } = DEMO_PICTURE,
  rowHeight = DEMO_ROW_HEIGHT,
): Placement[] {
  const gapY = (picture.height - rows.length * rowHeight) / (rows.length + 1);
  if (gapY < 0)
    throw new Error(`demo layout: ${rows.length} rows of ${rowHeight} px do not fit ${picture.height} px`);
  return rows.flatMap((row, r) => {
    const widths = row.map((c) => Math.round((c.width * rowHeight) / c.height));
    const gapX = (picture.width - widths.reduce((a, b) => a + b, 0)) / (row.length + 1);
    if (gapX < 0) throw new Error(`demo layout: row ${r + 1} is wider than ${picture.width} px`);
    const top = Math.round(gapY + r * (rowHeight + gapY));
    let x = gapX;
    return row.map((cutout, i) => {
      const placement = { cutout, left: Math.round(x), top, width: widths[i]!, height: rowHeight };
      x += widths[i]! + gapX;
      return placement;
    });
  });
}

/** People in a layout: the sum of its cut-outs' counts. */
export function peopleIn(layout: readonly Placement[]): number {
  return layout.reduce((n, p) => n + p.cutout.people, 0);
}

/** The folder of pictures inside the @vladmandic/human package (next to the models/ folder of CenterNet). */
export function humanAssetsDir(): string {
  return path.join(path.dirname(path.dirname(defaultCenterNetModelPath())), 'assets');
}

/**
 * Composes DEMO_PICTURE from the package's assets and writes it (JPEG) into `dir`, creating the folder.
 * Returns the file written. Fails, naming the asset, when an asset is missing or not the picture counted.
 */
export async function writeDemoPicture(dir: string, assetsDir = humanAssetsDir()): Promise<string> {
  const layout = demoLayout();
  const tiles = await Promise.all(
    layout.map(async ({ cutout: c, width, height, left, top }) => {
      const file = path.join(assetsDir, c.asset);
      const image = sharp(file, { failOn: 'error' });
      const meta = await image.metadata().catch((err: unknown) => {
        throw new Error(`demo picture: cannot read ${file}: ${(err as Error).message}`, { cause: err });
      });
      const [w, h] = c.assetSize;
      if (meta.width !== w || meta.height !== h) {
        throw new Error(
          `demo picture: ${file} is ${meta.width}x${meta.height}, expected ${w}x${h} (the picture whose people ` +
            'were counted); reinstall @vladmandic/human at the version in package-lock.json',
        );
      }
      const input = await image
        .extract({ left: c.left, top: c.top, width: c.width, height: c.height })
        .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
        .toBuffer();
      return { input, left, top };
    }),
  );
  await mkdir(dir, { recursive: true });
  const out = path.join(dir, DEMO_PICTURE.file);
  const { width, height } = DEMO_PICTURE;
  await sharp({ create: { width, height, channels: 3, background: BACKGROUND } })
    .composite(tiles)
    .jpeg({ quality: 90 })
    .toFile(out);
  return out;
}
