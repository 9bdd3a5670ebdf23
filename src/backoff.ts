/**
 * Capped exponential backoff with jitter, for every retry loop (Calven delivery, ffmpeg restarts). Pure: the random
 * draw is a parameter, so delays are tested exactly.
 */

export interface BackoffPolicy {
  /** Delay after the first failure (ms). */
  initialMs: number;
  /** The longest delay (ms), Retry-After included. */
  maxMs: number;
  /** Growth per consecutive failure (default 2). */
  factor?: number;
  /** 0..1: the delay is drawn from [d·(1 − jitter), d] (default 0.5). Spreads clients that failed together. */
  jitter?: number;
}

/**
 * Delay before the next try after `failures` consecutive failures (1 = the first): initialMs·factor^(failures−1),
 * capped at maxMs, jittered; at least `atLeastMs` (a server's Retry-After), but never more than maxMs.
 */
export function backoffDelay(
  failures: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
  atLeastMs = 0,
): number {
  const factor = policy.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0.5));
  const exp = Math.min(Math.max(0, failures - 1), 60);
  const base = Math.min(policy.maxMs, policy.initialMs * factor ** exp);
  const delay = base * (1 - jitter * random());
  return Math.min(policy.maxMs, Math.max(delay, atLeastMs));
}
