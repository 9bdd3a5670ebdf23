import { describe, expect, it } from 'vitest';
import { filterByRegion, pointInPolygon, toPolygons, type Polygon } from '../src/count/region.js';
import type { Detection } from '../src/detect/detector.js';

// A "U" shape: concave, open at the top between x 0.4..0.6.
const U: Polygon = [
  [0.1, 0.1],
  [0.4, 0.1],
  [0.4, 0.7],
  [0.6, 0.7],
  [0.6, 0.1],
  [0.9, 0.1],
  [0.9, 0.9],
  [0.1, 0.9],
];

const person = (cx: number, bottom: number, score = 0.9): Detection => ({
  score,
  box: [cx - 10, bottom - 50, cx + 10, bottom],
});

describe('pointInPolygon', () => {
  it('handles concave polygons', () => {
    expect(pointInPolygon(0.2, 0.5, U)).toBe(true);
    expect(pointInPolygon(0.5, 0.5, U)).toBe(false); // inside the notch
    expect(pointInPolygon(0.5, 0.8, U)).toBe(true);
    expect(pointInPolygon(0.95, 0.5, U)).toBe(false);
  });
});

describe('filterByRegion', () => {
  const frame = { width: 100, height: 100 };

  it('counts everyone when there is no include polygon', () => {
    const people = [person(10, 20), person(90, 99)];
    expect(filterByRegion(people, { include: [], exclude: [] }, frame)).toHaveLength(2);
  });

  it('uses the bottom-centre anchor by default and the centre when asked', () => {
    const upperHalf: Polygon = [
      [0, 0],
      [1, 0],
      [1, 0.5],
      [0, 0.5],
    ];
    // Box from y=20 to y=70: centre y=45 (inside), bottom y=70 (outside).
    const d = person(50, 70);
    expect(filterByRegion([d], { include: [upperHalf], exclude: [] }, frame)).toHaveLength(0);
    expect(filterByRegion([d], { include: [upperHalf], exclude: [] }, frame, 'center')).toHaveLength(1);
  });

  it('makes holes with exclude polygons', () => {
    const whole: Polygon = [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
    ];
    const door: Polygon = [
      [0.8, 0.5],
      [1, 0.5],
      [1, 1],
      [0.8, 1],
    ];
    const people = [person(20, 90), person(90, 90), person(90, 40)];
    const kept = filterByRegion(people, { include: [whole], exclude: [door] }, frame);
    expect(kept.map((d) => d.box[0] + 10)).toEqual([20, 90]);
  });

  it('counts a person standing on the bottom edge of the picture', () => {
    const whole: Polygon = [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
    ];
    expect(filterByRegion([person(50, 100)], { include: [whole], exclude: [] }, frame)).toHaveLength(1);
  });

  it('respects the concave notch', () => {
    const kept = filterByRegion([person(50, 50), person(20, 50)], { include: [U], exclude: [] }, frame);
    expect(kept).toHaveLength(1);
    expect(kept[0]!.box[0]).toBe(10);
  });
});

describe('toPolygons', () => {
  it('accepts one polygon or a list of them', () => {
    expect(toPolygons(U)).toEqual([U]);
    expect(toPolygons([U, U])).toEqual([U, U]);
    expect(toPolygons(undefined)).toEqual([]);
    expect(toPolygons([])).toEqual([]);
  });
});
