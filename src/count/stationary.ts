/**
 * Finds "people" that never move — a poster, a face on a video-conference screen, a reflection in a window — so
 * the operator can exclude them with `region.exclude`. Only suggests; nothing here changes what is counted.
 * Pure: time comes in with every frame, nothing reads a clock.
 *
 * Why these defaults separate a poster from a person sitting still in a long meeting:
 * - A static picture seen by a camera still jitters: sensor noise and compression move the detector's box edges a
 *   little. Measured with centernet on 30 noisy JPEG copies (ffmpeg `noise=alls=6:allf=t+u`, `-q:v 5`) of one
 *   still frame: edge standard deviation 0.05–1 % of the box size on boxes 66–155 px wide, up to 2.9 % on a
 *   44×51 px box, whose width varied up to ±7 % (one frame 10 %). So a frame matches the track when its box has
 *   IoU ≥ 0.85 with the track's mean box and width and height within ±8 % of it, and the whole track's edge jitter
 *   must stay ≤ 3 % of the box size.
 * - Those per-frame tolerances alone would also match a person who sits very still for a while. What a seated
 *   person does not do is stay inside them for an hour: people lean back, turn to the screen, reach for a cup,
 *   stand up. Each such move misses the track; a miss longer than 2 minutes ends it, and shorter ones must add up
 *   to less than 10 % of the frames. Hence: ≥ 60 minutes, matched in ≥ 90 % of the analysed frames.
 * - A wrong suggestion costs the operator a look at the snapshot; it is never applied.
 */
import type { Detection } from '../detect/detector.js';
import { anchorPoint, pointInPolygon, type Anchor, type Point, type Polygon } from './region.js';

export interface StationaryOptions {
  /** A box must stay put this long before it is suggested. */
  minMinutes: number;
  /** ...and be matched in at least this share of the frames analysed since it was first seen. */
  minShare?: number;
  /** A frame's box matches a track when its IoU with the track's mean box is at least this... */
  minIoU?: number;
  /** ...and its width and height are each within this fraction of the mean box's. */
  maxSizeChange?: number;
  /** Largest standard deviation of any box edge, as a fraction of the box's width (x) or height (y). */
  maxJitter?: number;
  /** A track not matched for this long ends (the person moved or left). */
  maxGapSeconds?: number;
  /** A suggestion is withdrawn this long after its box was last seen. */
  forgetMinutes?: number;
  /** At most this many tracks are kept (bounded memory); the least recently seen go first. */
  maxTracks?: number;
  /** The suggested polygon is the mean box enlarged by this fraction of its size on each side. */
  margin?: number;
  /** The room's exclude polygons: a box whose anchor is already in one is never suggested. */
  exclude?: readonly Polygon[];
  anchor?: Anchor;
}

export const STATIONARY_DEFAULTS = {
  minShare: 0.9,
  minIoU: 0.85,
  maxSizeChange: 0.08,
  maxJitter: 0.03,
  maxGapSeconds: 120,
  forgetMinutes: 10,
  maxTracks: 64,
  margin: 0.05,
} as const;

/** A box that has not moved, as /status lists it. Coordinates normalised 0..1, origin top-left. */
export interface SuggestedExclude {
  /** The mean box enlarged by the margin: 4 points, clockwise from top-left, 3 decimals, within 0..1. */
  polygon: [XY, XY, XY, XY];
  /** When the box was first seen (ISO-8601 UTC). */
  since: string;
  /** When it was last seen (ISO-8601 UTC). */
  lastSeen: string;
  /** Minutes between first and last sighting. */
  minutes: number;
  /** Share of the frames analysed since `since` in which the box was seen (0..1, 2 decimals). */
  share: number;
  /** The detector's mean score for the box (2 decimals). */
  meanScore: number;
  /** YAML to paste into the room: the polygon as one more item of `region.exclude`. */
  yaml: string;
}

type XY = [number, number];
type Box = readonly [number, number, number, number];

interface Track {
  /** Per edge (x1, y1, x2, y2): running mean and sum of squared deviations (Welford). */
  mean: [number, number, number, number];
  m2: [number, number, number, number];
  seen: number;
  scoreSum: number;
  firstSeen: number;
  lastSeen: number;
  /** Number of frames analysed before this track's first frame. */
  firstFrame: number;
  suggested: boolean;
}

/** Tracks person boxes across analysed frames and suggests the ones that stay put as exclude regions. */
export class StationaryTracker {
  private readonly o: Required<Omit<StationaryOptions, 'exclude' | 'anchor'>>;
  private readonly exclude: readonly Polygon[];
  private readonly anchor: Anchor;
  private tracks: Track[] = [];
  private frames = 0;

  constructor(opts: StationaryOptions) {
    const { exclude, anchor, ...rest } = opts;
    this.o = { ...STATIONARY_DEFAULTS, ...rest };
    this.exclude = exclude ?? [];
    this.anchor = anchor ?? 'bottom-center';
  }

  /** Number of tracks held (for tests of the memory bound). */
  get size(): number {
    return this.tracks.length;
  }

  /**
   * One analysed frame: `at` is its capture time (ms), `detections` the people who counted in it (frame pixels).
   * Returns the suggestions that appeared with this frame (to log once).
   */
  observe(
    at: number,
    detections: readonly Detection[],
    frame: { width: number; height: number },
  ): SuggestedExclude[] {
    const boxes = detections
      .map((d) => ({ box: normalise(d.box, frame), score: d.score }))
      .filter(({ box }) => box[2] > box[0] && box[3] > box[1]);
    // A track missed for too long has ended, even if a box turns up in its place again now.
    this.tracks = this.tracks.filter((t) => !this.expired(t, at));
    const matched = new Set<Track>();
    const used = new Set<number>();
    // Greedy assignment, best overlap first: each box feeds at most one track and each track takes one box.
    const pairs: { track: Track; index: number; iou: number }[] = [];
    for (const track of this.tracks) {
      boxes.forEach(({ box }, index) => {
        const overlap = this.matchIoU(track, box);
        if (overlap !== undefined) pairs.push({ track, index, iou: overlap });
      });
    }
    pairs.sort((a, b) => b.iou - a.iou);
    for (const { track, index } of pairs) {
      if (matched.has(track) || used.has(index)) continue;
      matched.add(track);
      used.add(index);
      addSighting(track, boxes[index]!.box, boxes[index]!.score, at);
    }
    this.frames++;
    // The rest start tracks. Starting at a different box each frame: when more boxes than free places arrive
    // (a crowd), every box gets its turn, so a poster is not shut out by always coming last.
    for (let k = 0; k < boxes.length; k++) {
      const index = (k + this.frames) % boxes.length;
      if (!used.has(index)) this.startTrack(boxes[index]!.box, boxes[index]!.score, at);
    }

    const appeared: SuggestedExclude[] = [];
    for (const track of this.tracks) {
      if (!track.suggested && this.qualifies(track)) {
        track.suggested = true;
        appeared.push(this.suggestion(track));
      }
    }
    return appeared;
  }

  /** The current suggestions; with `now`, those whose box has been gone for `forgetMinutes` are left out. */
  suggestions(now?: number): SuggestedExclude[] {
    return this.tracks
      .filter((t) => t.suggested && (now === undefined || !this.expired(t, now)))
      .map((t) => this.suggestion(t));
  }

  /** The box's IoU with the track's mean box when it matches, else undefined. */
  private matchIoU(track: Track, box: Box): number | undefined {
    const m = track.mean;
    const [w, h] = [m[2] - m[0], m[3] - m[1]];
    const max = this.o.maxSizeChange;
    if (Math.abs((box[2] - box[0]) / w - 1) > max || Math.abs((box[3] - box[1]) / h - 1) > max)
      return undefined;
    const overlap = iou(m, box);
    return overlap >= this.o.minIoU ? overlap : undefined;
  }

  private expired(track: Track, now: number): boolean {
    const limitMs = track.suggested ? this.o.forgetMinutes * 60_000 : this.o.maxGapSeconds * 1000;
    return now - track.lastSeen > limitMs;
  }

  /**
   * A new track; when full, it takes the place of the least recently seen unsuggested one (the fewest sightings
   * on a tie) that was not seen in this frame. With no such track, the box is not tracked this time.
   */
  private startTrack(box: Box, score: number, at: number): void {
    if (this.tracks.length >= this.o.maxTracks) {
      let weakest: Track | undefined;
      for (const t of this.tracks) {
        if (t.suggested || t.lastSeen >= at) continue;
        if (
          !weakest ||
          t.lastSeen < weakest.lastSeen ||
          (t.lastSeen === weakest.lastSeen && t.seen < weakest.seen)
        )
          weakest = t;
      }
      if (!weakest) return;
      this.tracks.splice(this.tracks.indexOf(weakest), 1);
    }
    const track: Track = {
      mean: [0, 0, 0, 0],
      m2: [0, 0, 0, 0],
      seen: 0,
      scoreSum: 0,
      firstSeen: at,
      lastSeen: at,
      firstFrame: this.frames - 1,
      suggested: false,
    };
    addSighting(track, box, score, at);
    this.tracks.push(track);
  }

  private qualifies(track: Track): boolean {
    if (track.lastSeen - track.firstSeen < this.o.minMinutes * 60_000) return false;
    if (share(track, this.frames) < this.o.minShare) return false;
    if (jitter(track) > this.o.maxJitter) return false;
    const [x, y] = anchorPoint(track.mean, this.anchor);
    return !this.exclude.some((p) => pointInPolygon(Math.min(x, 1 - 1e-9), Math.min(y, 1 - 1e-9), p));
  }

  private suggestion(track: Track): SuggestedExclude {
    const [x1, y1, x2, y2] = track.mean;
    const mx = (x2 - x1) * this.o.margin;
    const my = (y2 - y1) * this.o.margin;
    // Rounded outwards so the polygon still holds the whole box.
    const left = clamp(Math.floor((x1 - mx) * 1000 + 1e-9) / 1000);
    const top = clamp(Math.floor((y1 - my) * 1000 + 1e-9) / 1000);
    const right = clamp(Math.ceil((x2 + mx) * 1000 - 1e-9) / 1000);
    const bottom = clamp(Math.ceil((y2 + my) * 1000 - 1e-9) / 1000);
    const polygon: SuggestedExclude['polygon'] = [
      [left, top],
      [right, top],
      [right, bottom],
      [left, bottom],
    ];
    return {
      polygon,
      since: new Date(track.firstSeen).toISOString(),
      lastSeen: new Date(track.lastSeen).toISOString(),
      minutes: Math.floor((track.lastSeen - track.firstSeen) / 60_000),
      share: round2(share(track, this.frames)),
      meanScore: round2(track.scoreSum / track.seen),
      yaml: excludeYaml(polygon),
    };
  }
}

/** The polygon as YAML for a room: `region.exclude` with it as one list item (add the item to an existing list). */
export function excludeYaml(polygon: readonly Point[]): string {
  return `region:\n  exclude:\n    - ${flowPolygon(polygon)}\n`;
}

/** `[[x, y], ...]` on one line, as the README writes polygons. */
export function flowPolygon(polygon: readonly Point[]): string {
  return `[${polygon.map(([x, y]) => `[${x}, ${y}]`).join(', ')}]`;
}

function normalise(box: Detection['box'], frame: { width: number; height: number }): Box {
  return [box[0] / frame.width, box[1] / frame.height, box[2] / frame.width, box[3] / frame.height];
}

function addSighting(track: Track, box: Box, score: number, at: number): void {
  track.seen++;
  for (let i = 0; i < 4; i++) {
    const delta = box[i]! - track.mean[i]!;
    track.mean[i]! += delta / track.seen;
    track.m2[i]! += delta * (box[i]! - track.mean[i]!);
  }
  track.scoreSum += score;
  track.lastSeen = at;
}

/** Share of the frames analysed since the track's first frame in which it was matched. */
function share(track: Track, frames: number): number {
  return track.seen / (frames - track.firstFrame);
}

/** Largest edge standard deviation relative to the box's size along that edge's axis. */
function jitter(track: Track): number {
  const w = track.mean[2] - track.mean[0];
  const h = track.mean[3] - track.mean[1];
  return Math.max(...track.m2.map((m2, i) => Math.sqrt(m2 / track.seen) / (i % 2 === 0 ? w : h)));
}

function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

const clamp = (v: number) => Math.min(1, Math.max(0, v));
const round2 = (v: number) => Math.round(v * 100) / 100;
