import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.js';

describe('backoffDelay', () => {
  const policy = { initialMs: 1000, maxMs: 30_000 };
  it('doubles from initialMs and stops at maxMs', () => {
    const top = (n: number) => backoffDelay(n, policy, () => 0);
    expect([1, 2, 3, 4, 5, 6, 7, 50, 1e6].map(top)).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000,
    ]);
    expect(backoffDelay(0, policy, () => 0)).toBe(1000);
  });
  it('jitter draws from [d·(1 − jitter), d]', () => {
    expect(backoffDelay(3, policy, () => 1)).toBe(2000);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(3000);
    expect(backoffDelay(3, { ...policy, jitter: 0 }, () => 1)).toBe(4000);
    expect(backoffDelay(3, { ...policy, jitter: 1 }, () => 1)).toBe(0);
    expect(backoffDelay(2, { ...policy, factor: 3, jitter: 0 })).toBe(3000);
  });
  it('honours a Retry-After up to maxMs', () => {
    expect(backoffDelay(1, policy, () => 0, 7000)).toBe(7000);
    expect(backoffDelay(1, policy, () => 0, 3_600_000)).toBe(30_000);
  });
});
