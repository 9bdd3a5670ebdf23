/**
 * The pure half of bench/datasets.ts: label files, a seeded random generator, and the plan of every composite
 * frame (which whole source pictures go where, at what scale, on which background). Rendering (sharp, ffmpeg) is
 * in bench/datasets.ts; keeping the plan pure makes the sets reproducible and testable without any pixels.
 */
import { parseCsv } from '../src/eval/dataset.js';

/** A label CSV of ours: `#` comment lines (the counting rule, provenance) above a normal CSV. */
export function parseLabelCsv(text: string, file: string): Record<string, string>[] {
  const lines = text.split(/\r?\n/);
  const kept = lines.map((line) => (line.trimStart().startsWith('#') ? '' : line));
  const csv = parseCsv(kept.join('\n'), file);
  return csv.rows.map(({ cells }) =>
    Object.fromEntries(csv.header.map((h, i) => [h, cells[i]?.trim() ?? ''])),
  );
}

/** mulberry32: a small, fast, seedable generator (the sets must come out identical on every machine). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const between = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng();
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

/** A whole picture with a known person count, to be scaled (never cropped) into a composite. */
export interface Source {
  kind: 'classroom' | 'coco' | 'vtest';
  /** Stable name written to sources.csv, e.g. `classroom#07`, `coco:000000000536.jpg`, `vtest#296`. */
  id: string;
  width: number;
  height: number;
  count: number;
  /** Visible height in source pixels of its smallest and tallest person (0 when it shows nobody). */
  hMin: number;
  hMax: number;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The four walls of a cube map, in the order they appear left to right in the panorama (yaw 45°). */
export const WALLS = ['left', 'front', 'right', 'back'] as const;
export type Wall = (typeof WALLS)[number];

export interface Placement extends Rect {
  source: Source;
  scale: number;
  /** Equirect frames: the cube face the picture hangs on (x, y are then face pixels). */
  wall?: Wall;
  /** Expected visible height of its smallest / tallest person in the output frame (px, 0 when none). */
  personMin: number;
  personMax: number;
}

export interface Room {
  style: 'room' | 'neutral';
  wall: string;
  floor: string;
  table: string;
  /** Door and window positions as fractions of the width (flat) or of a face (cube map). */
  door: number;
  window: number;
}

export interface FramePlan {
  file: string;
  projection: 'flat' | 'equirect';
  width: number;
  height: number;
  /** Cube face size in px for equirect frames (≈ width / π, so a face's centre keeps its scale). */
  face: number;
  room: Room;
  placements: Placement[];
  count: number;
}

/** Size classes for the smallest person of each picture: most frames aim at the hard 15–40 px range. */
const BANDS = {
  small: [15, 25],
  medium: [25, 40],
  large: [40, 80],
} as const satisfies Record<string, readonly [number, number]>;
type Band = keyof typeof BANDS;
/** No person smaller than this. */
const MIN_PERSON_PX = 15;
/** No person taller than this: the point of the set is small people (the tallest of a photo may reach it). */
const MAX_PERSON_PX = 80;
const GAP = 8;

const WALL_COLOURS = ['#d9d4c7', '#cfd6d8', '#e3ddd0', '#c9c3b8', '#d6d9cf', '#bfc6cc'];
const FLOOR_COLOURS = ['#6e6a64', '#5b6470', '#7a6a58', '#4f5a52', '#857b70'];
const TABLE_COLOURS = ['#b9a58a', '#d8d8d4', '#8c7a66', '#a7adb2'];

function room(rng: Rng, neutral: boolean): Room {
  return {
    style: neutral ? 'neutral' : 'room',
    wall: pick(rng, WALL_COLOURS),
    floor: pick(rng, FLOOR_COLOURS),
    table: pick(rng, TABLE_COLOURS),
    door: between(rng, 0.05, 0.85),
    window: between(rng, 0.05, 0.85),
  };
}

/** A photo is never shrunk below this on its short side (COCO close-ups would turn into unreadable stamps). */
const MIN_SIDE_PX = 48;

/**
 * Scale that puts the picture's smallest person at `target` px in the output, where the projection scales
 * heights by `warp`; its tallest stays ≤ MAX_PERSON_PX and the picture ≤ `maxSide`.
 */
export function scaleFor(source: Source, target: number, warp: number, maxSide: number): number {
  const fit = maxSide / Math.max(source.width, source.height);
  if (source.count === 0 || source.hMin === 0) {
    // Nobody in it: any size a photo on the wall could have.
    return Math.min((target * 6) / Math.max(source.width, source.height), fit);
  }
  let s = target / (source.hMin * warp);
  s = Math.max(s, MIN_SIDE_PX / Math.min(source.width, source.height));
  s = Math.min(s, MAX_PERSON_PX / (source.hMax * warp));
  return Math.min(s, fit);
}

export function overlaps(a: Rect, b: Rect, gap = 0): boolean {
  return a.x < b.x + b.w + gap && b.x < a.x + a.w + gap && a.y < b.y + b.h + gap && b.y < a.y + a.h + gap;
}

/**
 * Vertical scale of the cube-map → equirect warp at face pixel (px, py) of a `face`-px face, for an
 * equirect `height` px tall: latitude = atan(y / √(x² + c²)) with the face at distance c = face/2, so
 * d(lat)/dy = √(x² + c²) / (x² + y² + c²), and the panorama has height/π px per radian.
 */
export function equirectVerticalScale(px: number, py: number, face: number, height: number): number {
  const c = face / 2;
  const x = px - c;
  const y = py - c;
  return ((height / Math.PI) * Math.sqrt(x * x + c * c)) / (x * x + y * y + c * c);
}

interface FrameSpec {
  projection: 'flat' | 'equirect';
  width: number;
  height: number;
  /** Pictures with people; 0 = a frame with nobody in it. */
  pictures: number;
  band: Band;
  neutral: boolean;
  /** Only for pictures = 0: hang empty-room photos (true) or leave the background bare. */
  emptyPhotos: boolean;
}

/** The fixed schedule of the wide set: every mix of projection × pictures × size band is represented. */
export function wideSchedule(): FrameSpec[] {
  const specs: FrameSpec[] = [];
  const bands: Band[] = ['small', 'medium', 'small', 'large', 'medium', 'small'];
  const add = (
    projection: FrameSpec['projection'],
    width: number,
    height: number,
    n: number,
    offset: number,
  ) => {
    for (let i = 0; i < n; i++) {
      const zero = i < 2;
      specs.push({
        projection,
        width,
        height,
        pictures: zero ? 0 : 1 + ((i + offset) % 4),
        band: bands[(i + offset) % bands.length]!,
        neutral: i % 5 === 3,
        emptyPhotos: zero && i === 1,
      });
    }
  };
  add('flat', 1280, 640, 24, 0);
  add('equirect', 1280, 640, 16, 1);
  add('equirect', 1920, 960, 8, 2);
  return specs;
}

export interface SourcePools {
  classroom: Source[];
  coco: Source[];
  vtest: Source[];
}

function pickSource(rng: Rng, pools: SourcePools, used: Set<string>): Source {
  const peopled = (list: Source[]) => list.filter((s) => s.count > 0 && !used.has(s.id));
  const r = rng();
  const kind = r < 0.6 ? pools.classroom : r < 0.88 ? pools.coco : pools.vtest;
  const choices = peopled(kind).length > 0 ? peopled(kind) : peopled(pools.classroom);
  const source = pick(rng, choices);
  used.add(source.id);
  return source;
}

/** Plans the whole wide set from a seed; the same pools and seed give the same frames. */
export function planWide(pools: SourcePools, seed: number): FramePlan[] {
  const rng = seededRandom(seed);
  const empties = pools.coco.filter((s) => s.count === 0);
  return wideSchedule().map((spec, index) => {
    const file = `wide-${String(index).padStart(2, '0')}-${spec.projection === 'flat' ? '2to1' : '360'}-${spec.width}x${spec.height}.png`;
    const face = 2 * Math.round(spec.width / Math.PI / 2);
    const used = new Set<string>();
    const sources: Source[] = [];
    for (let i = 0; i < spec.pictures; i++) sources.push(pickSource(rng, pools, used));
    if (spec.pictures === 0 && spec.emptyPhotos) {
      for (let i = 0; i < 2 && empties.length > 0; i++) {
        const s = pick(rng, empties);
        if (!used.has(s.id)) sources.push(s);
        used.add(s.id);
      }
    }
    const [lo, hi] = BANDS[spec.band];
    const targets = sources.map(() => between(rng, lo, hi));
    const placements =
      spec.projection === 'flat'
        ? placeFlat(rng, sources, targets, spec.width, spec.height)
        : placeOnWalls(rng, sources, targets, face, spec.height);
    return {
      file,
      projection: spec.projection,
      width: spec.width,
      height: spec.height,
      face,
      room: room(rng, spec.neutral),
      placements,
      count: placements.reduce((n, p) => n + p.source.count, 0),
    };
  });
}

/** Where a picture may go: a rectangle on the canvas or on one cube face, and the warp of heights there. */
interface Surface {
  wall?: Wall;
  area: Rect;
  maxSide: number;
  warp: (x: number, y: number) => number;
}

/**
 * Places each picture whole: picks a surface (the least used, sometimes any) and a centre on it, sizes the
 * picture for the warp at that centre, and keeps it if it fits inside the surface without touching another.
 */
function place(
  rng: Rng,
  sources: Source[],
  targets: number[],
  surfaces: Surface[],
  maxPerSurface: number,
): Placement[] {
  const out: Placement[] = [];
  const load = (sf: Surface) => out.filter((p) => p.wall === sf.wall).length;
  sources.forEach((source, i) => {
    let target = targets[i]!;
    for (let t = 0; t < 3000; t++) {
      // Crowded: aim a little smaller every 300 misses, never under the 15 px floor.
      if (t % 300 === 299) target = Math.max(MIN_PERSON_PX, target * 0.9);
      const free = surfaces.filter((sf) => load(sf) < maxPerSurface);
      if (free.length === 0) break;
      const least = Math.min(...free.map(load));
      // Mostly spread out (people all round the table); sometimes two pictures share a wall.
      const sf = pick(rng, rng() < 0.25 || t > 200 ? free : free.filter((f) => load(f) === least));
      const cx = sf.area.x + rng() * sf.area.w;
      const cy = sf.area.y + rng() * sf.area.h;
      const warp = sf.warp(cx, cy);
      const scale = scaleFor(source, target, warp, sf.maxSide);
      const w = Math.max(1, Math.round(source.width * scale));
      const h = Math.max(1, Math.round(source.height * scale));
      const r = { x: Math.round(cx - w / 2), y: Math.round(cy - h / 2), w, h };
      const inside =
        r.x >= sf.area.x &&
        r.y >= sf.area.y &&
        r.x + w <= sf.area.x + sf.area.w &&
        r.y + h <= sf.area.y + sf.area.h;
      if (!inside || out.some((p) => p.wall === sf.wall && overlaps(p, r, GAP))) continue;
      const exact = h / source.height;
      out.push({
        ...r,
        source,
        scale: exact,
        ...(sf.wall ? { wall: sf.wall } : {}),
        personMin: source.hMin * exact * warp,
        personMax: source.hMax * exact * warp,
      });
      return;
    }
    throw new Error(`cannot place ${source.id} (${i + 1} of ${sources.length} pictures)`);
  });
  return out.sort((a, b) => WALLS.indexOf(a.wall ?? 'left') - WALLS.indexOf(b.wall ?? 'left') || a.x - b.x);
}

function placeFlat(
  rng: Rng,
  sources: Source[],
  targets: number[],
  width: number,
  height: number,
): Placement[] {
  const area = { x: 12, y: 12, w: width - 24, h: height - 24 };
  return place(rng, sources, targets, [{ area, maxSide: height * 0.9, warp: () => 1 }], sources.length);
}

/**
 * Hangs pictures on the four walls of a cube map, at most two per wall, kept away from the face edges (so the
 * panorama's seam, which falls on a face edge at yaw 45°, never cuts one) and near the horizon.
 */
function placeOnWalls(
  rng: Rng,
  sources: Source[],
  targets: number[],
  face: number,
  height: number,
): Placement[] {
  const margin = Math.round(face * 0.06);
  const area = { x: margin, y: Math.round(face * 0.22), w: face - 2 * margin, h: Math.round(face * 0.56) };
  const surfaces = WALLS.map((wall) => ({
    wall,
    area,
    maxSide: area.h,
    warp: (x: number, y: number) => equirectVerticalScale(x, y, face, height),
  }));
  return place(rng, sources, targets, surfaces, 2);
}

/** Truth rows of a slideshow: each picture's count for `seconds`, back to back from 0. */
export function slideshowTruth(
  counts: number[],
  seconds: number,
): { start: number; end: number; count: number }[] {
  return counts.map((count, i) => ({ start: i * seconds, end: (i + 1) * seconds, count }));
}

/** people/frame histogram, e.g. `0:3 1:2 4:7`. */
export function distribution(counts: number[]): string {
  const hist = new Map<number, number>();
  for (const c of counts) hist.set(c, (hist.get(c) ?? 0) + 1);
  return [...hist.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([c, n]) => `${c}:${n}`)
    .join(' ');
}
