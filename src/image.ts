import sharp from 'sharp';
import type { Frame } from './camera/frame.js';
import { limitedSize, type FrameLimit } from './detect/geometry.js';

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
 * Scales a frame down (aspect kept, never up) under a detector's frame limit, as the camera pipeline delivers
 * frames to the detector (ffmpeg's scale filter, bicubic; see FfmpegCamera). Returns the frame itself when it is
 * already within the limit. Commands that read image files use this so the detector sees what `roomcount run`
 * would give it.
 */
export async function limitFrame(frame: Frame, limit: FrameLimit): Promise<Frame> {
  const { width, height } = limitedSize(frame, limit);
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
