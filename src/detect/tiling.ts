import { assertFrame, type Frame } from '../camera/frame.js';
import type { Detection, DetectOptions, Detector, PersonModel, TileSetting } from './detector.js';
import { autoGrid, frameLimit, tileRects, type FrameLimit, type Rect, type TileGrid } from './geometry.js';
import { intersectionOverSmaller, iou } from './nms.js';

type Box = Detection['box'];

/** One tile's detections, boxes already in frame pixels. */
export interface TileDetections {
  rect: Rect;
  detections: readonly Detection[];
}

export interface MergeOptions {
  /** Boxes from different tiles overlapping by more than this IoU are one person (the model's NMS value). */
  iou: number;
  /**
   * A box cut by an inner tile border, whose intersection with a box from another tile covers more than this
   * share of the smaller box, is the same person seen twice: IoU alone misses it, the cut box being a part of
   * the whole one.
   */
  ios: number;
}

export const DEFAULT_MERGE: MergeOptions = { iou: 0.5, ios: 0.6 };

/** Sides of a box that lie on an inner tile border (a border that is not the frame's edge). */
interface Cut {
  left: boolean;
  top: boolean;
  right: boolean;
  bottom: boolean;
}

interface Candidate {
  tile: number;
  score: number;
  box: Box;
  cut: Cut;
}

/**
 * Merges the detections of overlapping tiles into one list for the frame: greedy, best score first; a box is
 * dropped when it matches a kept box from another tile — IoU above `iou`, or (when either is cut by an inner tile
 * border) intersection over the smaller box above `ios`, or both cut at facing borders and continuing each other
 * (a person wider than the overlap). The kept box grows to the union of the two, so a person cut at a border
 * keeps a whole box. Detections from the same tile are left as the model decided. Output sorted by score.
 */
export function mergeTileDetections(
  tiles: readonly TileDetections[],
  frame: { width: number; height: number },
  opts: MergeOptions = DEFAULT_MERGE,
): Detection[] {
  const candidates: Candidate[] = [];
  tiles.forEach(({ rect, detections }, tile) => {
    const margin = (side: number) => Math.max(2, side * 0.01);
    for (const d of detections) {
      const [x1, y1, x2, y2] = d.box;
      candidates.push({
        tile,
        score: d.score,
        box: [...d.box],
        cut: {
          left: rect.x > 0 && x1 <= rect.x + margin(rect.width),
          top: rect.y > 0 && y1 <= rect.y + margin(rect.height),
          right: rect.x + rect.width < frame.width && x2 >= rect.x + rect.width - margin(rect.width),
          bottom: rect.y + rect.height < frame.height && y2 >= rect.y + rect.height - margin(rect.height),
        },
      });
    }
  });
  candidates.sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of candidates) {
    const same = kept.find((k) => k.tile !== c.tile && samePerson(k, c, opts));
    if (same) {
      same.box = union(same.box, c.box);
      same.cut = {
        left: same.cut.left && c.cut.left,
        top: same.cut.top && c.cut.top,
        right: same.cut.right && c.cut.right,
        bottom: same.cut.bottom && c.cut.bottom,
      };
    } else {
      kept.push(c);
    }
  }
  return kept.map((k) => ({ score: k.score, box: k.box }));
}

function samePerson(a: Candidate, b: Candidate, opts: MergeOptions): boolean {
  if (iou(a.box, b.box) > opts.iou) return true;
  const cut = (c: Candidate) => c.cut.left || c.cut.top || c.cut.right || c.cut.bottom;
  if (!cut(a) && !cut(b)) return false;
  if (intersectionOverSmaller(a.box, b.box) > opts.ios) return true;
  // Cut at facing borders (one on its right, the other on its left, or bottom/top), overlapping along the cut
  // axis and lined up across it: the two halves of one person larger than the tiles' overlap.
  const horizontal = (a.cut.right && b.cut.left) || (a.cut.left && b.cut.right);
  const vertical = (a.cut.bottom && b.cut.top) || (a.cut.top && b.cut.bottom);
  if (horizontal && overlap(a.box[0], a.box[2], b.box[0], b.box[2]) > 0) {
    return overlapOfSmaller(a.box[1], a.box[3], b.box[1], b.box[3]) > 0.7;
  }
  if (vertical && overlap(a.box[1], a.box[3], b.box[1], b.box[3]) > 0) {
    return overlapOfSmaller(a.box[0], a.box[2], b.box[0], b.box[2]) > 0.7;
  }
  return false;
}

function overlap(a1: number, a2: number, b1: number, b2: number): number {
  return Math.max(0, Math.min(a2, b2) - Math.max(a1, b1));
}

function overlapOfSmaller(a1: number, a2: number, b1: number, b2: number): number {
  const smaller = Math.min(a2 - a1, b2 - b1);
  return smaller > 0 ? overlap(a1, a2, b1, b2) / smaller : 0;
}

function union(a: Box, b: Box): Box {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

/** A copy of one rectangle of a frame (the tile a model looks at). */
export function cropFrame(frame: Frame, rect: Rect): Frame {
  if (rect.x === 0 && rect.y === 0 && rect.width === frame.width && rect.height === frame.height)
    return frame;
  const data = new Uint8Array(rect.width * rect.height * 3);
  const rowBytes = rect.width * 3;
  for (let y = 0; y < rect.height; y++) {
    const from = ((rect.y + y) * frame.width + rect.x) * 3;
    data.set(frame.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { width: rect.width, height: rect.height, data, capturedAt: frame.capturedAt };
}

/** The tiles a frame is cut into under a setting ('off': the whole frame). */
export function tilesFor(frame: { width: number; height: number }, setting: TileSetting): Rect[] {
  if (setting === 'off') return [{ x: 0, y: 0, width: frame.width, height: frame.height }];
  const grid: TileGrid = setting === 'auto' ? autoGrid(frame) : setting;
  return tileRects(frame, grid);
}

/**
 * The Detector every command and room uses: one model, run on the whole frame or on overlapping tiles whose
 * boxes are mapped back to frame pixels and merged, so a person cut by a tile border counts once.
 */
export class TilingDetector implements Detector {
  readonly model: string;
  readonly backend: string;
  readonly input: PersonModel['input'];

  constructor(
    private readonly person: PersonModel,
    readonly tiles: TileSetting,
    readonly minScore: number,
    private readonly merge: MergeOptions = DEFAULT_MERGE,
  ) {
    this.model = person.model;
    this.backend = person.backend;
    this.input = person.input;
  }

  frameLimit(opts?: DetectOptions): FrameLimit {
    const tiles = opts?.tiles ?? this.tiles;
    return frameLimit(this.input, tiles === 'off' ? undefined : tiles);
  }

  async detect(frame: Frame, opts?: DetectOptions): Promise<Detection[]> {
    assertFrame(frame);
    const rects = tilesFor(frame, opts?.tiles ?? this.tiles);
    if (rects.length === 1) return this.person.detect(frame);
    const tiles: TileDetections[] = [];
    for (const rect of rects) {
      const found = await this.person.detect(cropFrame(frame, rect));
      tiles.push({
        rect,
        detections: found.map((d) => ({
          score: d.score,
          box: [d.box[0] + rect.x, d.box[1] + rect.y, d.box[2] + rect.x, d.box[3] + rect.y],
        })),
      });
    }
    return mergeTileDetections(tiles, frame, this.merge);
  }

  dispose(): Promise<void> {
    return this.person.dispose();
  }
}
