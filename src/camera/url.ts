import { fileURLToPath } from 'node:url';
import { redactUrl } from '../redact.js';

/**
 * What a configured camera.url means. The one place that decides it, so that `check-config`, `run`, `snapshot` and
 * `setup` accept and refuse the same URLs (README: "rtsp://, rtsps:// or a local file path").
 */
export type CameraSource =
  /** rtsp:// or rtsps://, as written (it may hold credentials: show it only through redactUrl). */
  | { kind: 'network'; url: string }
  /** A local file: a path as configured, or the path of a file:// URL. */
  | { kind: 'file'; path: string };

/** A camera.url that cannot be used; the message says why and what to write instead, never the credentials. */
export class CameraUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CameraUrlError';
  }
}

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;
const NETWORK = /^rtsps?:\/\//i;
const ENCODE_HINT =
  'percent-encode these characters in the user and password: "/" as %2F, "?" as %3F, "#" as %23, ' +
  '"@" as %40, a space as %20';

export function isNetworkUrl(url: string): boolean {
  return NETWORK.test(url);
}

/**
 * Whether camera.url starts with a URL scheme (rtsp:, file:, http:, …): then it is not a path, and must not be
 * resolved as one (`http://u:p@cam/x` made into `/etc/roomcount/http:/u:p@cam/x` would hide what it is, and show
 * its password in every "no such file"). One letter before ":" is not a scheme (C:\… is a path).
 */
export function hasUrlScheme(url: string): boolean {
  return (SCHEME.exec(url)?.[1]?.length ?? 0) > 1;
}

/**
 * Classifies a camera URL, or throws a CameraUrlError. rtsp/rtsps: a network stream. file://: a local file (on
 * this machine: no other host, no encoded "/", valid escapes). A value without a scheme: a path. Anything else
 * (http://, udp://, pipe:, ...) is refused: ffmpeg would open it, but nothing here handles what it does.
 */
export function cameraSource(url: string): CameraSource {
  if (isNetworkUrl(url)) return { kind: 'network', url: checkedNetworkUrl(url) };
  const scheme = SCHEME.exec(url)?.[1];
  if (scheme?.toLowerCase() === 'file') return { kind: 'file', path: fileUrlPath(url) };
  if (hasUrlScheme(url)) {
    // The URL is not shown: redaction knows "scheme://user:password@" only, and this may be anything.
    throw new CameraUrlError(
      `"${scheme}:" camera URLs are not supported: use rtsp://, rtsps://, a file:// URL or a local file path ` +
        '(a file whose name holds ":" can be written ./name)',
    );
  }
  if (/[\0\n\r]/.test(url)) throw new CameraUrlError('the camera path holds a control character');
  return { kind: 'file', path: url };
}

/** The problem with a camera URL, for config checks (undefined: it can be used). Never shows its credentials. */
export function checkCameraUrl(url: string): string | undefined {
  try {
    cameraSource(url);
    return undefined;
  } catch (err) {
    if (err instanceof CameraUrlError) return err.message;
    throw err;
  }
}

/** The path of a local camera (a path, or a file:// URL); throws a CameraUrlError for a network or bad URL. */
export function localPath(url: string): string {
  const source = cameraSource(url);
  if (source.kind !== 'file') throw new CameraUrlError(`${redactUrl(url)} is not a local file`);
  return source.path;
}

/**
 * An RTSP URL whose meaning is not in doubt. ffmpeg (like the WHATWG URL parser) ends the host part at the first
 * "/", "?" or "#", so `rtsp://user:pa/ss@cam/live` would be host "user", port "pa" and a path: refused rather than
 * guessed. A raw "@" in the password is fine (ffmpeg takes the last "@" before the path, as redaction does).
 */
function checkedNetworkUrl(url: string): string {
  if (/[\s\0]/.test(url)) {
    throw new CameraUrlError(
      `the camera URL ${redactUrl(url)} holds a space or control character: ${ENCODE_HINT}`,
    );
  }
  const rest = url.slice(url.indexOf('://') + 3);
  const hostEnd = rest.search(/[/?#]/);
  const authority = hostEnd < 0 ? rest : rest.slice(0, hostEnd);
  if (hostEnd >= 0 && rest.indexOf('@', hostEnd) >= 0) {
    throw new CameraUrlError(
      `the camera URL ${redactUrl(url)} holds an "@" after a "/", "?" or "#", so where its user and password ` +
        `end is ambiguous: ${ENCODE_HINT}`,
    );
  }
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  if (host === '' || host.startsWith(':')) {
    throw new CameraUrlError(`the camera URL ${redactUrl(url)} names no host`);
  }
  return url;
}

/** A file:// URL's path on this machine, with a clear message for what fileURLToPath would throw a TypeError for. */
function fileUrlPath(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CameraUrlError(`${redactUrl(url)} is not a valid file:// URL`);
  }
  if (parsed.hostname !== '' && parsed.hostname !== 'localhost') {
    throw new CameraUrlError(
      `file://${parsed.hostname}/… names another machine: a camera file must be on this one ` +
        '(write file:///path, with three slashes, or just the path)',
    );
  }
  if (/%2f/i.test(parsed.pathname)) {
    throw new CameraUrlError(
      `${redactUrl(url)} holds an encoded "/" (%2F), which cannot be part of a file name: write "/"`,
    );
  }
  try {
    decodeURIComponent(parsed.pathname);
  } catch {
    throw new CameraUrlError(
      `${redactUrl(url)} holds a "%" that is not a valid escape: write a "%" in a file name as %25`,
    );
  }
  return fileURLToPath(parsed);
}
