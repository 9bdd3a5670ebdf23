/** The longest delay Node's timers take: a longer one (or NaN) fires after 1 ms, with only a warning. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * setTimeout with the delay clamped to 0 … MAX_TIMEOUT_MS (~24.8 days). `watchdogSeconds: 2147484` would
 * otherwise kill ffmpeg 1 ms after each start, before its first frame, forever.
 */
export function safeTimeout(fn: () => void, ms: number): NodeJS.Timeout {
  const delay = Number.isNaN(ms) ? MAX_TIMEOUT_MS : Math.min(Math.max(ms, 0), MAX_TIMEOUT_MS);
  return setTimeout(fn, delay);
}
