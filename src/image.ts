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
