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

/** The detections that count for a room, given the frame size the boxes are in. */
export function filterByRegion(
  detections: readonly Detection[],
  region: Region,
  frame: { width: number; height: number },
  anchor: Anchor = 'bottom-center',
): Detection[] {
  return detections.filter((d) => {
    const [ax, ay] = anchorPoint(d.box, anchor);
    // Nudge the bottom edge inside the picture so a person standing on it is not lost.
    const x = Math.min(ax / frame.width, 1 - 1e-9);
    const y = Math.min(ay / frame.height, 1 - 1e-9);
    const included = region.include.length === 0 || region.include.some((p) => pointInPolygon(x, y, p));
    return included && !region.exclude.some((p) => pointInPolygon(x, y, p));
  });
}
