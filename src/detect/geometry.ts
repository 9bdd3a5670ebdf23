/**
 * Where a detector looks in a frame: the model's input size for a frame (square letterbox or the frame's own
 * aspect ratio), overlapping tiles, and how large a frame the camera should deliver for that. Pure.
 */

export interface Size {
  width: number;
  height: number;
}

/** A rectangle of frame pixels (integers): left, top, width, height. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A grid of overlapping tiles: `overlap` is the share (0..0.5) of a tile's width/height shared with its neighbour. */
export interface TileGrid {
  columns: number;
  rows: number;
  overlap: number;
}

/** How a model's input is shaped. */
export type ModelInput =
  /** A fixed square input (the frame is letterboxed or stretched into it). */
  | { kind: 'fixed'; size: number }
  /** Any height and width that are multiples of `stride`; `size` is the short side to run at. */
  | { kind: 'dynamic'; size: number; stride: number };

/** Most tiles along one side a grid may have (a key with more is a configuration mistake). */
export const MAX_TILES_PER_SIDE = 6;
/** Overlap of automatically chosen tiles: a person cut by a tile border is whole in the neighbouring tile. */
export const AUTO_TILE_OVERLAP = 0.25;
/** Frames wider than this (long side / short side) are cut to it for dynamic inputs: a 360° strip stays sane. */
export const MAX_INPUT_ASPECT = 4;

/**
 * The input size of a dynamic model for a frame (or tile) at its own aspect ratio: short side `size`, long side
 * scaled alike and rounded up to a multiple of `stride` (at least one stride, at most MAX_INPUT_ASPECT × size).
 * Up, not to the nearest: a frame whose short side already is `size` (as the camera delivers it) then fits the
 * input as it is, padded by less than a stride, and is copied instead of resampled (8 ms less at 910 × 512).
 * Both sides are multiples of `stride`: `size` is rounded too.
 */
export function nativeInputSize(frame: Size, size: number, stride: number): Size {
  const short = Math.max(stride, Math.round(size / stride) * stride);
  const landscape = frame.width >= frame.height;
  const aspect = Math.min(
    MAX_INPUT_ASPECT,
    landscape ? frame.width / frame.height : frame.height / frame.width,
  );
  // A hair under a whole stride is float noise, not a reason for a stride of padding.
  const long = Math.max(short, Math.ceil((short * aspect) / stride - 1e-6) * stride);
  return landscape ? { width: long, height: short } : { width: short, height: long };
}

/**
 * Tiles covering a frame: `columns` × `rows` rectangles of equal size, neighbours sharing `overlap` of a tile's
 * width (height), the outer ones flush with the frame's edges. Integer pixels; every frame pixel is in a tile.
 */
export function tileRects(frame: Size, grid: TileGrid): Rect[] {
  const xs = axisTiles(frame.width, grid.columns, grid.overlap);
  const ys = axisTiles(frame.height, grid.rows, grid.overlap);
  const rects: Rect[] = [];
  for (const [y, height] of ys) for (const [x, width] of xs) rects.push({ x, y, width, height });
  return rects;
}

/** Start and length of `n` tiles along a side of `length` pixels, overlapping by `overlap` of a tile. */
function axisTiles(length: number, n: number, overlap: number): [number, number][] {
  if (n <= 1) return [[0, length]];
  const tile = Math.min(length, Math.ceil(length / (n - (n - 1) * overlap)));
  const step = (length - tile) / (n - 1);
  return Array.from({ length: n }, (_, i) => [Math.round(i * step), tile]);
}

/**
 * Tiles for a fixed square input, chosen from the frame's aspect ratio: as many tiles along the long side as
 * keep each tile close to square (a 16:9 or 2:1 frame gets 2, a 4:3 frame 1, a 4:1 panorama 5), one along the
 * short side. A square model then sees each part of a wide frame at full height instead of a letterbox that
 * wastes half its pixels.
 */
export function autoGrid(frame: Size, overlap = AUTO_TILE_OVERLAP): TileGrid {
  const landscape = frame.width >= frame.height;
  const aspect = landscape ? frame.width / frame.height : frame.height / frame.width;
  // n tiles overlapping by o cover n - (n - 1) o tile lengths: pick n so that a tile is about as long as wide.
  // Rounded up from 0.3: a 3:2 photo (n = 1.67) stays one tile, 16:9 (2.04) and 2:1 (2.33) get two.
  const ideal = (aspect - overlap) / (1 - overlap);
  const n = Math.min(MAX_TILES_PER_SIDE * 2, Math.max(1, Math.floor(ideal + 0.3)));
  return landscape ? { columns: n, rows: 1, overlap } : { columns: 1, rows: n, overlap };
}

/** The largest frame worth decoding for a detector: no side is scaled above what the model will look at. */
export interface FrameLimit {
  /** The frame's short side is scaled down to at most this many pixels... */
  shortSide: number;
  /** ...and its long side to at most this many (aspect ratio kept; never scaled up). */
  longSide: number;
}

/**
 * How large the camera's frames should be for a model and tiling: big enough that no tile is scaled up by much,
 * no bigger (decoding and copying pixels the model never sees costs CPU and memory).
 * - one pass, fixed square input S: the frame fits in S × S;
 * - one pass, dynamic input with short side S: short side S (long side up to MAX_INPUT_ASPECT × S);
 * - a tile grid: short side S × tiles along it (less the overlap), long side likewise; `auto` tiles are chosen
 *   from the delivered frame's aspect ratio, so only the short side is bounded by S.
 */
export function frameLimit(input: ModelInput, tiles: TileGrid | 'auto' | undefined): FrameLimit {
  const s = input.size;
  if (tiles === undefined) {
    return input.kind === 'fixed'
      ? { shortSide: s, longSide: s }
      : { shortSide: s, longSide: s * MAX_INPUT_ASPECT };
  }
  if (tiles === 'auto') return { shortSide: s, longSide: s * MAX_INPUT_ASPECT * 2 };
  const span = (n: number) => Math.ceil(s * (n - (n - 1) * tiles.overlap));
  const a = span(tiles.columns);
  const b = span(tiles.rows);
  return { shortSide: Math.min(a, b), longSide: Math.max(a, b) };
}

/**
 * The size a frame is scaled to under a limit: factor f = min(1, shortSide / short side, longSide / long side),
 * each side rounded (as ffmpeg's scale filter is told to do it, see FfmpegCamera), at least 1 × 1.
 */
export function limitedSize(frame: Size, limit: FrameLimit): Size {
  const f = limitFactor(frame, limit);
  if (f >= 1) return { width: frame.width, height: frame.height };
  return {
    width: Math.max(1, Math.round(frame.width * f)),
    height: Math.max(1, Math.round(frame.height * f)),
  };
}

function limitFactor(frame: Size, limit: FrameLimit): number {
  const short = Math.min(frame.width, frame.height);
  const long = Math.max(frame.width, frame.height);
  return Math.min(1, limit.shortSide / short, limit.longSide / long);
}

/** Clamps a coordinate to 0..max (a box edge to the frame). */
export function clamp(v: number, max: number): number {
  return v < 0 ? 0 : v > max ? max : v;
}
