import type { Detection } from '../detect/detector.js';

/** Normalised [x, y] in 0..1. */
export type Point = readonly [number, number];
export type Polygon = readonly Point[];

export interface Region {
  /** A person counts when its anchor is inside any of these (none = the whole picture)... */
  include: readonly Polygon[];
  /** ...and inside none of these. */
  exclude: readonly Polygon[];
}

/** Where a person "is": bottom-centre of the box (feet, side views) or its centre (seated, top-down). */
export type Anchor = 'bottom-center' | 'center';

/** Accepts one polygon or a list of polygons, as the YAML allows both. */
export function toPolygons(value: Polygon | readonly Polygon[] | undefined): Polygon[] {
  if (!value || value.length === 0) return [];
  return isPolygonList(value) ? [...value] : [value as Polygon];
}

function isPolygonList(value: Polygon | readonly Polygon[]): value is readonly Polygon[] {
  return Array.isArray(value[0]) && Array.isArray((value[0] as unknown[])[0]);
}

/** Even-odd ray casting; works for concave polygons. Points on an edge may fall either way. */
export function pointInPolygon(x: number, y: number, polygon: Polygon): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i]!;
    const [xj, yj] = polygon[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function anchorPoint(box: Detection['box'], anchor: Anchor): [number, number] {
  const [x1, y1, x2, y2] = box;
  return [(x1 + x2) / 2, anchor === 'center' ? (y1 + y2) / 2 : y2];
}

/** The detections whose anchor lies in the region (scores and box sizes not looked at), in frame pixels. */
export function filterByRegion(
  detections: readonly Detection[],
  region: Region,
  frame: { width: number; height: number },
  anchor: Anchor = 'bottom-center',
): Detection[] {
  return peopleInRoom(detections, { minScore: -Infinity, region, anchor }, frame);
}

/** Everything that decides which of a frame's detections count as people in one room. */
export interface RoomFilter {
  /** Keep detections with score >= minScore. */
  minScore: number;
  /** Keep boxes whose area is at least this fraction (0..1) of the frame area. */
  minBoxArea?: number;
  /** Keep boxes whose area is at most this fraction (0..1) of the frame area. */
  maxBoxArea?: number;
  region: Region;
  anchor: Anchor;
}

/** The room keys roomFilterFrom reads: a parsed room (RoomConfig), or anything shaped like it. */
export interface RoomFilterConfig {
  minScore?: number;
  minBoxArea?: number;
  maxBoxArea?: number;
  region: { include?: Polygon | readonly Polygon[]; exclude?: Polygon | readonly Polygon[]; anchor?: Anchor };
}

/**
 * A room's filter from its configuration. The room's own `minScore` can only raise the detector's: the
 * detector has already dropped everything below `detectorMinScore`.
 */
export function roomFilterFrom(room: RoomFilterConfig, detectorMinScore: number): RoomFilter {
  return {
    minScore: Math.max(detectorMinScore, room.minScore ?? 0),
    ...(room.minBoxArea !== undefined && { minBoxArea: room.minBoxArea }),
    ...(room.maxBoxArea !== undefined && { maxBoxArea: room.maxBoxArea }),
    region: { include: toPolygons(room.region.include), exclude: toPolygons(room.region.exclude) },
    anchor: room.region.anchor ?? 'bottom-center',
  };
}

/** The filter of a room that takes every detection the detector reports, anywhere in the picture. */
export function wholeFrameFilter(minScore: number): RoomFilter {
  return { minScore, region: { include: [], exclude: [] }, anchor: 'bottom-center' };
}

/** Why a detection does not count for a room. */
export type IgnoredReason =
  'below minScore' | 'box too small' | 'box too large' | 'outside region' | 'excluded';

/** One detection with the room's verdict on it (what snapshot pictures and the setup page show). */
export interface ExplainedDetection {
  detection: Detection;
  counted: boolean;
  /** Set when not counted: the first test it failed, in the order score, box size, region. */
  reason?: IgnoredReason;
}

/**
 * Every detection with whether it counts for the room and, if not, why: score >= `minScore`, box area as a
 * fraction of the frame area within [`minBoxArea`, `maxBoxArea`], and the anchor point inside an include polygon
 * (anywhere when there is none) and in no exclude polygon. Pure; keeps the input order.
 */
export function explainDetections(
  detections: readonly Detection[],
  filter: RoomFilter,
  frame: { width: number; height: number },
): ExplainedDetection[] {
  const frameArea = frame.width * frame.height;
  const minArea = (filter.minBoxArea ?? 0) * frameArea;
  const maxArea = (filter.maxBoxArea ?? 1) * frameArea;
  const { include, exclude } = filter.region;
  return detections.map((detection) => {
    const ignored = (reason: IgnoredReason): ExplainedDetection => ({ detection, counted: false, reason });
    if (!(detection.score >= filter.minScore)) return ignored('below minScore'); // NaN-safe
    const [x1, y1, x2, y2] = detection.box;
    const area = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
    if (area < minArea) return ignored('box too small');
    if (area > maxArea) return ignored('box too large');
    const [ax, ay] = anchorPoint(detection.box, filter.anchor);
    // Nudge the bottom edge inside the picture so a person standing on it is not lost.
    const x = Math.min(ax / frame.width, 1 - 1e-9);
    const y = Math.min(ay / frame.height, 1 - 1e-9);
    if (include.length > 0 && !include.some((p) => pointInPolygon(x, y, p))) return ignored('outside region');
    if (exclude.some((p) => pointInPolygon(x, y, p))) return ignored('excluded');
    return { detection, counted: true };
  });
}

/**
 * The people who count for a room: the detections that `explainDetections` counts (score, box area, region with
 * anchor). Pure; keeps the input order; the count is the length of the result.
 */
export function peopleInRoom(
  detections: readonly Detection[],
  filter: RoomFilter,
  frame: { width: number; height: number },
): Detection[] {
  return explainDetections(detections, filter, frame)
    .filter((e) => e.counted)
    .map((e) => e.detection);
}
