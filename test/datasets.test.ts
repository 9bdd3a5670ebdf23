import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  equirectVerticalScale,
  overlaps,
  parseLabelCsv,
  planWide,
  scaleFor,
  slideshowTruth,
  WALLS,
  type Source,
  type SourcePools,
} from '../bench/datasets-plan.js';
import { parseCsv } from '../src/eval/dataset.js';

/** The committed labels of bench/datasets/ and the pure planning half of bench/datasets.ts (no pixels). */
const LABELS = path.resolve('bench/datasets');
const label = (name: string) => {
  const file = path.join(LABELS, name);
  return parseLabelCsv(readFileSync(file, 'utf8'), file);
};

describe('label files', () => {
  it('vtest-counts.csv: 30 frames of the 795, in order, whole counts, heights only as a pair', () => {
    const rows = label('vtest-counts.csv');
    expect(rows).toHaveLength(30);
    const frames = rows.map((r) => Number(r.frame));
    expect(
      frames.every((f, i) => Number.isInteger(f) && f >= 0 && f < 795 && (i === 0 || f > frames[i - 1]!)),
    ).toBe(true);
    for (const r of rows) {
      expect(Number(r.time_s)).toBeCloseTo(Number(r.frame) / 10, 5);
      expect(Number.isInteger(Number(r.person_count))).toBe(true);
      expect(r.h_min_px === '').toBe(r.h_max_px === '');
    }
    expect(readFileSync(path.join(LABELS, 'vtest-counts.csv'), 'utf8')).toMatch(
      /# Counting rule: count every person/,
    );
  });

  it('one-by-one-truth.csv: back-to-back 0/1 segments covering the whole 139.4 s clip', () => {
    const rows = label('one-by-one-truth.csv').map((r) => ({
      start: Number(r.start_s),
      end: Number(r.end_s),
      count: Number(r.count),
    }));
    expect(rows[0]!.start).toBe(0);
    expect(rows.at(-1)!.end).toBeCloseTo(139.4, 5);
    rows.forEach((r, i) => {
      expect(r.end).toBeGreaterThan(r.start);
      expect([0, 1]).toContain(r.count);
      if (i > 0) {
        expect(r.start).toBe(rows[i - 1]!.end);
        expect(r.count).not.toBe(rows[i - 1]!.count);
      }
    });
  });

  it('coco-picks.csv: slideshow positions 1..n once each; wide sources with people have both heights', () => {
    const rows = label('coco-picks.csv');
    const positions = rows
      .map((r) => Number(r.slideshow || 0))
      .filter((n) => n > 0)
      .sort((a, b) => a - b);
    expect(positions).toEqual(positions.map((_, i) => i + 1));
    expect(positions.length).toBeGreaterThanOrEqual(10);
    for (const r of rows.filter((r) => r.wide === '1' && Number(r.person_count) > 0)) {
      expect(Number(r.h_min)).toBeGreaterThan(0);
      expect(Number(r.h_max)).toBeGreaterThanOrEqual(Number(r.h_min));
    }
  });

  const details = path.resolve('../shared/datasets/coco128-person/details.csv');
  it.skipIf(!existsSync(details))('coco-picks.csv agrees with COCO-128 (counts, no crowd rows)', () => {
    const csv = parseCsv(readFileSync(details, 'utf8'), details);
    const col = (n: string) => csv.header.indexOf(n);
    const coco = new Map(csv.rows.map(({ cells }) => [cells[col('file')], cells]));
    for (const r of label('coco-picks.csv')) {
      const cells = coco.get(r.file!);
      expect(cells, r.file).toBeDefined();
      expect(cells![col('person_count')], r.file).toBe(r.person_count);
      expect(cells![col('crowd_region_present')], r.file).toBe('0');
    }
  });
  if (!existsSync(details))
    console.warn(`datasets.test.ts: ${details} not found; skipping the COCO cross-check`);
});

function pools(): SourcePools {
  const classroom: Source[] = Array.from({ length: 45 }, (_, i) => ({
    kind: 'classroom',
    id: `classroom#${i}`,
    width: 480,
    height: 270,
    count: 4,
    hMin: 50,
    hMax: 85,
  }));
  const coco: Source[] = [
    { kind: 'coco', id: 'coco:a', width: 640, height: 480, count: 3, hMin: 290, hMax: 380 },
    { kind: 'coco', id: 'coco:b', width: 427, height: 640, count: 2, hMin: 350, hMax: 540 },
    { kind: 'coco', id: 'coco:c', width: 640, height: 327, count: 2, hMin: 150, hMax: 180 },
    { kind: 'coco', id: 'coco:empty', width: 640, height: 480, count: 0, hMin: 0, hMax: 0 },
    { kind: 'coco', id: 'coco:empty2', width: 500, height: 500, count: 0, hMin: 0, hMax: 0 },
  ];
  const vtest: Source[] = [
    { kind: 'vtest', id: 'vtest#1', width: 768, height: 576, count: 6, hMin: 62, hMax: 87 },
    { kind: 'vtest', id: 'vtest#2', width: 768, height: 576, count: 6, hMin: 65, hMax: 150 },
  ];
  return { classroom, coco, vtest };
}

describe('wide set plan', () => {
  const plan = planWide(pools(), 7);

  it('at least 40 frames: 2:1 and 360°, 1 to 4 pictures, some with nobody', () => {
    expect(plan.length).toBeGreaterThanOrEqual(40);
    expect(plan.filter((f) => f.projection === 'flat').length).toBeGreaterThanOrEqual(20);
    expect(plan.filter((f) => f.projection === 'equirect').length).toBeGreaterThanOrEqual(20);
    expect(plan.every((f) => f.width === 2 * f.height)).toBe(true);
    const peopled = plan.map((f) => f.placements.filter((p) => p.source.count > 0).length);
    expect(new Set(peopled)).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(plan.filter((f) => f.count === 0).length).toBeGreaterThanOrEqual(4);
    expect(plan.some((f) => f.count === 0 && f.placements.length > 0)).toBe(true);
  });

  it('every picture whole inside its surface, none overlapping, count = sum of the pictures', () => {
    for (const f of plan) {
      const w = f.projection === 'flat' ? f.width : f.face;
      const h = f.projection === 'flat' ? f.height : f.face;
      for (const p of f.placements) {
        expect(p.x, f.file).toBeGreaterThanOrEqual(0);
        expect(p.y, f.file).toBeGreaterThanOrEqual(0);
        expect(p.x + p.w, f.file).toBeLessThanOrEqual(w);
        expect(p.y + p.h, f.file).toBeLessThanOrEqual(h);
        // Aspect kept (scaled, never cropped or stretched).
        expect(Math.abs(p.w / p.h - p.source.width / p.source.height)).toBeLessThan(0.05);
        if (f.projection === 'equirect') expect(WALLS).toContain(p.wall);
        else expect(p.wall).toBeUndefined();
      }
      f.placements.forEach((a, i) =>
        f.placements.slice(i + 1).forEach((b) => {
          if (a.wall === b.wall)
            expect(overlaps(a, b), `${f.file}: ${a.source.id} / ${b.source.id}`).toBe(false);
        }),
      );
      expect(f.count).toBe(f.placements.reduce((n, p) => n + p.source.count, 0));
    }
  });

  it('people come out 15–80 px tall, most pictures entirely within 15–40 px', () => {
    const people = plan.flatMap((f) => f.placements.filter((p) => p.source.count > 0));
    for (const p of people) {
      expect(p.personMin).toBeGreaterThanOrEqual(14.5);
      expect(p.personMax).toBeLessThanOrEqual(80.5);
    }
    const small = people.filter((p) => p.personMax <= 40.5).length;
    expect(small / people.length).toBeGreaterThan(0.4);
  });

  it('is deterministic for a seed and different for another', () => {
    const strip = (p: typeof plan) => JSON.stringify(p);
    expect(strip(planWide(pools(), 7))).toBe(strip(plan));
    expect(strip(planWide(pools(), 8))).not.toBe(strip(plan));
  });
});

describe('geometry', () => {
  it('cube face centre keeps its scale when face ≈ width / π; edges shrink', () => {
    const face = 408;
    expect(equirectVerticalScale(face / 2, face / 2, face, 640)).toBeCloseTo(640 / Math.PI / (face / 2), 6);
    expect(equirectVerticalScale(face / 2, face / 2, face, 640)).toBeCloseTo(1, 1);
    expect(equirectVerticalScale(0, face / 2, face, 640)).toBeLessThan(0.75);
    expect(equirectVerticalScale(face / 2, 0, face, 640)).toBeLessThan(0.55);
  });

  it('scaleFor aims the smallest person at the target and caps the tallest at 80 px', () => {
    const s: Source = { kind: 'classroom', id: 'c', width: 480, height: 270, count: 4, hMin: 50, hMax: 85 };
    expect(scaleFor(s, 20, 1, 1000) * 50).toBeCloseTo(20, 6);
    expect(scaleFor(s, 20, 0.8, 1000) * 50 * 0.8).toBeCloseTo(20, 6);
    expect(scaleFor(s, 79, 1, 1000) * 85).toBeCloseTo(80, 6);
  });

  it('slideshowTruth: back-to-back segments', () => {
    expect(slideshowTruth([0, 3, 1], 30)).toEqual([
      { start: 0, end: 30, count: 0 },
      { start: 30, end: 60, count: 3 },
      { start: 60, end: 90, count: 1 },
    ]);
  });
});
