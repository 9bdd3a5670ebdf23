import { fileURLToPath } from 'node:url';

/*
 * Stand-in until the camera's own src/camera/url.ts lands (it moves isNetworkUrl there and adds checkCameraUrl):
 * then import both from '../camera/url.js' and delete this file. Kept free of the ffmpeg process manager.
 */

export function isNetworkUrl(url: string): boolean {
  return /^rtsps?:\/\//i.test(url);
}

/** Why ffmpeg must not be given this camera URL (undefined: it may be). Never shows credentials. */
export function checkCameraUrl(url: string): string | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || isNetworkUrl(url)) return undefined;
  if (scheme === 'file') {
    try {
      fileURLToPath(url);
      return undefined;
    } catch (err) {
      return `not a usable file: URL (${(err as Error).message}); use file:///absolute/path or a plain path`;
    }
  }
  return `"${scheme}:" cameras are not supported: use rtsp://, rtsps://, a file: URL or a local file path`;
}
