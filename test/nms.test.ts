import { describe, expect, it } from 'vitest';
import type { Detection } from '../src/detect/detector.js';
import { iou, nms } from '../src/detect/nms.js';

const det = (score: number, box: Detection['box']): Detection => ({ score, box });

describe('iou', () => {
  it('is 1 for identical boxes and 0 for disjoint or touching ones', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
  });

  it('computes intersection over union', () => {
    // 10x10 boxes shifted by 5 px: intersection 50, union 150
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(1 / 3, 10);
    // a box inside another: 25 / 100
    expect(iou([0, 0, 10, 10], [0, 0, 5, 5])).toBeCloseTo(0.25, 10);
    expect(iou([5, 0, 15, 10], [0, 0, 10, 10])).toBe(iou([0, 0, 10, 10], [5, 0, 15, 10]));
  });

  it('is 0 (not NaN) for boxes without area', () => {
    expect(iou([5, 5, 5, 5], [5, 5, 5, 5])).toBe(0);
    expect(iou([0, 0, 0, 10], [0, 0, 10, 10])).toBe(0);
  });
});

describe('nms', () => {
  it('suppresses a lower-scored box that overlaps a kept one above the threshold', () => {
    const a = det(0.9, [0, 0, 100, 200]);
    const dup = det(0.6, [5, 5, 105, 205]); // IoU ~0.86 with a
    expect(nms([dup, a], 0.5)).toEqual([a]);
  });

  it('keeps disjoint and lightly overlapping boxes, sorted by descending score', () => {
    const a = det(0.4, [0, 0, 10, 10]);
    const b = det(0.8, [100, 100, 110, 110]);
    const c = det(0.6, [5, 0, 15, 10]); // IoU 1/3 with a: below 0.5
    expect(nms([a, b, c], 0.5)).toEqual([b, c, a]);
  });

  it('suppresses only above the threshold (IoU equal to it is kept)', () => {
    const a = det(0.9, [0, 0, 10, 10]);
    const b = det(0.5, [5, 0, 15, 10]); // IoU exactly 1/3
    expect(nms([a, b], 1 / 3)).toEqual([a, b]);
    expect(nms([a, b], 0.3)).toEqual([a]);
  });

  it('is greedy: a suppressed box does not suppress others', () => {
    const a = det(0.9, [0, 0, 10, 10]);
    const b = det(0.8, [4, 0, 14, 10]); // overlaps a (IoU 0.43) -> suppressed at 0.4
    const c = det(0.7, [8, 0, 18, 10]); // overlaps b (0.43) but barely a (0.11) -> kept
    expect(nms([a, b, c], 0.4)).toEqual([a, c]);
  });

  it('honours maxCount and keeps the best ones', () => {
    const boxes = [0.1, 0.5, 0.3, 0.9, 0.7].map((s, i) => det(s, [i * 20, 0, i * 20 + 10, 10]));
    expect(nms(boxes, 0.5, 3).map((d) => d.score)).toEqual([0.9, 0.7, 0.5]);
    expect(nms(boxes, 0.5, 0)).toEqual([]);
  });

  it('keeps input order for equal scores and does not modify its input', () => {
    const a = det(0.5, [0, 0, 10, 10]);
    const b = det(0.5, [50, 0, 60, 10]);
    const input = [a, b];
    expect(nms(input, 0.5)).toEqual([a, b]);
    expect(input).toEqual([a, b]);
    expect(nms([], 0.5)).toEqual([]);
  });
});
