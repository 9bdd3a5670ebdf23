/**
 * Camera URLs carry credentials (rtsp://user:pass@host/...). Everything that leaves the process — logs, errors,
 * status output — goes through these helpers first.
 */
// Greedy up to the last "@" before the path, so a password holding a raw "@" is hidden whole.
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^/\s]*)@/gi;

/** rtsp://user:secret@cam/stream → rtsp://***:***@cam/stream (user hidden too: it is often a site-wide account). */
export function redactUrl(url: string): string {
  return url.replace(USERINFO, (_m, scheme: string) => `${scheme}***:***@`);
}

/** Redacts every URL with credentials inside a free-text message (ffmpeg stderr, error messages). */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = redactUrl(text);
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}
