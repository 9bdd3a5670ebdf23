import type { Detector, TileSetting } from './detector.js';

/** How a detector looks at frames, for logs, status and eval output, e.g. "832x416 … , whole frame". */
export function describeGeometry(detector: Detector, tiles?: TileSetting): string {
  const t = tiles ?? detector.tiles;
  const input =
    detector.input.kind === 'fixed'
      ? `${detector.input.size}x${detector.input.size} letterbox`
      : `short side ${detector.input.size} at the frame's aspect ratio`;
  const tiling =
    t === 'off'
      ? 'whole frame'
      : t === 'auto'
        ? 'tiles chosen from the aspect ratio'
        : `${t.columns}x${t.rows} tiles, overlap ${t.overlap}`;
  return `${input}, ${tiling}`;
}
