import { mkdir, mkdtemp, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initTfBackend } from '../src/detect/backend.js';
import { fileModelHandler, loadModelArtifacts } from '../src/detect/file-io.js';

/**
 * A tiny hand-written TF graph: out = x * w + b, x: float32 [-1, 3].
 * - w = [2, 3, 4] (float32, 12 bytes) is split across two shard files in the middle of a value, so the
 *   handler must concatenate bytes, not values;
 * - b = [0, 1, 2] is uint8-quantised (q = [2, 4, 6], scale 0.5, min -1; 3 bytes) in a second weights group
 *   whose shard lives in a sub-folder.
 */
const modelJson = {
  format: 'graph-model',
  generatedBy: 'roomcount test',
  convertedBy: null,
  modelTopology: {
    node: [
      {
        name: 'x',
        op: 'Placeholder',
        attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '3' }] } } },
      },
      {
        name: 'w',
        op: 'Const',
        attr: {
          dtype: { type: 'DT_FLOAT' },
          value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '3' }] } } },
        },
      },
      {
        name: 'b',
        op: 'Const',
        attr: {
          dtype: { type: 'DT_FLOAT' },
          value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '3' }] } } },
        },
      },
      { name: 'mul', op: 'Mul', input: ['x', 'w'], attr: { T: { type: 'DT_FLOAT' } } },
      { name: 'out', op: 'AddV2', input: ['mul', 'b'], attr: { T: { type: 'DT_FLOAT' } } },
    ],
    library: {},
    versions: {},
  },
  weightsManifest: [
    { paths: ['w-1of2.bin', 'w-2of2.bin'], weights: [{ name: 'w', shape: [3], dtype: 'float32' }] },
    {
      paths: ['sub/b.bin'],
      weights: [
        { name: 'b', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
      ],
    },
  ],
};

let root: string;
let dir: string;
let jsonPath: string;
let counter = 0;

beforeAll(async () => {
  await initTfBackend();
  root = await mkdtemp(path.join(tmpdir(), 'roomcount-file-io-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

// A fresh copy of the model per test, so failure cases can break their own copy.
beforeEach(async () => {
  dir = path.join(root, `m${counter++}`);
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  jsonPath = path.join(dir, 'model.json');
  const w = new Uint8Array(new Float32Array([2, 3, 4]).buffer);
  await writeFile(jsonPath, JSON.stringify(modelJson));
  await writeFile(path.join(dir, 'w-1of2.bin'), w.subarray(0, 5));
  await writeFile(path.join(dir, 'w-2of2.bin'), w.subarray(5));
  await writeFile(path.join(dir, 'sub', 'b.bin'), new Uint8Array([2, 4, 6]));
});

describe('fileModelHandler', () => {
  it('loads a sharded graph model that tf.loadGraphModel can run', async () => {
    const model = await loadGraphModel(fileModelHandler(jsonPath));
    try {
      const before = tf.memory().numTensors;
      const x = tf.tensor2d(
        [
          [1, 1, 1],
          [10, 20, 30],
        ],
        [2, 3],
      );
      const y = model.execute(x) as tf.Tensor;
      expect(y.shape).toEqual([2, 3]);
      expect(Array.from(await y.data())).toEqual([2, 4, 6, 20, 61, 122]);
      tf.dispose([x, y]);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('returns the artifacts: topology, specs of all groups, and the shards concatenated in order', async () => {
    const artifacts = await loadModelArtifacts(jsonPath);
    expect(artifacts.format).toBe('graph-model');
    expect(artifacts.modelTopology).toEqual(modelJson.modelTopology);
    expect(artifacts.weightSpecs?.map((s) => s.name)).toEqual(['w', 'b']);
    const data = artifacts.weightData;
    expect(data).toBeInstanceOf(ArrayBuffer);
    const bytes = new Uint8Array(data as ArrayBuffer);
    expect(bytes.byteLength).toBe(15);
    expect(Array.from(new Float32Array(bytes.slice(0, 12).buffer))).toEqual([2, 3, 4]);
    expect(Array.from(bytes.slice(12))).toEqual([2, 4, 6]);
  });

  it('loads a model without weights', async () => {
    await writeFile(jsonPath, JSON.stringify({ ...modelJson, weightsManifest: undefined }));
    const artifacts = await loadModelArtifacts(jsonPath);
    expect(artifacts.weightSpecs).toBeUndefined();
    expect(artifacts.weightData).toBeUndefined();
  });

  it('names a missing model.json', async () => {
    const missing = path.join(dir, 'nope', 'model.json');
    await expect(loadGraphModel(fileModelHandler(missing))).rejects.toThrow(
      `cannot read model file ${missing}: file not found`,
    );
  });

  it('names a model.json that is not JSON', async () => {
    await writeFile(jsonPath, '{"modelTopology": {"node": [');
    await expect(loadGraphModel(fileModelHandler(jsonPath))).rejects.toThrow(
      new RegExp(`^model file ${escape(jsonPath)} is not valid JSON: `),
    );
  });

  it('names a model.json that is JSON but not a model', async () => {
    await writeFile(jsonPath, JSON.stringify({ hello: 'world' }));
    await expect(loadModelArtifacts(jsonPath)).rejects.toThrow(`model file ${jsonPath} has no modelTopology`);
    await writeFile(jsonPath, JSON.stringify({ ...modelJson, weightsManifest: [{ paths: 'x.bin' }] }));
    await expect(loadModelArtifacts(jsonPath)).rejects.toThrow(
      `model file ${jsonPath} has a malformed weightsManifest`,
    );
  });

  it('names a missing weights file and the model.json listing it', async () => {
    const shard = path.join(dir, 'sub', 'b.bin');
    await unlink(shard);
    await expect(loadGraphModel(fileModelHandler(jsonPath))).rejects.toThrow(
      `cannot read weights file ${shard} (listed in ${jsonPath}): file not found`,
    );
  });

  it('names a truncated weights file and gives the sizes', async () => {
    const shard1 = path.join(dir, 'w-1of2.bin');
    const shard2 = path.join(dir, 'w-2of2.bin');
    await truncate(shard2, 3);
    const err = await loadGraphModel(fileModelHandler(jsonPath)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(
      `weights files ${shard1} (5 bytes), ${shard2} (3 bytes) do not match ${jsonPath}: ` +
        'weightsManifest[0] needs 12 bytes in total (truncated or wrong file?)',
    );
  });

  it('rejects a weights file that is too long', async () => {
    const shard = path.join(dir, 'sub', 'b.bin');
    await writeFile(shard, new Uint8Array(4));
    await expect(loadModelArtifacts(jsonPath)).rejects.toThrow(
      `weights file ${shard} (4 bytes) does not match ${jsonPath}: weightsManifest[1] needs 3 bytes (truncated`,
    );
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
