import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A tiny TensorFlow.js graph model with coco-ssd's signature, written by hand so coco-ssd's own loading and
 * postprocessing can be tested without its (unfetchable) weights:
 *
 *   image_tensor  int32 [-1, -1, -1, 3]           (like the real model: any size, 0..255)
 *   Postprocessor/Slice        float32 [1, N, 90]  class scores (index 0 = person)
 *   Postprocessor/ExpandDims_1 float32 [1, N, 1, 4] boxes, normalised [ymin, xmin, ymax, xmax]
 *
 * Scores = the score table x the mean brightness of the picture / 255, so a white frame yields the table
 * as is and a black one yields nothing. Both tables are weights in weights.bin (read through the file
 * IOHandler), not inline constants.
 */
export interface SsdAnchor {
  /** Normalised [ymin, xmin, ymax, xmax], as the real model outputs. */
  box: [number, number, number, number];
  /** Sparse class scores: COCO-SSD class index (0 = person, 2 = car) → score for a white frame. */
  scores: Record<number, number>;
}

export const SSD_CLASSES = 90;

export function tinySsdModel(anchors: readonly SsdAnchor[]): { modelJson: object; weights: Uint8Array } {
  const n = anchors.length;
  const scoreTable = new Float32Array(n * SSD_CLASSES);
  const boxTable = new Float32Array(n * 4);
  anchors.forEach((a, i) => {
    for (const [cls, s] of Object.entries(a.scores)) scoreTable[i * SSD_CLASSES + Number(cls)] = s;
    boxTable.set(a.box, i * 4);
  });
  const axes = new Int32Array([1, 2, 3]);
  const scale = new Float32Array([1 / 255]);
  const boxShape = new Int32Array([1, n, 1, 4]);
  const floor = new Float32Array([-1]);
  const weightsData = [scoreTable, boxTable, axes, scale, boxShape, floor];
  const bytes = new Uint8Array(weightsData.reduce((s, w) => s + w.byteLength, 0));
  let offset = 0;
  for (const w of weightsData) {
    bytes.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), offset);
    offset += w.byteLength;
  }
  const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
  const constNode = (name: string, dtype: 'DT_FLOAT' | 'DT_INT32', shape: number[]) => ({
    name,
    op: 'Const',
    attr: { value: { tensor: { dtype, tensorShape: dims(shape) } }, dtype: { type: dtype } },
  });
  const F = { type: 'DT_FLOAT' };
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'roomcount test/helpers/ssd-model.ts',
    convertedBy: 'hand-written',
    modelTopology: {
      node: [
        {
          name: 'image_tensor',
          op: 'Placeholder',
          attr: { dtype: { type: 'DT_INT32' }, shape: { shape: dims([-1, -1, -1, 3]) } },
        },
        constNode('score_table', 'DT_FLOAT', [1, n, SSD_CLASSES]),
        constNode('box_table', 'DT_FLOAT', [1, n, 1, 4]),
        constNode('mean_axes', 'DT_INT32', [3]),
        constNode('to_unit', 'DT_FLOAT', [1]),
        constNode('box_shape', 'DT_INT32', [4]),
        constNode('floor', 'DT_FLOAT', [1]),
        {
          name: 'to_float',
          op: 'Cast',
          input: ['image_tensor'],
          attr: { SrcT: { type: 'DT_INT32' }, DstT: F, Truncate: { b: false } },
        },
        {
          name: 'brightness',
          op: 'Mean',
          input: ['to_float', 'mean_axes'],
          attr: { keep_dims: { b: true }, T: F, Tidx: { type: 'DT_INT32' } },
        },
        { name: 'gain', op: 'Mul', input: ['brightness', 'to_unit'], attr: { T: F } },
        {
          name: 'gain3',
          op: 'Squeeze',
          input: ['gain'],
          attr: { T: F, squeeze_dims: { list: { i: ['3'] } } },
        },
        { name: 'Postprocessor/Slice', op: 'Mul', input: ['score_table', 'gain3'], attr: { T: F } },
        // Boxes go through Where (a dynamic-shape op, as in the real graph, which needs executeAsync):
        // gather every box value >= -1 (all of them) and reshape back to [1, N, 1, 4].
        { name: 'all_valid', op: 'GreaterEqual', input: ['box_table', 'floor'], attr: { T: F } },
        { name: 'valid_at', op: 'Where', input: ['all_valid'], attr: { T: { type: 'DT_BOOL' } } },
        {
          name: 'gathered',
          op: 'GatherNd',
          input: ['box_table', 'valid_at'],
          attr: { Tparams: F, Tindices: { type: 'DT_INT64' } },
        },
        {
          name: 'Postprocessor/ExpandDims_1',
          op: 'Reshape',
          input: ['gathered', 'box_shape'],
          attr: { T: F, Tshape: { type: 'DT_INT32' } },
        },
      ],
      versions: { producer: 1 },
      library: {},
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'score_table', shape: [1, n, SSD_CLASSES], dtype: 'float32' },
          { name: 'box_table', shape: [1, n, 1, 4], dtype: 'float32' },
          { name: 'mean_axes', shape: [3], dtype: 'int32' },
          { name: 'to_unit', shape: [1], dtype: 'float32' },
          { name: 'box_shape', shape: [4], dtype: 'int32' },
          { name: 'floor', shape: [1], dtype: 'float32' },
        ],
      },
    ],
  };
  return { modelJson, weights: bytes };
}

/** Writes the tiny model to `dir` (model.json + group1-shard1of1.bin) and returns `dir`. */
export function writeTinySsdModel(dir: string, anchors: readonly SsdAnchor[]): string {
  mkdirSync(dir, { recursive: true });
  const { modelJson, weights } = tinySsdModel(anchors);
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  writeFileSync(path.join(dir, 'group1-shard1of1.bin'), weights);
  return dir;
}

/**
 * The anchors the coco-ssd tests use (white frame scores):
 * 0: person 0.9; 1: person 0.6 overlapping 0 (IoU 0.6, suppressed by coco-ssd's NMS); 2: person 0.7;
 * 3: a car 0.8 (person 0.1: not a person); 4: person 0.2 (below 0.3).
 */
export const TEST_ANCHORS: SsdAnchor[] = [
  { box: [0.1, 0.2, 0.5, 0.4], scores: { 0: 0.9 } },
  { box: [0.1, 0.25, 0.5, 0.45], scores: { 0: 0.6 } },
  { box: [0.5, 0.6, 0.9, 0.8], scores: { 0: 0.7, 2: 0.05 } },
  { box: [0.0, 0.0, 0.2, 0.3], scores: { 0: 0.1, 2: 0.8 } },
  { box: [0.7, 0.0, 0.95, 0.1], scores: { 0: 0.2 } },
];
