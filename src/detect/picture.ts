import type { Frame } from '../camera/frame.js';
import { limitFrame } from '../image.js';
import type { Detection, DetectOptions, Detector } from './detector.js';

export interface PictureOptions {
  /** Detect on the full-size picture instead of scaling it as the camera pipeline does. */
  fullResolution?: boolean;
  /** The room's tiles, if it sets its own. */
  detect?: DetectOptions;
}

/**
 * Person detections in a full-size picture (an image file, a snapshot), in that picture's own pixels. The picture
 * is scaled for the detector the way `roomcount run` gets its frames (to the detector's frame limit), and the
 * boxes are mapped back. The one place commands do this, so that how frames are sized for the detector changes
 * for all of them at once.
 */
export async function detectInPicture(
  detector: Detector,
  picture: Frame,
  opts: PictureOptions = {},
): Promise<Detection[]> {
  const frame = opts.fullResolution ? picture : await limitFrame(picture, detector.frameLimit(opts.detect));
  const detections = await detector.detect(frame, opts.detect);
  return detections.map((d) => scaleBox(d, picture.width / frame.width, picture.height / frame.height));
}

function scaleBox(d: Detection, sx: number, sy: number): Detection {
  if (sx === 1 && sy === 1) return d;
  const [x1, y1, x2, y2] = d.box;
  return { score: d.score, box: [x1 * sx, y1 * sy, x2 * sx, y2 * sy] };
}
