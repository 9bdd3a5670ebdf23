import { setPriority } from 'node:os';
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import type { Detector } from './detector.js';
import type { DetectorChoice } from './index.js';
import type { ToMain, ToWorker, WorkerData } from './pool.js';

/**
 * One detector worker of a DetectorPool: loads its own detector (createDetector, or a test module's) and runs
 * frames the pool lends it. Its logs go to the pool as pino JSON lines; the pixels it is lent go back with
 * every answer (transferred, never copied).
 */
const data = workerData as WorkerData;

/**
 * This thread's priority (Linux nice is per thread): below the main thread, so that routing frames, timers,
 * health checks and event delivery never wait behind inference (event-loop lag), and still far above the ffmpeg
 * decoders at 19 (nice 5 weighs 335 against their 15), which keep yielding to the detectors.
 */
const DETECTOR_NICENESS = 5;
try {
  setPriority(DETECTOR_NICENESS);
} catch {
  // Not permitted (or not Linux): same priority as the main thread, only less graceful when the box is full.
}
const port = parentPort!;
const post = (msg: ToMain, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

const lines = new Writable({
  write(chunk: Buffer, _enc, done) {
    post({ type: 'log', line: chunk.toString('utf8') });
    done();
  },
});
const log = pino({ level: data.logLevel, base: undefined }, lines);

async function load(): Promise<Detector | undefined> {
  try {
    const mod = (await import(data.module)) as {
      createDetector(cfg: DetectorChoice, log: pino.Logger): Promise<Detector>;
    };
    return await mod.createDetector(data.choice, log);
  } catch (err) {
    // The pool ends this thread when it reads this (exiting here could lose the message).
    post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

function serve(detector: Detector): void {
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'dispose') {
      void detector.dispose().finally(() => {
        post({ type: 'disposed' });
        port.close();
      });
      return;
    }
    const { id, buffer, offset, length } = msg;
    const frame = {
      width: msg.width,
      height: msg.height,
      capturedAt: msg.capturedAt,
      data: new Uint8Array(buffer, offset, length),
    };
    const started = performance.now();
    const ms = () => performance.now() - started;
    detector.detect(frame, msg.opts).then(
      (detections) => post({ type: 'result', id, detections, ms: ms(), buffer }, [buffer]),
      (err: unknown) =>
        post(
          { type: 'error', id, message: err instanceof Error ? err.message : String(err), ms: ms(), buffer },
          [buffer],
        ),
    );
  });
  post({
    type: 'ready',
    info: {
      model: detector.model,
      backend: detector.backend,
      input: detector.input,
      tiles: detector.tiles,
      minScore: detector.minScore,
    },
  });
}

void load().then((detector) => {
  if (detector) serve(detector);
  else port.on('message', () => {}); // stay until the pool ends the thread
});
