import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Frame } from '../camera/frame.js';
import { readModelFile, verifySha256 } from './model-file.js';

/**
 * What the ONNX person models share: loading a verified model file into onnxruntime-node's CPU provider, and
 * turning an RGB frame into the planar BGR float tensor their recipes ask for.
 */

/** onnxruntime intra-op threads; default 1 so several cameras' ffmpeg decoders keep the other cores. */
export const ORT_THREADS_ENV = 'ROOMCOUNT_ORT_THREADS';

export interface OnnxModelFile {
  file: string;
  /** The model's name, as `detector.model` and `roomcount models fetch` know it. */
  model: string;
  /** sha256 (hex) of the model's pinned file (src/detect/models.ts). */
  pinned: string;
  /** Expected sha256 instead (detector.sha256: an export of one's own). */
  sha256?: string;
  threads?: number;
}

/**
 * Reads a model file, checks its sha256 (`sha256`, else the pinned one; the error says how to get the right file),
 * and opens a CPU session on the verified bytes
 * with `threads` intra-op threads (default ROOMCOUNT_ORT_THREADS, else 1). onnxruntime's own warnings
 * (e.g. about initializers listed as inputs in older exports) are silenced: they are about the export, not
 * about anything a user can change.
 */
export async function openOnnxModel(
  opts: OnnxModelFile,
): Promise<{ session: ort.InferenceSession; file: string; threads: number }> {
  const file = path.resolve(opts.file);
  const threads = opts.threads ?? threadsFromEnv();
  const bytes = await readModelFile(file);
  const expected = opts.sha256 ?? opts.pinned;
  verifySha256(
    file,
    bytes,
    expected,
    expected === opts.pinned
      ? `\`roomcount models fetch ${opts.model}\` installs the right file; for an export of your own, set detector.sha256`
      : 'the expected value is detector.sha256',
  );
  try {
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    return { session, file, threads };
  } catch (err) {
    throw new Error(`model file ${file} is not a usable ONNX model: ${oneLine(err)}`, { cause: err });
  }
}

/** Runs a session on one [1, 3, H, W] float input and returns the named outputs (all must be present). */
export async function runOnnx(
  session: ort.InferenceSession,
  inputName: string,
  data: Float32Array,
  size: { width: number; height: number },
  outputs: readonly string[],
): Promise<Record<string, ort.Tensor>> {
  const input = new ort.Tensor('float32', data, [1, 3, size.height, size.width]);
  const result = await session.run({ [inputName]: input });
  for (const name of outputs) {
    if (!result[name]) throw new Error(`the model gave no output named "${name}"`);
  }
  return result;
}

export function threadsFromEnv(): number {
  const value = process.env[ORT_THREADS_ENV]?.trim();
  if (!value) return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new Error(`${ORT_THREADS_ENV}="${value}" must be a whole number of threads from 1 to 64`);
  }
  return n;
}

export function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
}

/** How a model wants its input tensor made from a frame. */
export interface PlanarSpec {
  /** Tensor width and height. */
  width: number;
  height: number;
  /**
   * `letterbox`: scaled by r = min(width / w, height / h) to floor(w r) × floor(h r), at the top-left, the rest
   * padded; `stretch`: scaled to fill width × height (aspect not kept).
   */
  fit: 'letterbox' | 'stretch';
  /** Raw 0..255 value of the padding, before normalisation. */
  pad: number;
  /** Per plane (B, G, R): value = (pixel - mean) / std. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export interface PlanarInput {
  /** [3, height, width] planes B, G, R. */
  data: Float32Array;
  /** Input pixels per frame pixel along x and y (equal for letterbox: r). */
  scaleX: number;
  scaleY: number;
  /** Size of the picture inside the input (the rest is padding). */
  width: number;
  height: number;
}

/**
 * A frame as planar BGR floats: resized with bilinear interpolation as cv2.resize(INTER_LINEAR) does it
 * (half-pixel centres, edge clamped, no antialiasing) — the preprocessing of the models' reference code — or
 * copied when it already has the target size. `into` is reused when it has the right length.
 */
export function planarInput(frame: Frame, spec: PlanarSpec, into?: Float32Array): PlanarInput {
  const { width: W, height: H, data: src } = frame;
  const { width: TW, height: TH } = spec;
  let w: number, h: number, scaleX: number, scaleY: number;
  if (spec.fit === 'letterbox') {
    const r = Math.min(TW / W, TH / H);
    w = Math.max(1, Math.min(TW, Math.floor(W * r)));
    h = Math.max(1, Math.min(TH, Math.floor(H * r)));
    scaleX = scaleY = r;
  } else {
    [w, h, scaleX, scaleY] = [TW, TH, TW / W, TH / H];
  }
  const plane = TW * TH;
  const out = into?.length === 3 * plane ? into : new Float32Array(3 * plane);
  const [mb, mg, mr] = spec.mean;
  const [sb, sg, sr] = spec.std;
  const [kb, kg, kr] = [1 / sb, 1 / sg, 1 / sr];
  if (w < TW || h < TH) {
    out.fill((spec.pad - mb) * kb, 0, plane);
    out.fill((spec.pad - mg) * kg, plane, 2 * plane);
    out.fill((spec.pad - mr) * kr, 2 * plane, 3 * plane);
  }
  if (w === W && h === H) {
    // Already the right size (the camera scaled it): a copy through one table per channel, no interpolation.
    const lr = channelTable(mr, kr);
    const lg = channelTable(mg, kg);
    const lb = channelTable(mb, kb);
    const [pr, pg] = [2 * plane, plane];
    for (let y = 0, i = 0; y < h; y++) {
      for (let o = y * TW, end = o + w; o < end; o++, i += 3) {
        out[pr + o] = lr[src[i]!]!;
        out[pg + o] = lg[src[i + 1]!]!;
        out[o] = lb[src[i + 2]!]!;
      }
    }
    return { data: out, scaleX, scaleY, width: w, height: h };
  }
  // cv2 maps destination pixel centres with the ratio of the sizes (not r), so the edges line up exactly.
  const xs = axisTaps(W, w);
  const ys = axisTaps(H, h);
  for (let y = 0; y < h; y++) {
    const row0 = ys.i0[y]! * W;
    const row1 = ys.i1[y]! * W;
    const fy = ys.f[y]!;
    for (let x = 0; x < w; x++) {
      const a = (row0 + xs.i0[x]!) * 3;
      const b = (row0 + xs.i1[x]!) * 3;
      const c = (row1 + xs.i0[x]!) * 3;
      const d = (row1 + xs.i1[x]!) * 3;
      const fx = xs.f[x]!;
      const o = y * TW + x;
      // RGB in, BGR out: channel ch goes to plane 2 - ch.
      let top = src[a]! + (src[b]! - src[a]!) * fx;
      let bottom = src[c]! + (src[d]! - src[c]!) * fx;
      out[2 * plane + o] = (top + (bottom - top) * fy - mr) * kr;
      top = src[a + 1]! + (src[b + 1]! - src[a + 1]!) * fx;
      bottom = src[c + 1]! + (src[d + 1]! - src[c + 1]!) * fx;
      out[plane + o] = (top + (bottom - top) * fy - mg) * kg;
      top = src[a + 2]! + (src[b + 2]! - src[a + 2]!) * fx;
      bottom = src[c + 2]! + (src[d + 2]! - src[c + 2]!) * fx;
      out[o] = (top + (bottom - top) * fy - mb) * kb;
    }
  }
  return { data: out, scaleX, scaleY, width: w, height: h };
}

/** (v - mean) × k for every byte value v. */
function channelTable(mean: number, k: number): Float32Array {
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = (v - mean) * k;
  return table;
}

/** For each destination index along one axis: the two source indices and the weight of the second. */
function axisTaps(srcLen: number, dstLen: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(dstLen);
  const i1 = new Int32Array(dstLen);
  const f = new Float32Array(dstLen);
  const ratio = srcLen / dstLen;
  for (let i = 0; i < dstLen; i++) {
    let s = (i + 0.5) * ratio - 0.5;
    if (s < 0) s = 0;
    let lo = Math.floor(s);
    let frac = s - lo;
    if (lo >= srcLen - 1) {
      lo = srcLen - 1;
      frac = 0;
    }
    i0[i] = lo;
    i1[i] = Math.min(lo + 1, srcLen - 1);
    f[i] = frac;
  }
  return { i0, i1, f };
}
