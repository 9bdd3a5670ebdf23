/**
 * The delivery loop's two waits. Idle: until woken (an event was stored) or `pollMs` (picks up `outbox
 * --retry-dead`). Backoff: until its delay has passed; an event stored meanwhile ends it early once `minMs` of it
 * has passed (a probe: Calven may be back, and the new event should not wait out a long delay), and interrupt()
 * ends it at once (shutdown).
 */
export class Waits {
  private woken = false;
  private idleEnd: (() => void) | undefined;
  private backoffEnd: (() => void) | undefined;
  private backoffStarted = 0;
  private early: NodeJS.Timeout | undefined;
  /** When the running backoff wait ends (ms since the epoch). */
  until: number | undefined;

  constructor(private readonly opts: { pollMs: number; minBackoffMs: number }) {}

  /** Something to send: ends an idle wait, and a backoff wait past its minimum. */
  wake(): void {
    this.woken = true;
    const r = this.idleEnd;
    this.idleEnd = undefined;
    r?.();
    if (this.backoffEnd && !this.early) {
      const left = this.backoffStarted + this.opts.minBackoffMs - Date.now();
      const end = this.backoffEnd;
      if (left <= 0) end();
      else this.early = setTimeout(end, left).unref();
    }
  }

  /** Ends every wait now. */
  interrupt(): void {
    this.wake();
    this.backoffEnd?.();
  }

  /** Clears the wake flag before a look at the outbox. */
  reset(): void {
    this.woken = false;
  }

  idle(): Promise<void> {
    if (this.woken) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.idleEnd = undefined;
        resolve();
      }, this.opts.pollMs);
      timer.unref();
      this.idleEnd = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  backoff(ms: number): Promise<void> {
    this.backoffStarted = Date.now();
    this.until = this.backoffStarted + ms;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        clearTimeout(this.early);
        this.early = undefined;
        this.backoffEnd = undefined;
        this.until = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.backoffEnd = done;
    });
  }
}
