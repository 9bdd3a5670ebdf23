import type { Frame } from '../camera/frame.js';
import { fitFrame } from '../image.js';
import type { Detection, Detector } from './detector.js';

export interface PictureOptions {
  /** Detect on the full-size picture instead of scaling it as the camera pipeline does. */
  fullResolution?: boolean;
}

/**
 * Person detections in a full-size picture (an image file, a snapshot), in that picture's own pixels. The picture
 * is scaled for the detector the way `roomcount run` gets its frames (to fit the detector's input box), and the
 * boxes are mapped back. The one place commands do this, so that how frames are sized for the detector changes
 * for all of them at once.
 */
export async function detectInPicture(
  detector: Detector,
  picture: Frame,
  opts: PictureOptions = {},
): Promise<Detection[]> {
  const frame = opts.fullResolution ? picture : await fitFrame(picture, detector.inputSize);
  const detections = await detector.detect(frame);
  return detections.map((d) => scaleBox(d, picture.width / frame.width, picture.height / frame.height));
}

function scaleBox(d: Detection, sx: number, sy: number): Detection {
  if (sx === 1 && sy === 1) return d;
  const [x1, y1, x2, y2] = d.box;
  return { score: d.score, box: [x1 * sx, y1 * sy, x2 * sx, y2 * sy] };
}
