import { afterEach, describe, expect, it } from 'vitest';
import type { Frame } from '../src/camera/frame.js';
import type { Detection } from '../src/detect/detector.js';
import { createDetectorPool, type DetectorPool } from '../src/detect/pool.js';
import { DetectionQueue } from '../src/detect/queue.js';
import { CRASH } from './helpers/pool-detector.js';

const FAKE = new URL('./helpers/pool-detector.ts', import.meta.url);
const SIDE = 48;

/** A frame of its own buffer (lent to a worker, not copied): people, command byte, delay in 10 ms. */
function frame(capturedAt: number, people: number, opts: { delay?: number; command?: number } = {}): Frame {
  const data = new Uint8Array(SIDE * SIDE * 3).fill(7);
  data[0] = people;
  data[1] = opts.command ?? 0;
  data[2] = opts.delay ?? 0;
  return { width: SIDE, height: SIDE, data, capturedAt };
}

let pool: DetectorPool | undefined;
afterEach(async () => {
  await pool?.dispose();
  pool = undefined;
});

describe('DetectorPool', () => {
  it('spreads the frames of many rooms over its workers and gives every frame back intact', async () => {
    const restarts: number[] = [];
    pool = await createDetectorPool(
      { model: 'auto' },
      { workers: 2, module: FAKE, onRestart: (w) => restarts.push(w) },
    );
    expect(pool.model).toBe('fake-in-worker');
    const queue = new DetectionQueue(pool, {}, { concurrency: pool.size });
    const results = new Map<string, { people: number; thread: number; intact: boolean }>();
    for (let room = 0; room < 6; room++) {
      queue.submit(
        `room-${room}`,
        frame(room, room, { delay: 5 }),
        (detections: Detection[], f) =>
          results.set(`room-${room}`, {
            people: detections.length,
            thread: detections[0]?.box[0] ?? -1,
            intact:
              f.data.length === SIDE * SIDE * 3 && f.data[0] === room && f.data[SIDE * SIDE * 3 - 1] === 7,
          }),
        (err) => {
          throw err;
        },
      );
    }
    await queue.idle();
    expect([...results.keys()].sort()).toEqual(['room-0', 'room-1', 'room-2', 'room-3', 'room-4', 'room-5']);
    for (let room = 0; room < 6; room++) {
      expect(results.get(`room-${room}`)).toMatchObject({ people: room, intact: true });
    }
    // Rooms with people name the worker thread that analysed them: both workers took frames.
    const threads = new Set([...results.values()].filter((r) => r.people > 0).map((r) => r.thread));
    expect(threads.size).toBe(2);
    const frames = pool.stats().map((s) => s.frames);
    expect(frames.reduce((a, b) => a + b, 0)).toBe(6);
    expect(frames.every((n) => n > 0)).toBe(true);
    expect(restarts).toEqual([]);
  });

  it('restarts a worker that crashed; the frame it had is dropped and counted, the next one is analysed', async () => {
    const restarts: number[] = [];
    pool = await createDetectorPool(
      { model: 'auto' },
      { workers: 1, module: FAKE, onRestart: (w) => restarts.push(w) },
    );
    const failed: string[] = [];
    const errors: string[] = [];
    const counts: number[] = [];
    const queue = new DetectionQueue(pool, { failed: (room) => failed.push(room) }, { concurrency: 1 });
    const submit = (f: Frame) =>
      queue.submit(
        'a',
        f,
        (d) => counts.push(d.length),
        (err) => errors.push(err.message),
      );
    submit(frame(1, 2, { command: CRASH }));
    await queue.idle();
    expect(failed).toEqual(['a']);
    expect(errors[0]).toMatch(/stopped .*frame dropped/);
    expect(restarts).toEqual([0]);
    // Frames that come while it restarts wait for it.
    submit(frame(2, 4));
    await queue.idle();
    expect(counts).toEqual([4]);
    expect(pool.stats()[0]).toMatchObject({ frames: 1, restarts: 1 });
  });

  it('shutdown waits for the frames in flight', async () => {
    pool = await createDetectorPool({ model: 'auto' }, { workers: 2, module: FAKE });
    const found = Promise.all([
      pool.detect(frame(1, 3, { delay: 20 })),
      pool.detect(frame(2, 1, { delay: 20 })),
    ]);
    await pool.dispose();
    expect((await found).map((d) => d.length)).toEqual([3, 1]);
    await expect(pool.detect(frame(3, 1))).rejects.toThrow(/shutting down/);
  });

  it('reports a worker that cannot load its model as createDetector would', async () => {
    await expect(
      createDetectorPool({ model: 'yolox-nano', modelPath: 'fail' }, { workers: 2, module: FAKE }),
    ).rejects.toThrow('fake model: cannot load (modelPath fail)');
  });
});
