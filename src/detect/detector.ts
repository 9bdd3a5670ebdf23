import type { Frame } from '../camera/frame.js';
import type { FrameLimit, ModelInput, TileGrid } from './geometry.js';

/** A person found in a frame. `box` is [x1, y1, x2, y2] in frame pixels. */
export interface Detection {
  score: number;
  box: [number, number, number, number];
}

/**
 * How a detector covers a frame: `off` one pass over the whole frame (a fixed square model letterboxes it, a
 * dynamic one runs at the frame's aspect ratio), `auto` overlapping tiles chosen from the frame's aspect ratio,
 * or an explicit grid.
 */
export type TileSetting = 'off' | 'auto' | TileGrid;

/** Per-call choices (a room may set its own tiles). */
export interface DetectOptions {
  tiles?: TileSetting;
}

/** Anything that turns a frame into person detections: a model, tiled as the room asks. */
export interface Detector {
  /** Model name, e.g. "rtmdet-nano". */
  readonly model: string;
  /** Compute backend actually used, e.g. "wasm", "tensorflow", "onnxruntime-cpu". */
  readonly backend: string;
  /** The model's input: fixed square size, or dynamic with the short side it runs at. */
  readonly input: ModelInput;
  /** Tiles used when a call does not say. */
  readonly tiles: TileSetting;
  /** Detections below this score are not returned. */
  readonly minScore: number;
  /** The largest frame worth decoding for these options (cameras scale to it; never larger than needed). */
  frameLimit(opts?: DetectOptions): FrameLimit;
  /** Person detections with score >= minScore, merged across tiles, in the pixels of `frame`. */
  detect(frame: Frame, opts?: DetectOptions): Promise<Detection[]>;
  dispose(): Promise<void>;
}

/**
 * One person model (one plugin file per model): runs on a whole frame it is given — a camera frame or a tile
 * cut from one — sizing it to its input as the model's recipe says, and returns boxes in that frame's pixels
 * with score >= the minScore it was loaded with, after its own NMS.
 */
export interface PersonModel {
  readonly model: string;
  readonly backend: string;
  readonly input: ModelInput;
  /** What the "person detector loaded" log line says besides model and backend (its file, threads, input). */
  readonly details?: Readonly<Record<string, unknown>>;
  detect(frame: Frame): Promise<Detection[]>;
  dispose(): Promise<void>;
}

/**
 * The same detector with `detect` replaced (to time, record or count its calls); everything else is the inner
 * one's. `detect` gets the inner detector's own detect to call.
 */
export function withDetect(
  inner: Detector,
  detect: (frame: Frame, opts: DetectOptions | undefined, run: Detector['detect']) => Promise<Detection[]>,
): Detector {
  return {
    model: inner.model,
    backend: inner.backend,
    input: inner.input,
    tiles: inner.tiles,
    minScore: inner.minScore,
    frameLimit: (opts) => inner.frameLimit(opts),
    detect: (frame, opts) => detect(frame, opts, (f, o) => inner.detect(f, o)),
    dispose: () => inner.dispose(),
  };
}

/** Loaders refuse a threshold outside 0..1 (the config and the flags check it too, with their place). */
export function checkMinScore(minScore: number): void {
  if (!(minScore >= 0 && minScore <= 1)) throw new Error(`minScore must be within 0..1, got ${minScore}`);
}

/**
 * A model's runtime handle (an onnxruntime session, a tfjs graph) until `dispose`, which releases it once; using
 * the model after that is an error naming it.
 */
export class ModelHandle<T> {
  #value: T | undefined;

  constructor(
    private readonly model: string,
    value: T,
    private readonly release: (value: T) => unknown,
  ) {
    this.#value = value;
  }

  get(): T {
    if (this.#value === undefined) throw new Error(`${this.model} detector used after dispose()`);
    return this.#value;
  }

  async dispose(): Promise<void> {
    const value = this.#value;
    this.#value = undefined;
    if (value !== undefined) await this.release(value);
  }
}
