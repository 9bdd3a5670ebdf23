import type { Frame } from '../camera/frame.js';
import type { Detection, DetectOptions, Detector } from './detector.js';

type ResultHandler = (detections: Detection[], frame: Frame) => void;
type ErrorHandler = (err: Error, frame: Frame) => void;

interface Slot {
  frame: Frame;
  onResult: ResultHandler;
  onError: ErrorHandler;
  opts: DetectOptions | undefined;
}

/**
 * One detector shared by every room. Each room has a single slot holding its newest frame: when the detector is
 * behind, a waiting frame is replaced by a newer one (counted as dropped), never queued up. Rooms are served
 * round-robin so a busy room cannot starve the others.
 */
export class DetectionQueue {
  private readonly slots = new Map<string, Slot>();
  private readonly order: string[] = [];
  private running: Promise<void> | undefined;
  private lastServed: string | undefined;
  readonly dropped = new Map<string, number>();
  readonly analysed = new Map<string, number>();

  constructor(
    private readonly detector: Detector,
    private readonly hooks: {
      analysed?: (roomId: string, ms: number) => void;
      dropped?: (roomId: string) => void;
    } = {},
  ) {}

  submit(
    roomId: string,
    frame: Frame,
    onResult: ResultHandler,
    onError: ErrorHandler,
    opts?: DetectOptions,
  ): void {
    if (!this.order.includes(roomId)) this.order.push(roomId);
    if (this.slots.has(roomId)) {
      this.dropped.set(roomId, (this.dropped.get(roomId) ?? 0) + 1);
      this.hooks.dropped?.(roomId);
    }
    this.slots.set(roomId, { frame, onResult, onError, opts });
    this.running ??= this.pump().finally(() => (this.running = undefined));
  }

  /** Forget a room's waiting frame (room stopped). */
  remove(roomId: string): void {
    this.slots.delete(roomId);
  }

  /** Resolves when the frame being analysed (and any waiting) are done. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async pump(): Promise<void> {
    for (;;) {
      const roomId = this.pickNext();
      if (roomId === undefined) return;
      const slot = this.slots.get(roomId)!;
      this.slots.delete(roomId);
      try {
        const started = performance.now();
        const detections = await this.detector.detect(slot.frame, slot.opts);
        this.analysed.set(roomId, (this.analysed.get(roomId) ?? 0) + 1);
        this.hooks.analysed?.(roomId, performance.now() - started);
        slot.onResult(detections, slot.frame);
      } catch (err) {
        slot.onError(err as Error, slot.frame);
      }
    }
  }

  /** The first room after the last one served (in order of first submission) that has a frame waiting. */
  private pickNext(): string | undefined {
    const start = this.lastServed === undefined ? 0 : this.order.indexOf(this.lastServed) + 1;
    for (let i = 0; i < this.order.length; i++) {
      const roomId = this.order[(start + i) % this.order.length]!;
      if (this.slots.has(roomId)) {
        this.lastServed = roomId;
        return roomId;
      }
    }
    return undefined;
  }
}
