import type { Settlement } from './settle.js';

/** What the delivery loop has done since start, for `/status` (and its backoff: consecutive failures). */
export interface DeliveryStatus {
  /** Events Calven loaded since start. */
  delivered: number;
  /** Events moved to dead_letter since start. */
  deadLettered: number;
  requests: number;
  failedRequests: number;
  consecutiveFailures: number;
  lastDeliveredAt: string | null;
  lastError: string | null;
}

export class DeliveryCounters {
  private delivered = 0;
  private deadLettered = 0;
  private requests = 0;
  private failedRequests = 0;
  private lastDeliveredAt: number | undefined;
  private lastError: string | undefined;
  /** Failed tries in a row (requests, or outbox reads); the backoff grows with it. */
  failures = 0;

  /** One request's settlement. Returns how many failures in a row it ended (0 if none, or if it failed too). */
  request(s: Settlement, note = ''): number {
    this.requests++;
    this.delivered += s.delivered.length;
    this.deadLettered += s.dead.length;
    if (s.delivered.length > 0) this.lastDeliveredAt = Date.now();
    if (s.backoff) {
      this.failedRequests++;
      this.failure(`${s.problem}${note}`);
      return 0;
    }
    const ended = this.failures;
    this.failures = 0;
    this.lastError = s.problem;
    return ended;
  }

  /** A try that failed (the request, or reading the outbox). */
  failure(error: string): void {
    this.failures++;
    this.lastError = error;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  get deliveredCount(): number {
    return this.delivered;
  }

  status(): DeliveryStatus {
    return {
      delivered: this.delivered,
      deadLettered: this.deadLettered,
      requests: this.requests,
      failedRequests: this.failedRequests,
      consecutiveFailures: this.failures,
      lastDeliveredAt:
        this.lastDeliveredAt === undefined ? null : new Date(this.lastDeliveredAt).toISOString(),
      lastError: this.lastError ?? null,
    };
  }
}
