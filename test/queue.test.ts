import { describe, expect, it } from 'vitest';
import type { Frame } from '../src/camera/frame.js';
import type { Detection, Detector } from '../src/detect/detector.js';
import { DetectionQueue } from '../src/detect/queue.js';
import { fakeDetector } from './helpers/detector.js';

/** A queue that tallies what it reports per room, as the metrics do. */
function tallyingQueue(detector: Detector): DetectionQueue & {
  dropped: Map<string, number>;
  analysed: Map<string, number>;
} {
  const dropped = new Map<string, number>();
  const analysed = new Map<string, number>();
  const add = (map: Map<string, number>, room: string) => map.set(room, (map.get(room) ?? 0) + 1);
  const queue = new DetectionQueue(detector, {
    dropped: (room) => add(dropped, room),
    analysed: (room) => add(analysed, room),
  });
  return Object.assign(queue, { dropped, analysed });
}

/** A detector that takes `ms` per frame and "finds" as many people as the frame's first byte says. */
function slowDetector(ms: number): Detector & { seen: number[] } {
  const seen: number[] = [];
  const detector = fakeDetector(async (frame: Frame): Promise<Detection[]> => {
    seen.push(frame.capturedAt);
    await new Promise((r) => setTimeout(r, ms));
    return Array.from({ length: frame.data[0]! }, () => ({ score: 1, box: [0, 0, 1, 1] }));
  });
  return Object.assign(detector, { seen });
}

const frame = (capturedAt: number, people = 0): Frame => ({
  width: 1,
  height: 1,
  data: Uint8Array.of(people, 0, 0),
  capturedAt,
});

describe('DetectionQueue', () => {
  it('keeps only the newest waiting frame per room and counts the ones it dropped', async () => {
    const detector = slowDetector(30);
    const queue = tallyingQueue(detector);
    const results: number[] = [];
    for (let t = 1; t <= 5; t++)
      queue.submit(
        'a',
        frame(t),
        (_d, f) => results.push(f.capturedAt),
        () => {},
      );
    await queue.idle();
    // Frame 1 went straight to the detector; 2, 3 and 4 were replaced while it worked; 5 was analysed.
    expect(results).toEqual([1, 5]);
    expect(queue.dropped.get('a')).toBe(3);
    expect(queue.analysed.get('a')).toBe(2);
  });

  it('serves rooms round-robin so one busy room cannot starve another', async () => {
    const detector = slowDetector(5);
    const queue = tallyingQueue(detector);
    const order: string[] = [];
    const submitAll = () => {
      queue.submit(
        'a',
        frame(1),
        () => order.push('a'),
        () => {},
      );
      queue.submit(
        'b',
        frame(2),
        () => order.push('b'),
        () => {},
      );
      queue.submit(
        'c',
        frame(3),
        () => order.push('c'),
        () => {},
      );
    };
    submitAll();
    await new Promise((r) => setTimeout(r, 1));
    submitAll();
    await queue.idle();
    // a was being analysed when the second round came: b and c waited and got newer frames; a's new frame
    // waits for its turn behind them instead of jumping the queue.
    expect(order).toEqual(['a', 'b', 'c', 'a']);
    expect([queue.dropped.get('a'), queue.dropped.get('b'), queue.dropped.get('c')]).toEqual([
      undefined,
      1,
      1,
    ]);
  });

  it('passes detections through and reports detector errors without stopping', async () => {
    let calls = 0;
    const flaky: Detector = {
      ...slowDetector(0),
      async detect(f) {
        if (calls++ === 0) throw new Error('boom');
        return [{ score: 0.9, box: [0, 0, f.width, f.height] }];
      },
    };
    const queue = new DetectionQueue(flaky);
    const errors: string[] = [];
    const counts: number[] = [];
    queue.submit(
      'a',
      frame(1),
      (d) => counts.push(d.length),
      (e) => errors.push(e.message),
    );
    await queue.idle();
    queue.submit(
      'a',
      frame(2),
      (d) => counts.push(d.length),
      (e) => errors.push(e.message),
    );
    await queue.idle();
    expect(errors).toEqual(['boom']);
    expect(counts).toEqual([1]);
  });
});
