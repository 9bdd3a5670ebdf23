import { describe, expect, it } from 'vitest';
import type { Frame } from '../src/camera/frame.js';
import {
  CELL_DELTA,
  GRID,
  largestCellChange,
  luminanceGrid,
  RECHECK_SECONDS,
  StillFrameGate,
} from '../src/count/still.js';
import { renderFrame } from './helpers/frames.js';

const W = 854;
const H = 480;

/** A rendered room: a grey wall, a darker floor, a window; `person` paints a figure at x (px). */
function room(opts: { person?: number; noise?: number; light?: number } = {}): Frame {
  let seed = 7;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return opts.noise ? Math.round(((seed / 2 ** 31) * 2 - 1) * opts.noise) : 0;
  };
  return renderFrame(W, H, (x, y) => {
    let v = y > 300 ? 90 : 170;
    if (x > 600 && x < 760 && y > 60 && y < 200) v = 230; // window
    const p = opts.person;
    if (p !== undefined && x >= p && x < p + 50 && y > 180 && y < 420) v = 40; // a person, 50 × 240 px
    v = Math.max(0, Math.min(255, v + (opts.light ?? 0) + noise()));
    return [v, v, v];
  });
}

describe('luminanceGrid', () => {
  it('holds one mean per cell, in the cell of the picture it covers', () => {
    const frame = renderFrame(320, 180, (x) => (x < 160 ? [0, 0, 0] : [255, 255, 255]));
    const grid = luminanceGrid(frame);
    expect(grid.cells).toHaveLength(GRID.columns * GRID.rows);
    expect(grid.cells[0]).toBe(0);
    expect(grid.cells[GRID.columns - 1]).toBeCloseTo(255, 3);
    expect(grid.cells[GRID.columns / 2 - 1]).toBe(0);
    expect(grid.cells[GRID.columns / 2]).toBeCloseTo(255, 3);
    // Rec. 601 weights: pure green is brighter than pure blue.
    const green = luminanceGrid(renderFrame(64, 36, () => [0, 255, 0])).cells[0]!;
    const blue = luminanceGrid(renderFrame(64, 36, () => [0, 0, 255])).cells[0]!;
    expect(green).toBeCloseTo(0.587 * 255, 3);
    expect(blue).toBeCloseTo(0.114 * 255, 3);
  });
});

describe('largestCellChange', () => {
  it('camera noise stays below CELL_DELTA; a person walking in, or the light switched on, far above', () => {
    const empty = luminanceGrid(room({ noise: 0 }));
    expect(largestCellChange(empty, luminanceGrid(room({ noise: 12 })))).toBeLessThan(CELL_DELTA / 2);
    expect(largestCellChange(empty, luminanceGrid(room({ person: 100 })))).toBeGreaterThan(5 * CELL_DELTA);
    expect(largestCellChange(empty, luminanceGrid(room({ light: 40 })))).toBeGreaterThan(CELL_DELTA);
    // A person who moved by a step (30 px) is a change too.
    const here = luminanceGrid(room({ person: 100, noise: 6 }));
    expect(largestCellChange(here, luminanceGrid(room({ person: 130, noise: 6 })))).toBeGreaterThan(
      CELL_DELTA,
    );
  });

  it('a frame of another size is never still', () => {
    const a = luminanceGrid(renderFrame(64, 36, () => [9, 9, 9]));
    const b = luminanceGrid(renderFrame(128, 72, () => [9, 9, 9]));
    expect(largestCellChange(a, b)).toBe(Infinity);
  });
});

describe('StillFrameGate', () => {
  const s = (seconds: number) => seconds * 1000;
  const empty = luminanceGrid(room({ noise: 4 }));
  const person = luminanceGrid(room({ person: 300, noise: 4 }));

  it('the first frame needs the detector; the same picture then does not, until RECHECK_SECONDS', () => {
    const gate = new StillFrameGate();
    expect(gate.needsDetection(s(0), empty)).toBe(true);
    gate.analysed(s(0), empty);
    expect(gate.needsDetection(s(1), empty)).toBe(false);
    expect(gate.needsDetection(s(RECHECK_SECONDS - 1), empty)).toBe(false);
    expect(gate.needsDetection(s(RECHECK_SECONDS), empty)).toBe(true);
    gate.analysed(s(RECHECK_SECONDS), empty);
    expect(gate.needsDetection(s(RECHECK_SECONDS + 1), empty)).toBe(false);
  });

  it('a changed picture needs the detector, and becomes the picture later frames are compared with', () => {
    const gate = new StillFrameGate();
    gate.analysed(s(0), empty);
    expect(gate.needsDetection(s(5), person)).toBe(true);
    // Not analysed (e.g. the frame was dropped): still compared with the old picture.
    expect(gate.needsDetection(s(6), person)).toBe(true);
    gate.analysed(s(6), person);
    expect(gate.needsDetection(s(7), person)).toBe(false);
    expect(gate.needsDetection(s(8), empty)).toBe(true);
  });

  it('compares with the last analysed picture, so a slow drift is seen once it adds up', () => {
    const gate = new StillFrameGate();
    const at = (light: number) => luminanceGrid(room({ light }));
    gate.analysed(s(0), at(0));
    const steps = [2, 4, 6, 8, 10, 12];
    const needed = steps.map((light, i) => gate.needsDetection(s(i + 1), at(light)));
    expect(needed).toEqual([false, false, false, false, true, true]);
  });

  it('reset (a camera gap): the next frame needs the detector', () => {
    const gate = new StillFrameGate({ recheckSeconds: 600, cellDelta: 3 });
    gate.analysed(s(0), empty);
    expect(gate.needsDetection(s(1), empty)).toBe(false);
    gate.reset();
    expect(gate.needsDetection(s(2), empty)).toBe(true);
  });
});
