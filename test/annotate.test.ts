import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATION_COLOURS,
  annotateFrame,
  countSummary,
  labelOf,
  OUTSIDE_DIM,
  type Annotated,
} from '../src/annotate.js';
import { explainDetections, roomFilterFrom, type ExplainedDetection } from '../src/count/region.js';
import type { Detection } from '../src/detect/detector.js';
import { renderFrame } from './helpers/frames.js';

type RGB = [number, number, number];

const GREY = 90;
const W = 1600;
const H = 1200;

// A plain grey "room": every line found in the picture was drawn by the annotation.
const frame = renderFrame(W, H, () => [GREY, GREY, GREY]);

const filter = roomFilterFrom(
  {
    minScore: 0.5,
    minBoxArea: 0.001, // 1920 px² of this frame
    region: {
      include: [
        [0.05, 0.05],
        [0.6, 0.05],
        [0.6, 0.95],
        [0.05, 0.95],
      ],
      exclude: [
        [0.3, 0.6],
        [0.5, 0.6],
        [0.5, 0.9],
        [0.3, 0.9],
      ],
    },
  },
  0.3,
);

const box = (score: number, b: Detection['box']): Detection => ({ score, box: b });
// Anchors (bottom centre) noted; in frame pixels.
const COUNTED = box(0.9, [200, 200, 400, 800]); // (300, 800): in the region
const WEAK = box(0.3, [520, 150, 640, 450]); // below minScore 0.5
const OUTSIDE = box(0.8, [1100, 300, 1400, 900]); // (1250, 900): right of the include polygon
const EXCLUDED = box(0.7, [560, 700, 720, 1000]); // (640, 1000): in the exclude polygon
const SMALL = box(0.85, [760, 200, 790, 240]); // 1200 px² < 1920

function hex(colour: string): RGB {
  const n = parseInt(colour.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** JPEG is lossy: a colour matches within this per channel. */
const TOLERANCE = 50;
const near = (a: RGB, b: RGB, tol = TOLERANCE) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

interface Decoded {
  width: number;
  height: number;
  /** Pixel of the output at frame coordinates (x, y): applies the layout's scale and the banner offset. */
  at(x: number, y: number): RGB;
  /** Pixel at output coordinates. */
  raw(x: number, y: number): RGB;
}

async function decode(a: Annotated): Promise<Decoded> {
  const { data, info } = await sharp(a.jpeg).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  const raw = (x: number, y: number): RGB => {
    const i = (Math.round(y) * info.width + Math.round(x)) * 3;
    return [data[i]!, data[i + 1]!, data[i + 2]!];
  };
  const { scaleX, scaleY, pictureTop } = a.layout;
  return {
    width: info.width,
    height: info.height,
    raw,
    at: (x, y) => raw(x * scaleX, pictureTop + y * scaleY),
  };
}

/** Fraction of the points whose pixel matches the colour. */
function share(img: Decoded, pts: [number, number][], colour: string): number {
  return pts.filter(([x, y]) => near(img.at(x, y), hex(colour))).length / pts.length;
}

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}
const vertical = (x: number, y1: number, y2: number, step = 5) =>
  range(y1, y2, step).map((y): [number, number] => [x, y]);
const horizontal = (y: number, x1: number, x2: number, step = 5) =>
  range(x1, x2, step).map((x): [number, number] => [x, y]);

describe('annotateFrame: a rendered frame with known detections', () => {
  let explained: ExplainedDetection[];
  let result: Annotated;
  let img: Decoded;

  beforeAll(async () => {
    explained = explainDetections([COUNTED, WEAK, OUTSIDE, EXCLUDED, SMALL], filter, frame);
    result = await annotateFrame(frame, explained, filter, { title: 'test room · centernet minScore 0.5' });
    img = await decode(result);
  });

  it('judges the detections as the room does (the input of the picture)', () => {
    expect(explained.map((e) => e.reason ?? 'counted')).toEqual([
      'counted',
      'below minScore',
      'outside region',
      'excluded',
      'box too small',
    ]);
    expect(result.counted).toBe(1);
    expect(result.ignored).toBe(4);
  });

  it('keeps the frame at full size between a banner and a legend', () => {
    const { layout } = result;
    expect([layout.scaleX, layout.scaleY]).toEqual([1, 1]);
    expect(img.width).toBe(W);
    expect(layout.pictureTop).toBeGreaterThan(layout.font * 2);
    expect(img.height).toBeGreaterThan(layout.pictureTop + H + layout.font);
    expect(img.height).toBe(layout.height);
  });

  it('draws the counted box solid in its colour, exactly on its edges, with its anchor marked', () => {
    const [x1, y1, x2, y2] = COUNTED.box;
    const green = ANNOTATION_COLOURS.counted;
    expect(share(img, vertical(x1, y1 + 100, y2 - 100), green)).toBe(1);
    expect(share(img, vertical(x2, y1 + 100, y2 - 100), green)).toBe(1);
    expect(
      share(img, [...horizontal(y2, x1 + 20, x1 + 80), ...horizontal(y2, x2 - 80, x2 - 20)], green),
    ).toBe(1);
    expect(near(img.at(300, 800), hex(green))).toBe(true); // anchor: bottom centre
    // Not where the box is not: a few line widths inside and outside the edge the picture is untouched.
    const line = result.layout.line;
    for (const [x, y] of [
      [x1 + 4 * line, 500],
      [x1 - 4 * line, 500],
      [x2 + 4 * line, 500],
      [300, 500],
      [300, y2 + 4 * line],
    ] as [number, number][]) {
      expect(near(img.at(x, y), [GREY, GREY, GREY], 15), `(${x}, ${y})`).toBe(true);
    }
  });

  it('draws each ignored box dashed in the colour of its reason', () => {
    const dashed = (b: Detection, colour: string) => {
      const [x1, y1, , y2] = b.box;
      return share(img, vertical(x1, y1 + 10, y2 - 10, 2), colour);
    };
    // Dashes cover 3/5 of a line; gaps show the picture.
    for (const [b, colour] of [
      [WEAK, ANNOTATION_COLOURS['below minScore']],
      [OUTSIDE, ANNOTATION_COLOURS['outside region']],
    ] as const) {
      const s = dashed(b, colour);
      expect(s).toBeGreaterThan(0.35);
      expect(s).toBeLessThan(0.85);
    }
    // The excluded box's top edge lies above the (also red) exclude polygon.
    const [ex1, ey1, ex2] = EXCLUDED.box;
    const s = share(img, horizontal(ey1, ex1 + 10, ex2 - 10, 2), ANNOTATION_COLOURS.excluded);
    expect(s).toBeGreaterThan(0.35);
    expect(s).toBeLessThan(0.85);
    // The small box: its anchor in amber.
    expect(near(img.at(775, 240), hex(ANNOTATION_COLOURS['box too small']))).toBe(true);
    // The reasons' colours are told apart (none matches another's).
    expect(share(img, vertical(OUTSIDE.box[0], 320, 880, 2), ANNOTATION_COLOURS.counted)).toBe(0);
  });

  it('outlines the include polygon, hatches the exclude polygon and dims what lies outside the region', () => {
    const blue = ANNOTATION_COLOURS.include;
    expect(share(img, vertical(0.05 * W, 0.1 * H, 0.9 * H, 10), blue)).toBe(1);
    expect(share(img, vertical(0.6 * W, 0.1 * H, 0.9 * H, 10), blue)).toBe(1);
    expect(share(img, horizontal(0.95 * H, 0.1 * W, 0.55 * W, 10), blue)).toBe(1);
    const red = ANNOTATION_COLOURS.exclude;
    expect(share(img, horizontal(0.9 * H, 0.31 * W, 0.49 * W, 10), red)).toBe(1);
    expect(share(img, vertical(0.3 * W, 0.84 * H, 0.89 * H, 5), red)).toBe(1);
    // Hatching: red stripes inside the exclude polygon, and none in the rest of the region.
    const redness = (pts: [number, number][]) =>
      pts.reduce((sum, [x, y]) => sum + img.at(x, y)[0] - img.at(x, y)[1], 0) / pts.length;
    expect(redness(horizontal(1040, 490, 550, 1))).toBeGreaterThan(30);
    expect(redness(horizontal(1040, 150, 190, 1))).toBeLessThan(8);
    // Inside the include polygon the picture is as it was; outside it, darker.
    expect(near(img.at(150, 1000), [GREY, GREY, GREY], 12)).toBe(true);
    const dim = Math.round(GREY * (1 - OUTSIDE_DIM));
    expect(near(img.at(1500, 1150), [dim, dim, dim], 12)).toBe(true);
    expect(near(img.at(20, 20), [dim, dim, dim], 12)).toBe(true);
  });

  it('writes the count in the banner and a legend below the picture', () => {
    const { pictureTop } = result.layout;
    const inBanner: [number, number][] = [];
    for (let y = 0; y < pictureTop; y += 2) for (let x = 0; x < W / 2; x += 2) inBanner.push([x, y]);
    const green = inBanner.filter(([x, y]) => near(img.raw(x, y), hex(ANNOTATION_COLOURS.counted))).length;
    expect(green).toBeGreaterThan(50); // "1 person counted" in green
    expect(near(img.raw(W - 10, 5), [17, 17, 17], 12)).toBe(true); // banner background
    const legendTop = pictureTop + H;
    const legend: [number, number][] = [];
    for (let y = legendTop; y < img.height; y += 2) for (let x = 0; x < W; x += 2) legend.push([x, y]);
    for (const colour of [
      ANNOTATION_COLOURS.counted,
      ANNOTATION_COLOURS.include,
      ANNOTATION_COLOURS.exclude,
    ]) {
      expect(
        legend.some(([x, y]) => near(img.raw(x, y), hex(colour))),
        colour,
      ).toBe(true);
    }
  });

  it('marks the centre of each box when the room anchors there', async () => {
    const centred = { ...filter, anchor: 'center' as const };
    const a = await annotateFrame(frame, explainDetections([COUNTED], centred, frame), centred);
    const centre = await decode(a);
    expect(near(centre.at(300, 500), hex(ANNOTATION_COLOURS.counted))).toBe(true);
    expect(near(centre.at(300, 800), hex(ANNOTATION_COLOURS.counted))).toBe(true); // the bottom edge
    expect(near(centre.at(300, 800 - 4 * a.layout.line), [GREY, GREY, GREY], 15)).toBe(true);
  });
});

describe('annotateFrame: picture size', () => {
  const people = (w: number, h: number) => [box(0.9, [w * 0.25, h * 0.25, w * 0.5, h * 0.75])];

  it('enlarges a small frame to 640 px and caps a large one at 1920 px, boxes scaled with it', async () => {
    for (const [w, h, expected] of [
      [320, 240, 640],
      [4000, 3000, 1920],
      [1280, 720, 1280],
    ] as const) {
      const f = renderFrame(w, h, () => [GREY, GREY, GREY]);
      const whole = roomFilterFrom({ region: {} }, 0.3);
      const a = await annotateFrame(f, explainDetections(people(w, h), whole, f), whole);
      const img = await decode(a);
      expect(img.width).toBe(expected);
      expect(a.layout.pictureHeight).toBe(Math.round((h * expected) / w));
      // Text never smaller than 13 px; ~27 px at 1920.
      expect(a.layout.font).toBeGreaterThanOrEqual(13);
      if (expected === 1920) expect(a.layout.font).toBeGreaterThanOrEqual(26);
      expect(share(img, vertical(w * 0.25, h * 0.35, h * 0.65, h / 50), ANNOTATION_COLOURS.counted)).toBe(1);
      expect(
        near(img.at(w * 0.25 + (6 * a.layout.line) / a.layout.scaleX, h / 2), [GREY, GREY, GREY], 15),
      ).toBe(true);
    }
  });
});

describe('labels and the banner text', () => {
  const e = (score: number, reason?: ExplainedDetection['reason']): ExplainedDetection => ({
    detection: box(score, [0, 0, 1, 1]),
    counted: reason === undefined,
    ...(reason && { reason }),
  });

  it('give the score, and for an ignored box why', () => {
    expect(labelOf(e(0.873), filter)).toBe('0.87');
    expect(labelOf(e(0.21, 'below minScore'), filter)).toBe('0.21 < 0.5');
    expect(labelOf(e(0.64, 'outside region'), filter)).toBe('0.64 outside');
    expect(labelOf(e(0.64, 'excluded'), filter)).toBe('0.64 excluded');
    expect(labelOf(e(0.64, 'box too small'), filter)).toBe('0.64 small');
    expect(labelOf(e(0.64, 'box too large'), filter)).toBe('0.64 large');
  });

  it('count people and ignored boxes', () => {
    expect(countSummary([e(0.9), e(0.8), e(0.7), e(0.2, 'below minScore'), e(0.9, 'excluded')])).toBe(
      '3 people counted · 2 ignored',
    );
    expect(countSummary([e(0.9)])).toBe('1 person counted · 0 ignored');
    expect(countSummary([])).toBe('0 people counted · 0 ignored');
  });
});
