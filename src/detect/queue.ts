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

/** What the queue reports of each frame (metrics listen: see metricsObservers). */
export interface QueueObserver {
  analysed?: (roomId: string, ms: number) => void;
  /** A waiting frame was replaced by a newer one. */
  dropped?: (roomId: string) => void;
  /** Detection of a frame failed (the room's onError also hears it). */
  failed?: (roomId: string) => void;
}

/**
 * One detector shared by every room. Each room has a single slot holding its newest frame: when the detector is
 * behind, a waiting frame is replaced by a newer one (counted as dropped), never queued up. Rooms are served
 * round-robin so a busy room cannot starve the others. With a pool of detector workers, up to `concurrency`
 * frames are analysed at once, never two of one room (its results stay in time order).
 */
export class DetectionQueue {
  private readonly slots = new Map<string, Slot>();
  private readonly order: string[] = [];
  /** Rooms with a frame being analysed, and its run. */
  private readonly busy = new Map<string, Promise<void>>();
  private readonly concurrency: number;
  private lastServed: string | undefined;

  constructor(
    private readonly detector: Detector,
    private readonly hooks: QueueObserver = {},
    opts: { concurrency?: number } = {},
  ) {
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
  }

  submit(
    roomId: string,
    frame: Frame,
    onResult: ResultHandler,
    onError: ErrorHandler,
    opts?: DetectOptions,
  ): void {
    if (!this.order.includes(roomId)) this.order.push(roomId);
    if (this.slots.has(roomId)) this.hooks.dropped?.(roomId);
    this.slots.set(roomId, { frame, onResult, onError, opts });
    this.dispatch();
  }

  /** Forget a room's waiting frame (room stopped). */
  remove(roomId: string): void {
    this.slots.delete(roomId);
  }

  /** Whether a frame of the room is waiting or being analysed (its result is still to come). */
  pending(roomId: string): boolean {
    return this.slots.has(roomId) || this.busy.has(roomId);
  }

  /** Resolves when the room's frame being analysed, if any, is done (its result handled). */
  async roomIdle(roomId: string): Promise<void> {
    await this.busy.get(roomId);
  }

  /** Resolves when the frames being analysed (and any waiting) are done. */
  async idle(): Promise<void> {
    while (this.busy.size > 0) await Promise.all([...this.busy.values()]);
  }

  /** Starts analysing waiting frames while the detector has room for more. */
  private dispatch(): void {
    while (this.busy.size < this.concurrency) {
      const roomId = this.pickNext();
      if (roomId === undefined) return;
      const slot = this.slots.get(roomId)!;
      this.slots.delete(roomId);
      const run: Promise<void> = this.analyse(roomId, slot).finally(() => {
        this.busy.delete(roomId);
        this.dispatch();
      });
      this.busy.set(roomId, run);
    }
  }

  private async analyse(roomId: string, slot: Slot): Promise<void> {
    try {
      const started = performance.now();
      const detections = await this.detector.detect(slot.frame, slot.opts);
      this.hooks.analysed?.(roomId, performance.now() - started);
      slot.onResult(detections, slot.frame);
    } catch (err) {
      this.hooks.failed?.(roomId);
      slot.onError(err as Error, slot.frame);
    }
  }

  /**
   * The first room after the last one served (in order of first submission) that has a frame waiting and none
   * being analysed.
   */
  private pickNext(): string | undefined {
    const start = this.lastServed === undefined ? 0 : this.order.indexOf(this.lastServed) + 1;
    for (let i = 0; i < this.order.length; i++) {
      const roomId = this.order[(start + i) % this.order.length]!;
      if (this.slots.has(roomId) && !this.busy.has(roomId)) {
        this.lastServed = roomId;
        return roomId;
      }
    }
    return undefined;
  }
}
