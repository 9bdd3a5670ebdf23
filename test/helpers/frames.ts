import type { Frame } from '../../src/camera/frame.js';

/** A frame painted pixel by pixel (rendered test input: no third-party pictures). */
export function renderFrame(
  width: number,
  height: number,
  rgb: (x: number, y: number) => [number, number, number],
): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(rgb(x, y), (y * width + x) * 3);
  return { width, height, data, capturedAt: 0 };
}
