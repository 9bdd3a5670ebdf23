import { requestBodyText, type OccupancyEvent } from './event.js';

/** Where occupancy events go. `roomId` travels alongside for logs; it is not part of the Calven body. */
export interface EventSink {
  send(event: OccupancyEvent, roomId: string): Promise<void>;
  /** Deliver what is pending, within the deadline, before shutdown. */
  close(deadlineMs: number): Promise<void>;
  /** Why the sink cannot keep events safe now (for /readyz), or undefined. */
  problem?(): string | undefined;
}

/** Dry run: prints exactly the request body that would be POSTed, one JSON line per event. */
export class StdoutSink implements EventSink {
  constructor(
    private readonly sourceId: string,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  async send(event: OccupancyEvent): Promise<void> {
    this.out.write(requestBodyText(this.sourceId, [JSON.stringify(event)]) + '\n');
  }

  async close(): Promise<void> {}

  problem(): string | undefined {
    return undefined;
  }
}
