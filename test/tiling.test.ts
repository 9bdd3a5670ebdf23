import { describe, expect, it } from 'vitest';
import type { Frame } from '../src/camera/frame.js';
import type { Detection } from '../src/detect/detector.js';
import {
  autoGrid,
  frameLimit,
  limitedSize,
  nativeInputSize,
  tileRects,
  type Rect,
} from '../src/detect/geometry.js';
import { intersectionOverSmaller } from '../src/detect/nms.js';
import { cropFrame, mergeTileDetections, tilesFor } from '../src/detect/tiling.js';
import { fakeDetector } from './helpers/detector.js';
import { renderFrame } from './helpers/frames.js';

describe('nativeInputSize: the frame’s own aspect ratio, short side = the model size', () => {
  it('landscape and portrait, long side rounded up to the stride', () => {
    expect(nativeInputSize({ width: 1280, height: 640 }, 416, 32)).toEqual({ width: 832, height: 416 });
    expect(nativeInputSize({ width: 640, height: 1280 }, 416, 32)).toEqual({ width: 416, height: 832 });
    // 16:9 at 416: 739.6 → 768 (the next multiple of 32: the frame fits as it is, padded).
    expect(nativeInputSize({ width: 1920, height: 1080 }, 416, 32)).toEqual({ width: 768, height: 416 });
    // 4:3 at 320: 426.7 → 448.
    expect(nativeInputSize({ width: 640, height: 480 }, 320, 32)).toEqual({ width: 448, height: 320 });
    // A camera frame already at short side 512: 910 × 512 fits 928 × 512 without resampling.
    expect(nativeInputSize({ width: 910, height: 512 }, 512, 32)).toEqual({ width: 928, height: 512 });
    expect(nativeInputSize({ width: 500, height: 500 }, 416, 32)).toEqual({ width: 416, height: 416 });
  });

  it('rounds the size itself to the stride and caps very long strips', () => {
    expect(nativeInputSize({ width: 1000, height: 1000 }, 420, 32)).toEqual({ width: 416, height: 416 });
    expect(nativeInputSize({ width: 8000, height: 500 }, 416, 32)).toEqual({ width: 1664, height: 416 });
  });

  it('every side is a multiple of the stride', () => {
    for (const [w, h] of [
      [777, 333],
      [333, 777],
      [1001, 999],
      [3840, 1920],
    ] as const) {
      const s = nativeInputSize({ width: w, height: h }, 416, 32);
      expect(s.width % 32).toBe(0);
      expect(s.height % 32).toBe(0);
      expect(Math.min(s.width, s.height)).toBe(416);
    }
  });
});

/** Every pixel of the frame lies in at least one tile, and no tile leaves the frame. */
function expectCover(frame: { width: number; height: number }, rects: Rect[]): void {
  for (const r of rects) {
    expect(r.x).toBeGreaterThanOrEqual(0);
    expect(r.y).toBeGreaterThanOrEqual(0);
    expect(r.x + r.width).toBeLessThanOrEqual(frame.width);
    expect(r.y + r.height).toBeLessThanOrEqual(frame.height);
  }
  for (let y = 0; y < frame.height; y += 7) {
    for (let x = 0; x < frame.width; x += 7) {
      const inTile = rects.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
      expect(inTile, `pixel ${x},${y}`).toBe(true);
    }
  }
}

describe('tileRects: overlapping tiles cover the frame', () => {
  it('2 × 1 with 25 % overlap on a 2:1 frame', () => {
    const rects = tileRects({ width: 1280, height: 640 }, { columns: 2, rows: 1, overlap: 0.25 });
    // tile = ceil(1280 / 1.75) = 732; neighbours share 184 px = 25 % of a tile.
    expect(rects).toEqual([
      { x: 0, y: 0, width: 732, height: 640 },
      { x: 548, y: 0, width: 732, height: 640 },
    ]);
    expect((rects[0]!.x + rects[0]!.width - rects[1]!.x) / rects[0]!.width).toBeCloseTo(0.25, 2);
    expectCover({ width: 1280, height: 640 }, rects);
  });

  it('3 × 2 grids and odd sizes cover every pixel with the overlap asked', () => {
    const frame = { width: 1001, height: 777 };
    const rects = tileRects(frame, { columns: 3, rows: 2, overlap: 0.2 });
    expect(rects).toHaveLength(6);
    expectCover(frame, rects);
    const [a, b] = [rects[0]!, rects[1]!];
    expect((a.x + a.width - b.x) / a.width).toBeGreaterThanOrEqual(0.19);
    const below = rects[3]!;
    expect((a.y + a.height - below.y) / a.height).toBeGreaterThanOrEqual(0.19);
  });

  it('one tile is the whole frame', () => {
    expect(tileRects({ width: 640, height: 480 }, { columns: 1, rows: 1, overlap: 0.25 })).toEqual([
      { x: 0, y: 0, width: 640, height: 480 },
    ]);
  });
});

describe('autoGrid: tiles chosen from the aspect ratio', () => {
  it('wide frames get tiles along the long side, near-square ones none', () => {
    const cols = (w: number, h: number) => autoGrid({ width: w, height: h });
    expect(cols(640, 480)).toMatchObject({ columns: 1, rows: 1 }); // 4:3
    expect(cols(640, 427)).toMatchObject({ columns: 1, rows: 1 }); // 3:2
    expect(cols(1920, 1080)).toMatchObject({ columns: 2, rows: 1 }); // 16:9
    expect(cols(1280, 640)).toMatchObject({ columns: 2, rows: 1 }); // 2:1
    expect(cols(3840, 960)).toMatchObject({ columns: 5, rows: 1 }); // 4:1 panorama
    expect(cols(1080, 1920)).toMatchObject({ columns: 1, rows: 2 }); // portrait
  });
});

describe('frameLimit and limitedSize: the camera delivers what the detector will use', () => {
  it('one pass, fixed square input: the frame fits the square', () => {
    const limit = frameLimit({ kind: 'fixed', size: 416 }, undefined);
    expect(limitedSize({ width: 1920, height: 1080 }, limit)).toEqual({ width: 416, height: 234 });
  });

  it('dynamic input at the frame’s aspect: short side = the model size', () => {
    const limit = frameLimit({ kind: 'dynamic', size: 416, stride: 32 }, undefined);
    expect(limitedSize({ width: 1920, height: 960 }, limit)).toEqual({ width: 832, height: 416 });
    expect(limitedSize({ width: 960, height: 1920 }, limit)).toEqual({ width: 416, height: 832 });
  });

  it('tiles: enough pixels that each tile is about the model size', () => {
    const auto = frameLimit({ kind: 'fixed', size: 416 }, 'auto');
    expect(limitedSize({ width: 2560, height: 1280 }, auto)).toEqual({ width: 832, height: 416 });
    const grid = frameLimit({ kind: 'fixed', size: 416 }, { columns: 2, rows: 1, overlap: 0.25 });
    expect(grid).toEqual({ shortSide: 416, longSide: 728 });
    const size = limitedSize({ width: 2560, height: 1280 }, grid);
    const tiles = tileRects(size, { columns: 2, rows: 1, overlap: 0.25 });
    expect(tiles[0]!.width).toBeGreaterThanOrEqual(400);
    expect(tiles[0]!.width).toBeLessThanOrEqual(430);
  });

  it('never enlarges a frame', () => {
    const limit = frameLimit({ kind: 'dynamic', size: 640, stride: 32 }, undefined);
    expect(limitedSize({ width: 640, height: 360 }, limit)).toEqual({ width: 640, height: 360 });
  });
});

const det = (score: number, x1: number, y1: number, x2: number, y2: number): Detection => ({
  score,
  box: [x1, y1, x2, y2],
});

describe('mergeTileDetections: a person across a tile border counts once', () => {
  const frame = { width: 1280, height: 640 };
  const [left, right] = tileRects(frame, { columns: 2, rows: 1, overlap: 0.25 }) as [Rect, Rect];

  it('a whole person in the overlap, seen by both tiles, is one box', () => {
    const merged = mergeTileDetections(
      [
        { rect: left, detections: [det(0.9, 600, 200, 660, 400)] },
        { rect: right, detections: [det(0.8, 602, 198, 662, 402)] },
      ],
      frame,
    );
    expect(merged).toHaveLength(1);
    expect(merged[0]!.score).toBe(0.9);
  });

  it('a person cut by the left tile’s border merges with the whole box of the right tile (IoU alone would not)', () => {
    // The left tile ends at x = 732: it sees the person from 690 to its edge; the right tile sees all of them.
    const cut = det(0.7, 690, 200, 732, 420);
    const whole = det(0.85, 690, 200, 800, 420);
    expect(intersectionOverSmaller(cut.box, whole.box)).toBeGreaterThan(0.9);
    const merged = mergeTileDetections(
      [
        { rect: left, detections: [cut] },
        { rect: right, detections: [whole] },
      ],
      frame,
    );
    expect(merged).toEqual([{ score: 0.85, box: [690, 200, 800, 420] }]);
  });

  it('a person wider than the overlap, cut on both sides, is one box spanning both halves', () => {
    // Person from x 480 to 820: the left tile sees 480..732, the right tile 548..820.
    const merged = mergeTileDetections(
      [
        { rect: left, detections: [det(0.6, 480, 100, 732, 600)] },
        { rect: right, detections: [det(0.7, 548, 110, 820, 600)] },
      ],
      frame,
    );
    expect(merged).toEqual([{ score: 0.7, box: [480, 100, 820, 600] }]);
  });

  it('two people side by side in different tiles stay two; so do overlapping people in one tile', () => {
    const merged = mergeTileDetections(
      [
        { rect: left, detections: [det(0.9, 100, 200, 200, 400), det(0.8, 150, 220, 250, 420)] },
        { rect: right, detections: [det(0.9, 900, 200, 1000, 400)] },
      ],
      frame,
    );
    expect(merged).toHaveLength(3);
  });

  it('a small person standing in front of a big one across tiles is not merged away when no box is cut', () => {
    // A seated person (small box) inside the box of someone standing behind, both whole in their tiles.
    const merged = mergeTileDetections(
      [
        { rect: left, detections: [det(0.9, 560, 100, 700, 600)] },
        { rect: right, detections: [det(0.8, 600, 400, 650, 560)] },
      ],
      frame,
    );
    expect(merged).toHaveLength(2);
  });
});

describe('cropFrame and tilesFor', () => {
  it('copies one rectangle of pixels', () => {
    const frame = renderFrame(6, 4, (x, y) => [x, y, 7]);
    const tile = cropFrame(frame, { x: 2, y: 1, width: 3, height: 2 });
    expect([tile.width, tile.height]).toEqual([3, 2]);
    expect([...tile.data.subarray(0, 3)]).toEqual([2, 1, 7]);
    expect([...tile.data.subarray(15, 18)]).toEqual([4, 2, 7]);
    expect(cropFrame(frame, { x: 0, y: 0, width: 6, height: 4 })).toBe(frame);
  });

  it('off is one pass over the whole frame', () => {
    expect(tilesFor({ width: 1280, height: 640 }, 'off')).toEqual([{ x: 0, y: 0, width: 1280, height: 640 }]);
    expect(tilesFor({ width: 1280, height: 640 }, 'auto')).toHaveLength(2);
  });
});

describe('TilingDetector: boxes come back in frame pixels', () => {
  it('runs the model on each tile and maps and merges the boxes', async () => {
    // The "model" finds one person at the same place in whatever picture it gets: the top-left 10 × 20 px.
    const seen: { width: number; height: number; first: number }[] = [];
    const detector = fakeDetector(
      async (f: Frame) => {
        seen.push({ width: f.width, height: f.height, first: f.data[0]! });
        return [{ score: 0.9, box: [0, 0, 10, 20] }];
      },
      { tiles: { columns: 2, rows: 1, overlap: 0.25 } },
    );
    const frame = renderFrame(200, 100, (x) => [x, 0, 0]);
    const found = await detector.detect(frame);
    expect(seen).toEqual([
      { width: 115, height: 100, first: 0 },
      { width: 115, height: 100, first: 85 },
    ]);
    expect(found.map((d) => d.box)).toEqual([
      [0, 0, 10, 20],
      [85, 0, 95, 20],
    ]);
    // A room may ask for no tiles.
    seen.length = 0;
    expect(await detector.detect(frame, { tiles: 'off' })).toHaveLength(1);
    expect(seen).toHaveLength(1);
  });
});
