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

/**
 * The password of a URL's user info, as written and percent-decoded (ffmpeg may print either); user info may
 * itself contain '@'. Pass the result to `redactText` to hide it also where it appears outside a URL.
 */
export function urlSecrets(url: string): string[] {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url)?.[1] ?? '';
  const userinfo = authority.includes('@') ? authority.slice(0, authority.lastIndexOf('@')) : '';
  const colon = userinfo.indexOf(':');
  if (colon < 0) return [];
  const raw = userinfo.slice(colon + 1);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // not percent-encoded
  }
  return [...new Set([raw, decoded])].filter((s) => s.length > 0);
}

/** A redactor for everything said about one camera URL: the URL in any text, and its password anywhere. */
export function urlRedactor(url: string): (text: string) => string {
  const secrets = urlSecrets(url);
  return (text) => redactText(text, secrets);
}
