import type { Frame } from '../camera/frame.js';

/** A person found in a frame. `box` is [x1, y1, x2, y2] in frame pixels. */
export interface Detection {
  score: number;
  box: [number, number, number, number];
}

/** Anything that turns a frame into person detections (one plugin file per model). */
export interface Detector {
  /** Model name as configured, e.g. "centernet". */
  readonly model: string;
  /** Compute backend actually used, e.g. "wasm", "tensorflow", "onnxruntime-cpu". */
  readonly backend: string;
  /** Preferred input size; frame sources may scale to it to save decode and copy work. */
  readonly inputSize: { width: number; height: number };
  /** Person detections with score >= minScore, after NMS. */
  detect(frame: Frame): Promise<Detection[]>;
  dispose(): Promise<void>;
}
