import { threadId } from 'node:worker_threads';
import type { Frame } from '../../src/camera/frame.js';
import type { Detection, Detector } from '../../src/detect/detector.js';
import type { DetectorChoice } from '../../src/detect/index.js';
import { fakeDetector } from './detector.js';

/** Byte 1 of a frame: what the fake detector in a pool worker does with it. */
export const CRASH = 255;

/**
 * A createDetector for DetectorPool tests, loaded in the worker threads: no weights. A frame's first byte is the
 * number of people "found", its third byte a delay in units of 10 ms; byte 1 = CRASH ends the worker thread.
 * Every box's x1 is the worker's threadId, so a test sees which worker analysed a frame.
 * `modelPath: 'fail'` fails to load.
 */
export async function createDetector(choice: DetectorChoice): Promise<Detector> {
  if (choice.modelPath === 'fail') throw new Error('fake model: cannot load (modelPath fail)');
  return fakeDetector(
    async (frame: Frame): Promise<Detection[]> => {
      if (frame.data[1] === CRASH) process.exit(3);
      await new Promise((r) => setTimeout(r, frame.data[2]! * 10));
      return Array.from({ length: frame.data[0]! }, () => ({ score: 1, box: [threadId, 0, 1, 1] }));
    },
    { model: 'fake-in-worker' },
  );
}
