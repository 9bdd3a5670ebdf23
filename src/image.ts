import sharp from 'sharp';
import type { Frame } from './camera/frame.js';

/**
 * Decodes an image file (JPEG, PNG, WebP, or anything else sharp reads; first page of multi-page files) into
 * an RGB24 Frame: EXIF orientation applied, alpha dropped, greyscale/CMYK/16-bit converted to 8-bit sRGB.
 * Errors name the file. The pixels stay in memory.
 */
export async function readImageFrame(path: string): Promise<Frame> {
  const decoded = await sharp(path, { failOn: 'error' })
    .rotate() // no arguments: apply the EXIF orientation
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((err: unknown) => {
      throw new Error(`cannot decode image ${path}: ${(err as Error).message}`, { cause: err });
    });
  const { data, info } = decoded;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new Error(`cannot decode image ${path}: got ${info.channels} channels, expected RGB`);
  }
  return {
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    capturedAt: Date.now(),
  };
}

/**
 * Scales a frame (up or down, aspect kept) to fit a box, as the camera pipeline delivers frames to the
 * detector (ffmpeg `scale=W:H:force_original_aspect_ratio=decrease`, bicubic). Returns the frame itself
 * when it already fits exactly along one side. Commands that read image files use this so the detector
 * sees what `roomcount run` would give it.
 */
export async function fitFrame(frame: Frame, box: { width: number; height: number }): Promise<Frame> {
  const scale = Math.min(box.width / frame.width, box.height / frame.height);
  const width = Math.max(1, Math.round(frame.width * scale));
  const height = Math.max(1, Math.round(frame.height * scale));
  if (width === frame.width && height === frame.height) return frame;
  const data = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
  return {
    width,
    height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    capturedAt: frame.capturedAt,
  };
}
