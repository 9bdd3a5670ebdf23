import type { Frame } from '../../src/camera/frame.js';
import type { Detection, Detector, PersonModel, TileSetting } from '../../src/detect/detector.js';
import { TilingDetector } from '../../src/detect/tiling.js';

/** A Detector around a hand-written model (the real tiling wrapper; no weights). */
export function fakeDetector(
  detect: (frame: Frame) => Promise<Detection[]>,
  opts: { model?: string; size?: number; tiles?: TileSetting; minScore?: number } = {},
): Detector {
  const model: PersonModel = {
    model: opts.model ?? 'fake',
    backend: 'none',
    input: { kind: 'fixed', size: opts.size ?? 320 },
    detect,
    dispose: () => Promise.resolve(),
  };
  return new TilingDetector(model, opts.tiles ?? 'off', opts.minScore ?? 0.3);
}
