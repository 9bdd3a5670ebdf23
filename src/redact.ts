/**
 * Camera URLs carry credentials (rtsp://user:pass@host/...). Everything that leaves the process — logs, errors,
 * status output — goes through these helpers first.
 *
 * They scan by hand, in one pass: a regular expression for "scheme://userinfo@" backtracks over every letter run
 * (80 KB of letters took 9.5 s), and a big error body from a server must not freeze the service.
 */

const isLetter = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
/** RFC 3986 scheme characters: letters, digits, "+", "-", ".". */
const isSchemeChar = (c: number) => isLetter(c) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
/** As the regular expression \s: ASCII white space, and the Unicode spaces (rare: tested the slow way). */
const isSpace = (c: number) =>
  c <= 32 ? c === 32 || (c >= 9 && c <= 13) : c >= 0xa0 && /\s/.test(String.fromCharCode(c));
/** Where a URL ends in free text: white space, double quotes, backticks and angle brackets (JSON, HTML, Markdown). A
 * single quote does not: passwords hold them, and ffmpeg's 'quoted' URLs end in white space soon enough. */
const endsUrlInText = (c: number) => isSpace(c) || c === 34 || c === 60 || c === 62 || c === 96;

/** A URL's "scheme://" in a text: where the scheme starts and where what follows "://" starts. */
interface SchemeAt {
  start: number;
  rest: number;
}

/** Every "scheme://" in the text, in order. Linear: each character is looked at a bounded number of times. */
function schemes(text: string): SchemeAt[] {
  const found: SchemeAt[] = [];
  let floor = 0; // nothing before it belongs to a later scheme (it is the previous "://")
  for (let i = text.indexOf('://'); i >= 0; i = text.indexOf('://', i + 1)) {
    // The scheme is the run of scheme characters before "://", from its first letter (as /[a-z][a-z0-9+.-]*/).
    let s = i;
    while (s > floor && isSchemeChar(text.charCodeAt(s - 1))) s--;
    while (s < i && !isLetter(text.charCodeAt(s))) s++;
    floor = i + 3;
    if (s < i) found.push({ start: s, rest: i + 3 });
  }
  return found;
}

/**
 * Hides the user info of every URL in `text`: what follows "scheme://" up to the last "@" before the URL's end
 * (the next URL, or the first character for which `ends` is true). Greedy, so that a password holding a raw "@",
 * "/" or (in a whole-URL string) a space is hidden whole; it may hide a little more than the user info (a path
 * holding "@"), never less.
 */
function hideUserinfo(text: string, ends: (c: number) => boolean): string {
  const at = schemes(text);
  if (at.length === 0) return text;
  let out = '';
  let copied = 0;
  for (let k = 0; k < at.length; k++) {
    const { rest } = at[k]!;
    const limit = at[k + 1]?.start ?? text.length;
    let lastAt = -1;
    for (let j = rest; j < limit; j++) {
      const c = text.charCodeAt(j);
      if (ends(c)) break;
      if (c === 64) lastAt = j;
    }
    if (lastAt < 0) continue;
    out += `${text.slice(copied, rest)}***:***`;
    copied = lastAt;
  }
  return out + text.slice(copied);
}

/**
 * One URL as configured → the same with user and password hidden: rtsp://user:secret@cam/stream →
 * rtsp://***:***@cam/stream (the user too: it is often a site-wide account). The whole string is the URL, so a
 * password with a raw "/", "@" or space is hidden whole.
 */
export function redactUrl(url: string): string {
  return hideUserinfo(url, () => false);
}

/** Redacts every URL with credentials inside a free-text message (ffmpeg stderr, error messages). */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = hideUserinfo(text, endsUrlInText);
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * The user info of a URL as configured: from "scheme://" to its last "@" (as redactUrl hides it), or undefined.
 */
export function urlUserinfo(url: string): string | undefined {
  const first = schemes(url)[0];
  if (!first || first.start !== 0) return undefined;
  const lastAt = url.lastIndexOf('@');
  return lastAt >= first.rest ? url.slice(first.rest, lastAt) : undefined;
}

/**
 * The password of a URL's user info, as written, percent-decoded and percent-encoded (ffmpeg may print any);
 * user info may itself contain '@', '/' or a space. Pass the result to `redactText` to hide it also where it appears outside a URL.
 */
export function urlSecrets(url: string): string[] {
  const userinfo = urlUserinfo(url) ?? '';
  const colon = userinfo.indexOf(':');
  if (colon < 0) return [];
  const raw = userinfo.slice(colon + 1);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // not percent-encoded
  }
  return [...new Set([raw, decoded, encodeURIComponent(decoded)])].filter((s) => s.length > 0);
}

/**
 * A redactor for everything said about one camera URL: the URL itself wherever it appears (as a whole, so a
 * password with a space is hidden with the user), any other URL's user info, and its password anywhere.
 */
export function urlRedactor(url: string): (text: string) => string {
  const secrets = urlSecrets(url);
  const shown = redactUrl(url);
  return (text) => redactText(shown === url ? text : text.split(url).join(shown), secrets);
}
