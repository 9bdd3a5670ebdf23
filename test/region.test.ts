import { describe, expect, it } from 'vitest';
import {
  explainDetections,
  filterByRegion,
  peopleInRoom,
  pointInPolygon,
  roomFilterFrom,
  toPolygons,
  wholeFrameFilter,
  type Polygon,
  type RoomFilter,
} from '../src/count/region.js';
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

// ---------------------------------------------------------------------------------------------------------
// peopleInRoom: the whole per-room filter (score, box area, region with anchor).

const square = (x1: number, y1: number, x2: number, y2: number): Polygon => [
  [x1, y1],
  [x2, y1],
  [x2, y2],
  [x1, y2],
];

/** A box from its normalised anchor-relevant corners on a 1000 x 500 frame. */
const FRAME = { width: 1000, height: 500 };
const box = (x1: number, y1: number, x2: number, y2: number, score = 0.9): Detection => ({
  score,
  box: [x1 * 1000, y1 * 500, x2 * 1000, y2 * 500],
});
const filter = (f: Partial<RoomFilter> & Pick<RoomFilter, 'region'>): RoomFilter => ({
  minScore: 0.3,
  anchor: 'bottom-center',
  ...f,
});

describe('peopleInRoom: anchors on polygons with holes', () => {
  // A room (0.1..0.9 square) with a hole (0.4..0.6 square: a pillar, a glass box, a TV) inside it.
  const region = { include: [square(0.1, 0.1, 0.9, 0.9)], exclude: [square(0.4, 0.4, 0.6, 0.6)] };

  it('counts feet in the ring and drops feet in the hole or outside the room', () => {
    const people = [
      box(0.15, 0.2, 0.25, 0.5), // feet (0.2, 0.5): in the ring
      box(0.45, 0.2, 0.55, 0.5), // feet (0.5, 0.5): in the hole
      box(0.45, 0.55, 0.55, 0.8), // feet (0.5, 0.8): in the ring, below the hole
      box(0.85, 0.5, 0.95, 0.95), // feet (0.9, 0.95): outside the room
    ];
    expect(peopleInRoom(people, filter({ region }), FRAME)).toEqual([people[0], people[2]]);
  });

  it('uses the box centre with anchor "center": a box whose feet are in the ring but centre in the hole', () => {
    const d = box(0.45, 0.3, 0.55, 0.7); // centre (0.5, 0.5) in the hole, feet (0.5, 0.7) in the ring
    expect(peopleInRoom([d], filter({ region }), FRAME)).toEqual([d]);
    expect(peopleInRoom([d], filter({ region, anchor: 'center' }), FRAME)).toEqual([]);
  });

  it('handles a hole shaped as a concave polygon (an L) and several include polygons', () => {
    const L: Polygon = [
      [0.3, 0.3],
      [0.5, 0.3],
      [0.5, 0.5],
      [0.7, 0.5],
      [0.7, 0.7],
      [0.3, 0.7],
    ];
    const twoRooms = { include: [square(0, 0, 0.8, 0.8), square(0.85, 0, 1, 1)], exclude: [L] };
    const people = [
      box(0.35, 0.2, 0.45, 0.4), // feet (0.4, 0.4): in the L's vertical bar
      box(0.55, 0.2, 0.65, 0.4), // feet (0.6, 0.4): in the L's notch → counts
      box(0.55, 0.4, 0.65, 0.6), // feet (0.6, 0.6): in the L's foot
      box(0.88, 0.5, 0.98, 0.9), // feet (0.93, 0.9): in the second include polygon
      box(0.8, 0.5, 0.84, 0.9), // feet (0.82, 0.9): between the include polygons
    ];
    expect(peopleInRoom(people, filter({ region: twoRooms }), FRAME)).toEqual([people[1], people[3]]);
  });

  it('respects a concave include polygon (a U-shaped room) with either anchor', () => {
    const people = [box(0.45, 0.2, 0.55, 0.5), box(0.15, 0.2, 0.25, 0.5)]; // feet in the notch / in an arm
    const region2 = { include: [U], exclude: [] };
    expect(peopleInRoom(people, filter({ region: region2 }), FRAME)).toEqual([people[1]]);
    // Centres (0.5, 0.35) and (0.2, 0.35): same answer.
    expect(peopleInRoom(people, filter({ region: region2, anchor: 'center' }), FRAME)).toEqual([people[1]]);
  });
});

describe('peopleInRoom: score and box-area filters', () => {
  const whole = { include: [], exclude: [] };

  it('keeps scores at or above minScore (NaN never counts)', () => {
    const people = [box(0, 0, 0.1, 0.1, 0.29), box(0, 0, 0.1, 0.1, 0.3), box(0, 0, 0.1, 0.1, NaN)];
    expect(peopleInRoom(people, filter({ region: whole }), FRAME)).toEqual([people[1]]);
  });

  it('keeps boxes whose area fraction is within [minBoxArea, maxBoxArea], bounds included', () => {
    const tiny = box(0, 0, 0.05, 0.1); // 0.005 of the frame
    const small = box(0, 0, 0.1, 0.1); // 0.01
    const medium = box(0, 0, 0.4, 0.5); // 0.2
    const huge = box(0, 0, 0.9, 1); // 0.9
    const people = [tiny, small, medium, huge];
    expect(peopleInRoom(people, filter({ region: whole, minBoxArea: 0.01 }), FRAME)).toEqual([
      small,
      medium,
      huge,
    ]);
    expect(peopleInRoom(people, filter({ region: whole, maxBoxArea: 0.2 }), FRAME)).toEqual([
      tiny,
      small,
      medium,
    ]);
    expect(
      peopleInRoom(people, filter({ region: whole, minBoxArea: 0.006, maxBoxArea: 0.5 }), FRAME),
    ).toEqual([small, medium]);
  });

  it('measures box area against the frame it is given (fractions, so any frame size works)', () => {
    const d: Detection = { score: 0.9, box: [0, 0, 10, 10] }; // 100 px²
    const f = filter({ region: whole, minBoxArea: 0.01 });
    expect(peopleInRoom([d], f, { width: 100, height: 100 })).toHaveLength(1); // 1 %
    expect(peopleInRoom([d], f, { width: 200, height: 100 })).toHaveLength(0); // 0.5 %
  });

  it('applies every filter together and keeps the input order', () => {
    const region = { include: [square(0, 0, 0.5, 1)], exclude: [] };
    const people = [
      box(0.1, 0.1, 0.3, 0.6, 0.8), // counts
      box(0.1, 0.1, 0.3, 0.6, 0.2), // score too low
      box(0.6, 0.1, 0.8, 0.6, 0.9), // outside the region
      box(0.2, 0.5, 0.21, 0.52, 0.9), // too small
      box(0.0, 0.4, 0.2, 0.9, 0.7), // counts
    ];
    const f = filter({ region, minScore: 0.5, minBoxArea: 0.001 });
    expect(peopleInRoom(people, f, FRAME)).toEqual([people[0], people[4]]);
  });

  it('wholeFrameFilter keeps everything above the score', () => {
    const people = [box(0, 0, 1, 1), box(0.99, 0.99, 1, 1, 0.31), box(0, 0, 0.1, 0.1, 0.1)];
    expect(peopleInRoom(people, wholeFrameFilter(0.3), FRAME)).toEqual([people[0], people[1]]);
  });
});

describe('roomFilterFrom', () => {
  const region = { include: U, exclude: [square(0.4, 0.4, 0.6, 0.6)], anchor: 'center' as const };

  it('builds the filter from a room config', () => {
    expect(roomFilterFrom({ minScore: 0.5, minBoxArea: 0.01, maxBoxArea: 0.4, region }, 0.3)).toEqual({
      minScore: 0.5,
      minBoxArea: 0.01,
      maxBoxArea: 0.4,
      region: { include: [U], exclude: [square(0.4, 0.4, 0.6, 0.6)] },
      anchor: 'center',
    });
  });

  it('a room minScore only raises the detector one; anchor defaults to bottom-center', () => {
    const f = roomFilterFrom({ minScore: 0.2, region: { exclude: [] } }, 0.3);
    expect(f).toEqual({ minScore: 0.3, region: { include: [], exclude: [] }, anchor: 'bottom-center' });
    expect(roomFilterFrom({ region: { exclude: [] } }, 0.35).minScore).toBe(0.35);
  });
});

describe('explainDetections: why each box counts or not', () => {
  const FRAME = { width: 100, height: 100 };
  const square = (x1: number, y1: number, x2: number, y2: number): Polygon => [
    [x1, y1],
    [x2, y1],
    [x2, y2],
    [x1, y2],
  ];
  it('gives the first failed test: score, then box size, then region, then exclusion', () => {
    const f: RoomFilter = {
      minScore: 0.5,
      minBoxArea: 0.01,
      maxBoxArea: 0.2,
      region: { include: [square(0, 0, 0.5, 1)], exclude: [square(0, 0.8, 0.2, 1)] },
      anchor: 'bottom-center',
    };
    const dets: Detection[] = [
      { score: 0.3, box: [10, 10, 30, 50] }, // low score (also outside nothing)
      { score: 0.9, box: [10, 10, 12, 12] }, // 4 px²: too small
      { score: 0.9, box: [0, 0, 60, 60] }, // 3600 px²: too large
      { score: 0.9, box: [60, 10, 80, 50] }, // feet at x 0.7: outside the include polygon
      { score: 0.9, box: [5, 50, 15, 90] }, // feet at (0.1, 0.9): in the excluded corner
      { score: 0.9, box: [20, 20, 40, 60] }, // counted
    ];
    const explained = explainDetections(dets, f, FRAME);
    expect(explained.map((e) => e.reason ?? 'counted')).toEqual([
      'below minScore',
      'box too small',
      'box too large',
      'outside region',
      'excluded',
      'counted',
    ]);
    expect(explained.map((e) => e.detection)).toEqual(dets);
    expect(peopleInRoom(dets, f, FRAME)).toEqual([dets[5]]);
  });
});
