import type { Frame } from '../camera/frame.js';

/**
 * Still frames: a frame that looks like the last one the detector analysed holds the same people, so the detector
 * need not look at it again — an empty meeting room's camera shows the same picture for hours. A frame's look is
 * a coarse grid of mean luminance (read from every STRIDE-th pixel of every STRIDE-th row: ~1/16 of the frame,
 * well under a millisecond at 854 × 480). The frame has changed when any cell's mean moved by more than
 * CELL_DELTA levels: camera noise averages out over a cell, while a person walking in or out, standing up or
 * sitting down moves the cells they cover by far more. A still frame is analysed anyway once the last analysis
 * is RECHECK_SECONDS old, so nothing a change too slow to see can hide stays unchecked for long. The room asks
 * only once its count is confirmed (a window of analysed frames agreeing with it): until then every frame is one
 * more look for the smoothing, which a single frame's miss would otherwise decide. Pure: time comes in with every
 * call.
 */

export interface LuminanceGrid {
  /** The frame's size: a frame of another size is never still (the camera changed). */
  width: number;
  height: number;
  /** Mean luminance (0–255) per cell, row-major, GRID.columns × GRID.rows. */
  cells: Float32Array;
}

/** Cells across and down, whatever the frame's aspect ratio (a cell of a 16:9 frame is square). */
export const GRID = { columns: 32, rows: 18 } as const;
/** Pixels and rows read: every 4th. */
export const STRIDE = 4;
/** A cell has changed when its mean moved by more than this many levels (of 255). */
export const CELL_DELTA = 8;
/** A still room is analysed at least this often. */
export const RECHECK_SECONDS = 60;

/** The frame's luminance grid (Rec. 601 weights). */
export function luminanceGrid(frame: Frame): LuminanceGrid {
  const { width, height, data } = frame;
  const { columns, rows } = GRID;
  const sums = new Float64Array(columns * rows);
  const counts = new Uint32Array(columns * rows);
  const cellOfX = new Uint16Array(width);
  for (let x = 0; x < width; x += STRIDE)
    cellOfX[x] = Math.min(columns - 1, Math.floor((x * columns) / width));
  for (let y = 0; y < height; y += STRIDE) {
    const rowCell = Math.min(rows - 1, Math.floor((y * rows) / height)) * columns;
    let i = y * width * 3;
    for (let x = 0; x < width; x += STRIDE, i += STRIDE * 3) {
      const cell = rowCell + cellOfX[x]!;
      sums[cell]! += 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
      counts[cell]! += 1;
    }
  }
  const cells = new Float32Array(columns * rows);
  for (let c = 0; c < cells.length; c++) cells[c] = counts[c]! > 0 ? sums[c]! / counts[c]! : 0;
  return { width, height, cells };
}

/** The largest change of a cell's mean between two grids (Infinity for frames of different sizes). */
export function largestCellChange(a: LuminanceGrid, b: LuminanceGrid): number {
  if (a.width !== b.width || a.height !== b.height) return Infinity;
  let largest = 0;
  for (let c = 0; c < a.cells.length; c++) largest = Math.max(largest, Math.abs(a.cells[c]! - b.cells[c]!));
  return largest;
}

export interface StillFrameOptions {
  cellDelta?: number;
  recheckSeconds?: number;
}

/** Decides, per frame the sampler takes, whether the detector must look or the last analysis still holds. */
export class StillFrameGate {
  private readonly cellDelta: number;
  private readonly recheckMs: number;
  private reference: LuminanceGrid | undefined;
  private analysedAt: number | undefined;

  constructor(opts: StillFrameOptions = {}) {
    this.cellDelta = opts.cellDelta ?? CELL_DELTA;
    this.recheckMs = (opts.recheckSeconds ?? RECHECK_SECONDS) * 1000;
  }

  /**
   * Whether the frame captured at `at` (ms) with this grid must be analysed: nothing analysed yet, the picture
   * changed since the last analysed frame, or that analysis is recheckSeconds old.
   */
  needsDetection(at: number, grid: LuminanceGrid): boolean {
    if (this.reference === undefined || this.analysedAt === undefined) return true;
    if (at - this.analysedAt >= this.recheckMs) return true;
    return largestCellChange(this.reference, grid) > this.cellDelta;
  }

  /** The detector analysed the frame captured at `at`: its grid is what later frames are compared with. */
  analysed(at: number, grid: LuminanceGrid): void {
    this.reference = grid;
    this.analysedAt = at;
  }

  /** Frames stopped (camera gap): the next frame is analysed. */
  reset(): void {
    this.reference = undefined;
    this.analysedAt = undefined;
  }
}
