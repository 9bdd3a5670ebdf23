import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

type ModelJSON = tf.io.ModelJSON;
type WeightsManifestConfig = tf.io.WeightsManifestConfig;
type WeightsManifestEntry = tf.io.WeightsManifestEntry;

/** Bytes per stored value, by dtype (quantised weights use their quantisation dtype). */
const BYTES_PER_VALUE: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  float16: 2,
  uint16: 2,
  uint8: 1,
};

/**
 * A tf.io.IOHandler that loads a TensorFlow.js model (graph or layers) from a local `model.json` and the
 * weight shard files its weightsManifest lists, relative to the JSON's folder. Works without
 * @tensorflow/tfjs-node (whose file:// handler we would otherwise need). Every error names the file.
 *
 * Usage: `await loadGraphModel(fileModelHandler('models/x/model.json'))`.
 */
export function fileModelHandler(modelJsonPath: string): tf.io.IOHandler {
  const jsonPath = path.resolve(modelJsonPath);
  return { load: () => loadModelArtifacts(jsonPath) };
}

/** Reads `model.json` plus its weight shards into ModelArtifacts (weights concatenated into one ArrayBuffer). */
export async function loadModelArtifacts(modelJsonPath: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = path.resolve(modelJsonPath);
  const modelJson = await readModelJson(jsonPath);
  const dir = path.dirname(jsonPath);
  return tf.io.getModelArtifactsForJSON(modelJson, async (manifest: WeightsManifestConfig) => {
    const shards: Uint8Array[] = [];
    for (const [g, group] of manifest.entries()) {
      const files = group.paths.map((p) => path.resolve(dir, p));
      const groupShards = await Promise.all(files.map((file) => readShard(file, jsonPath)));
      const actual = groupShards.reduce((n, s) => n + s.byteLength, 0);
      const expected = expectedGroupBytes(group.weights);
      if (expected !== undefined && actual !== expected) {
        const sizes = files.map((f, i) => `${f} (${groupShards[i]?.byteLength ?? 0} bytes)`).join(', ');
        const one = files.length === 1;
        throw new Error(
          `weights file${one ? '' : 's'} ${sizes} ${one ? 'does' : 'do'} not match ${jsonPath}: ` +
            `weightsManifest[${g}] needs ${expected} bytes${one ? '' : ' in total'} (truncated or wrong file?)`,
        );
      }
      shards.push(...groupShards);
    }
    return [tf.io.getWeightSpecs(manifest), concat(shards)];
  });
}

async function readModelJson(jsonPath: string): Promise<ModelJSON> {
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (err) {
    throw new Error(`cannot read model file ${jsonPath}: ${fsReason(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`model file ${jsonPath} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(parsed) || !isObject(parsed.modelTopology)) {
    throw new Error(`model file ${jsonPath} has no modelTopology object; is it a TensorFlow.js model.json?`);
  }
  const manifest = parsed.weightsManifest;
  if (manifest !== undefined && manifest !== null) {
    const ok =
      Array.isArray(manifest) &&
      manifest.every(
        (g: unknown) =>
          isObject(g) &&
          Array.isArray(g.paths) &&
          g.paths.every((p: unknown) => typeof p === 'string' && p.length > 0) &&
          Array.isArray(g.weights) &&
          g.weights.every(
            (w: unknown) =>
              isObject(w) &&
              typeof w.name === 'string' &&
              Array.isArray(w.shape) &&
              typeof w.dtype === 'string',
          ),
      );
    if (!ok) {
      throw new Error(
        `model file ${jsonPath} has a malformed weightsManifest (expected [{paths: string[], weights: [{name, shape, dtype}]}])`,
      );
    }
  }
  return parsed as unknown as ModelJSON;
}

async function readShard(file: string, jsonPath: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`cannot read weights file ${file} (listed in ${jsonPath}): ${fsReason(err)}`, {
      cause: err,
    });
  }
}

/** Byte size a weights group must have, or undefined when it cannot be known (string tensors, unknown dtype). */
function expectedGroupBytes(weights: WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const w of weights) {
    const dtype = w.quantization?.dtype ?? w.dtype;
    const bytes = BYTES_PER_VALUE[dtype];
    if (bytes === undefined) return undefined;
    total += w.shape.reduce((n, d) => n * d, 1) * bytes;
  }
  return total;
}

/**
 * One fresh ArrayBuffer holding all shards back to back. (tf.io.concatenateArrayBuffers is deprecated, and its
 * replacement CompositeArrayBuffer.join needs exact-size ArrayBuffers, i.e. one more copy of Node's pooled
 * Buffers; this copies once.)
 */
function concat(parts: Uint8Array[]): ArrayBuffer {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out.buffer;
}

function fsReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
