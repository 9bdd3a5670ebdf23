import { fileURLToPath } from 'node:url';
import { redactUrl } from '../redact.js';

/*
 * Stand-in until the camera's src/camera/url.ts lands (it moves isNetworkUrl there and adds checkCameraUrl, with
 * the same messages for the cases below): then import both from '../camera/url.js' and delete this file. Kept
 * free of the ffmpeg process manager.
 */

export function isNetworkUrl(url: string): boolean {
  return /^rtsps?:\/\//i.test(url);
}

/** Why ffmpeg must not be given this camera URL (undefined: it may be). Never shows credentials. */
export function checkCameraUrl(url: string): string | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1];
  // One letter before ":" is a Windows drive (a path), not a scheme.
  if (scheme === undefined || scheme.length < 2 || isNetworkUrl(url)) return undefined;
  if (scheme.toLowerCase() !== 'file') {
    return (
      `"${scheme}:" camera URLs are not supported (${redactUrl(url)}): use rtsp://, rtsps://, a file:// URL ` +
      'or a local file path (a file whose name holds ":" can be written ./name)'
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${redactUrl(url)} is not a valid file:// URL`;
  }
  if (parsed.hostname !== '' && parsed.hostname !== 'localhost') {
    return (
      `file://${parsed.hostname}/… names another machine: a camera file must be on this one ` +
      '(write file:///path, with three slashes, or just the path)'
    );
  }
  try {
    fileURLToPath(parsed);
    return undefined;
  } catch (err) {
    return `${redactUrl(url)} is not a usable file:// URL (${(err as Error).message})`;
  }
}
