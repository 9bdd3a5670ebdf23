import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { backoffDelay, type BackoffPolicy } from '../backoff.js';
import type { Frame } from '../camera/frame.js';
import type { Logger } from '../log.js';
import type { Detection, DetectOptions, Detector, TileSetting } from './detector.js';
import { frameLimit, type FrameLimit, type ModelInput } from './geometry.js';
import type { DetectorChoice } from './index.js';
import { MODEL_DESCRIPTORS, type ModelDescriptor } from './models.js';

/**
 * Person detection off the main thread, on every core: a few worker threads, each with its own detector
 * (createDetector in the worker: its own onnxruntime session with one intra-op thread, or its own tfjs), fed by
 * the DetectionQueue one frame per worker. Frames are lent to a worker, not copied: the pixel buffer is
 * transferred there and back. The main thread only routes frames and results, so timers, health checks and
 * event delivery keep their pace however busy the detectors are.
 */

/** What the pool knows of a worker's detector (it answers the Detector questions on the main thread). */
export interface DetectorInfo {
  model: string;
  backend: string;
  input: ModelInput;
  tiles: TileSetting;
  minScore: number;
}

export interface WorkerData {
  choice: DetectorChoice;
  /** Module whose createDetector(choice, log) the worker calls (the real one, or a test's fake). */
  module: string;
  logLevel: string;
}

export type ToWorker =
  | {
      type: 'detect';
      id: number;
      width: number;
      height: number;
      capturedAt: number;
      buffer: ArrayBuffer;
      offset: number;
      length: number;
      opts: DetectOptions | undefined;
    }
  | { type: 'dispose' };

export type ToMain =
  | { type: 'ready'; info: DetectorInfo }
  | { type: 'failed'; message: string }
  | { type: 'log'; line: string }
  | { type: 'result'; id: number; detections: Detection[]; ms: number; buffer: ArrayBuffer }
  | { type: 'error'; id: number; message: string; ms: number; buffer: ArrayBuffer }
  | { type: 'disposed' };

/** Per worker: frames analysed, time spent in detect() (ms), crashes. */
export interface WorkerStats {
  frames: number;
  busyMs: number;
  restarts: number;
}

export interface PoolOptions {
  /**
   * Worker threads (≥ 1), or `auto`: one per core for the ONNX models, one for the tfjs ones (each copy of tfjs
   * costs ~100 MiB, and a model at 200–400 ms a frame serves few rooms anyway; the one thread still keeps
   * inference off the main thread).
   */
  workers: number | 'auto';
  log?: Logger;
  /** A worker stopped (crashed) and is being restarted. */
  onRestart?: (worker: number) => void;
  /** A worker analysed a frame in `ms` (its detect() time, without the trip there and back). */
  onFrame?: (worker: number, ms: number) => void;
  /** Test seam: the module the workers load createDetector from (default ./index). */
  module?: string | URL;
}

/** `detector.workers` absent: one worker per core the process may use (ONNX models), one for tfjs models. */
export function defaultWorkers(model: string): number {
  const runtime = (MODEL_DESCRIPTORS as readonly ModelDescriptor[]).find((d) => d.name === model)?.runtime;
  return runtime === 'tfjs' ? 1 : availableParallelism();
}

interface Job {
  frame: Frame;
  opts: DetectOptions | undefined;
  /** The frame's own buffer was lent (transferred): it is put back into frame.data on the answer. */
  lent: boolean;
  /** frame.data's place in its buffer (a lent view reads 0 until it is back). */
  offset: number;
  length: number;
  resolve: (d: Detection[]) => void;
  reject: (e: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  ready: boolean;
  job: { id: number; job: Job } | undefined;
  stats: WorkerStats;
  /** Consecutive failed restarts (backoff). */
  failures: number;
  disposed?: () => void;
  /** Told when the frame in flight is answered or lost (stopWorker waits for it). */
  jobEnded?: () => void;
}

/** A buffer this much larger than its frame is shared with other data: copy the frame instead of lending it. */
const OWN_BUFFER_SLACK = 256;
const RESTART_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, jitter: 0 };
const DISPOSE_GRACE_MS = 5000;

/**
 * Starts `workers` detector threads and resolves once all have loaded their detector. The first one loads the
 * configured choice (with `auto` it picks the model and logs it), the others then load that same model. A load
 * failure rejects with the worker's own error message (as createDetector would have thrown it).
 */
export async function createDetectorPool(choice: DetectorChoice, opts: PoolOptions): Promise<DetectorPool> {
  const pool = new DetectorPool(choice, opts);
  try {
    await pool.start();
  } catch (err) {
    await pool.dispose();
    throw err;
  }
  return pool;
}

/** A Detector whose detect() runs in one of a few worker threads; `size` frames can be in flight at once. */
export class DetectorPool implements Detector {
  private readonly slots: Slot[];
  private readonly pending: Job[] = [];
  private readonly log: Logger | undefined;
  private readonly module: string;
  private info: DetectorInfo | undefined;
  /** The choice every worker after the first (and every restart) loads: `auto` resolved to the model it chose. */
  private resolved: DetectorChoice;
  private nextId = 1;
  private started = false;
  private disposing = false;

  constructor(
    choice: DetectorChoice,
    private readonly opts: PoolOptions,
  ) {
    const n = opts.workers;
    if (n !== 'auto' && !(Number.isInteger(n) && n >= 1))
      throw new Error(`detector workers must be a whole number ≥ 1, got ${n}`);
    this.resolved = choice;
    this.log = opts.log;
    this.module = String(opts.module ?? new URL(`./index${extension()}`, import.meta.url));
    this.slots = [newSlot(0)];
  }

  get size(): number {
    return this.slots.length;
  }
  get model(): string {
    return this.detectorInfo().model;
  }
  get backend(): string {
    return this.detectorInfo().backend;
  }
  get input(): ModelInput {
    return this.detectorInfo().input;
  }
  get tiles(): TileSetting {
    return this.detectorInfo().tiles;
  }
  get minScore(): number {
    return this.detectorInfo().minScore;
  }

  /** As TilingDetector computes it: the frame size the workers' detectors want. */
  frameLimit(opts?: DetectOptions): FrameLimit {
    const tiles = opts?.tiles ?? this.tiles;
    return frameLimit(this.input, tiles === 'off' ? undefined : tiles);
  }

  /** Frames, detector time and restarts per worker since start. */
  stats(): WorkerStats[] {
    return this.slots.map((s) => ({ ...s.stats }));
  }

  /**
   * Runs one frame in the next free worker. `frame.data` is lent to the worker (moved, not copied) and is back
   * in `frame.data` when the promise resolves; do not read it meanwhile. A worker that crashes on it loses it:
   * the promise rejects (the frame is dropped) and the worker is restarted.
   */
  detect(frame: Frame, opts?: DetectOptions): Promise<Detection[]> {
    if (this.disposing) return Promise.reject(new Error('the detector is shutting down'));
    return new Promise((resolve, reject) => {
      this.pending.push({ frame, opts, lent: false, offset: 0, length: 0, resolve, reject });
      this.schedule();
    });
  }

  /** Waits for the frames in flight, then ends every worker (each disposes its detector). */
  async dispose(): Promise<void> {
    this.disposing = true;
    for (const job of this.pending.splice(0)) job.reject(new Error('the detector is shutting down'));
    await Promise.all(this.slots.map((s) => this.stopWorker(s)));
  }

  /** @internal Loads the first worker, then the others with the model it chose. */
  async start(): Promise<void> {
    this.info = await this.spawn(this.slots[0]!);
    const n = this.opts.workers === 'auto' ? defaultWorkers(this.info.model) : this.opts.workers;
    for (let i = 1; i < n; i++) this.slots.push(newSlot(i));
    const rest = this.slots.slice(1);
    if (this.resolved.model === 'auto') {
      // What auto chose, as its own load would find it (auto ignores modelPath and sha256).
      this.resolved = {
        ...this.resolved,
        model: this.info.model as DetectorChoice['model'],
        modelPath: undefined,
        sha256: undefined,
      };
    }
    await Promise.all(rest.map((s) => this.spawn(s)));
    this.started = true;
    this.log?.info(
      { workers: this.size, model: this.info.model, backend: this.info.backend },
      `detector: ${this.size} worker thread(s)`,
    );
  }

  private detectorInfo(): DetectorInfo {
    if (!this.info) throw new Error('the detector pool has not started');
    return this.info;
  }

  /** Starts a worker; resolves with its detector's description once loaded, rejects with its load error. */
  private spawn(slot: Slot): Promise<DetectorInfo> {
    const first = slot.index === 0 && !this.info;
    const data: WorkerData = {
      choice: this.resolved,
      module: this.module,
      // Every worker logs the same load lines: the first one's are enough.
      logLevel: first ? (this.log?.level ?? 'silent') : this.log ? 'warn' : 'silent',
    };
    const worker = startWorker(data);
    slot.worker = worker;
    slot.ready = false;
    const log = this.log?.child({ detectorWorker: slot.index });
    return new Promise<DetectorInfo>((resolve, reject) => {
      let loaded = false;
      worker.on('message', (msg: ToMain) => {
        switch (msg.type) {
          case 'log':
            if (log) forwardLog(log, msg.line);
            return;
          case 'ready':
            loaded = true;
            slot.ready = true;
            slot.failures = 0;
            resolve(msg.info);
            this.schedule();
            return;
          case 'failed':
            loaded = true;
            void worker.terminate();
            reject(new Error(msg.message));
            return;
          case 'result':
          case 'error':
            this.answer(slot, msg);
            return;
          case 'disposed':
            slot.disposed?.();
            return;
        }
      });
      worker.on('error', (err) => {
        log?.error({ err: err.message }, 'detector worker failed');
        if (!loaded) {
          loaded = true;
          reject(err);
        }
      });
      worker.on('exit', (code) => {
        if (slot.worker !== worker) return;
        slot.worker = undefined;
        slot.ready = false;
        if (!loaded) reject(new Error(`detector worker exited (code ${code}) while loading`));
        this.onExit(slot, code);
      });
    });
  }

  private onExit(slot: Slot, code: number): void {
    const inFlight = slot.job;
    this.endJob(slot);
    slot.disposed?.();
    if (this.disposing) {
      inFlight?.job.reject(new Error('the detector is shutting down'));
      return;
    }
    if (!this.started) return; // still starting: start() reports
    slot.stats.restarts++;
    this.opts.onRestart?.(slot.index);
    const delay = backoffDelay(slot.failures + 1, RESTART_BACKOFF);
    this.log?.error(
      { detectorWorker: slot.index, code, restartInMs: delay },
      `detector worker ${slot.index} stopped (code ${code}); ` +
        (inFlight ? 'the frame it was analysing is dropped; ' : '') +
        'restarting it',
    );
    inFlight?.job.reject(
      new Error(
        `detector worker ${slot.index} stopped (code ${code}) while analysing this frame; frame dropped`,
      ),
    );
    this.failAllIfNoWorker(`detector worker ${slot.index} stopped and is restarting`);
    const timer = setTimeout(() => {
      if (this.disposing) return;
      // A failed load ends the worker too: its exit schedules the next attempt, later.
      this.spawn(slot).catch((err: Error) => {
        slot.failures++;
        this.log?.error(
          { detectorWorker: slot.index, err: err.message },
          'detector worker failed to restart',
        );
        this.failAllIfNoWorker(err.message);
      });
    }, delay);
    timer.unref();
  }

  /** With no worker able to take frames, waiting frames fail now instead of waiting for a restart. */
  private failAllIfNoWorker(why: string): void {
    if (this.slots.some((s) => s.ready)) return;
    for (const job of this.pending.splice(0)) job.reject(new Error(`no detector worker is running (${why})`));
  }

  /** Hands waiting frames to idle workers. */
  private schedule(): void {
    for (const slot of this.slots) {
      if (this.pending.length === 0) return;
      if (!slot.ready || slot.job || !slot.worker) continue;
      const job = this.pending.shift()!;
      const id = this.nextId++;
      const { frame } = job;
      const d = frame.data;
      // Lend the frame's own buffer; copy a frame that shares its buffer (a view into a larger one).
      job.lent = d.buffer instanceof ArrayBuffer && d.buffer.byteLength - d.byteLength <= OWN_BUFFER_SLACK;
      job.offset = d.byteOffset;
      job.length = d.byteLength;
      const buffer = job.lent ? (d.buffer as ArrayBuffer) : d.slice().buffer;
      const msg: ToWorker = {
        type: 'detect',
        id,
        width: frame.width,
        height: frame.height,
        capturedAt: frame.capturedAt,
        buffer,
        offset: job.lent ? d.byteOffset : 0,
        length: d.byteLength,
        opts: job.opts,
      };
      slot.job = { id, job };
      slot.worker.postMessage(msg, [buffer]);
    }
  }

  private answer(slot: Slot, msg: Extract<ToMain, { type: 'result' | 'error' }>): void {
    const current = slot.job;
    if (current?.id !== msg.id) return;
    this.endJob(slot);
    slot.stats.busyMs += msg.ms;
    const { job } = current;
    if (job.lent) job.frame.data = new Uint8Array(msg.buffer, job.offset, job.length);
    if (msg.type === 'result') {
      slot.stats.frames++;
      this.opts.onFrame?.(slot.index, msg.ms);
      job.resolve(msg.detections);
    } else {
      job.reject(new Error(msg.message));
    }
    this.schedule();
  }

  /** The slot's frame is answered or lost: it is free again. */
  private endJob(slot: Slot): void {
    slot.job = undefined;
    slot.jobEnded?.();
    slot.jobEnded = undefined;
  }

  private async stopWorker(slot: Slot): Promise<void> {
    const worker = slot.worker;
    if (!worker) return;
    // In flight: let it finish (the queue has stopped giving frames by now), within the grace period.
    if (slot.job) {
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (slot.jobEnded = resolve)),
        new Promise<void>((resolve) => (grace = setTimeout(resolve, DISPOSE_GRACE_MS))),
      ]);
      clearTimeout(grace);
    }
    if (!slot.ready) {
      await worker.terminate();
      return;
    }
    const done = new Promise<void>((resolve) => (slot.disposed = resolve));
    worker.postMessage({ type: 'dispose' } satisfies ToWorker);
    const timer = setTimeout(() => void worker.terminate(), DISPOSE_GRACE_MS);
    await done;
    clearTimeout(timer);
    await worker.terminate();
  }
}

function newSlot(index: number): Slot {
  return {
    index,
    worker: undefined,
    ready: false,
    job: undefined,
    stats: { frames: 0, busyMs: 0, restarts: 0 },
    failures: 0,
  };
}

/** `.ts` when running from the sources (tsx, vitest), `.js` from dist/. */
function extension(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}

/**
 * A worker running pool-worker. From dist/ it is plain JavaScript; from the sources, the worker first registers
 * tsx's loader (which a worker does not inherit from the main thread's --import) and then imports the TypeScript.
 */
function startWorker(data: WorkerData): Worker {
  const entry = new URL(`./pool-worker${extension()}`, import.meta.url);
  if (extension() === '.js') return new Worker(entry, { workerData: data });
  // tsx's ESM API (its package exports it as dist/esm/api/index.mjs, next to the CommonJS build require finds).
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const api = pathToFileURL(path.join(path.dirname(cjs), 'index.mjs')).href;
  const boot =
    `import(${JSON.stringify(api)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

/** A worker's pino JSON line, logged again through the pool's logger (same level, message and fields). */
function forwardLog(log: Logger, line: string): void {
  for (const text of line.split('\n')) {
    if (!text.trim()) continue;
    try {
      const { level, msg, ...fields } = JSON.parse(text) as Record<string, unknown>;
      delete fields.time; // the main thread's logger stamps it
      const label = pino.levels.labels[Number(level)] ?? 'info';
      const fn = (log as unknown as Record<string, (o: object, m?: string) => void>)[label];
      fn?.call(log, fields, typeof msg === 'string' ? msg : undefined);
    } catch {
      log.info(text);
    }
  }
}
