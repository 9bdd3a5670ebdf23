import type { Detection } from './detector.js';

type Box = Detection['box'];

/** Intersection over union of two [x1, y1, x2, y2] boxes; 0 when either has no area. */
export function iou(a: Box, b: Box): number {
  const areaA = Math.max(0, a[2] - a[0]) * Math.max(0, a[3] - a[1]);
  const areaB = Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}

/** Intersection area of two boxes over the area of the smaller one; 0 when either has no area. */
export function intersectionOverSmaller(a: Box, b: Box): number {
  const areaA = Math.max(0, a[2] - a[0]) * Math.max(0, a[3] - a[1]);
  const areaB = Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  const smaller = Math.min(areaA, areaB);
  if (iw <= 0 || ih <= 0 || smaller <= 0) return 0;
  return (iw * ih) / smaller;
}

/**
 * Greedy non-maximum suppression: visits detections from highest to lowest score (ties keep input order)
 * and keeps one unless its IoU with an already kept detection exceeds `iouThreshold`. Returns the kept
 * detections sorted by descending score, at most `maxCount` of them. The input is not modified.
 */
export function nms(
  detections: readonly Detection[],
  iouThreshold: number,
  maxCount = Infinity,
): Detection[] {
  const sorted = [...detections].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.length >= maxCount) break;
    if (kept.every((k) => iou(k.box, d.box) <= iouThreshold)) kept.push(d);
  }
  return kept;
}
