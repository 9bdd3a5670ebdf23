import { existsSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { evalDataset } from '../src/commands/eval.js';

/**
 * Count accuracy with each model's shipped defaults (threshold, tiles, input size: src/detect/models.ts), the
 * targets of the accuracy issue:
 * - COCO-128 (crowd rows excluded): no model worse than before this work at its shipped threshold — centernet
 *   MAE <= 0.50, yolox-nano <= 0.39 — and rtmdet-nano <= 0.8 (a person specialist; general photos are not its
 *   strength);
 * - classroom.gif frames (4 seated people): exact in >= 95 % of frames, every model.
 * Reads the team's shared copies and the sets `npm run datasets` builds; skips, naming the missing path, without.
 */
const COCO = path.resolve('../shared/datasets/coco128-person');
const CLASSROOM = path.resolve('.cache/datasets/classroom');
const MODELS = path.resolve('../shared/models');
const haveCoco = existsSync(path.join(COCO, 'counts.csv'));
const haveClassroom = existsSync(path.join(CLASSROOM, 'counts.csv'));
if (!haveCoco) console.warn(`accuracy.test.ts: ${COCO} not found; skipping the COCO-128 targets`);
if (!haveClassroom) {
  console.warn(`accuracy.test.ts: ${CLASSROOM} not found (npm run datasets); skipping the classroom targets`);
}

const quiet = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });

const models = [
  { model: 'centernet', file: undefined, cocoMae: 0.5 },
  { model: 'yolox-nano', file: 'yolox_nano.onnx', cocoMae: 0.39 },
  { model: 'rtmdet-nano', file: 'rtmdet_nano_person.onnx', cocoMae: 0.8 },
] as const;

describe.each(models)('count accuracy of $model with its shipped defaults', ({ model, file, cocoMae }) => {
  const modelPath = file && path.join(MODELS, file);
  const haveModel = modelPath === undefined || existsSync(modelPath);
  if (!haveModel) console.warn(`accuracy.test.ts: ${modelPath} not found; skipping ${model}`);

  it.skipIf(!haveCoco || !haveModel)(`COCO-128: MAE <= ${cocoMae}`, { timeout: 180_000 }, async () => {
    const r = await evalDataset({ dataset: COCO, model, modelPath, out: quiet(), err: quiet() });
    expect(r.detector.model).toBe(model);
    expect(r.dataset.excluded).toHaveLength(5);
    expect(r.metrics.n).toBe(123);
    expect(r.metrics.mae).toBeLessThanOrEqual(cocoMae);
  });

  it.skipIf(!haveClassroom || !haveModel)(
    'classroom.gif: exact in >= 95 % of frames',
    { timeout: 180_000 },
    async () => {
      const r = await evalDataset({ dataset: CLASSROOM, model, modelPath, out: quiet(), err: quiet() });
      expect(r.metrics.n).toBe(45);
      expect(r.metrics.exactPct).toBeGreaterThanOrEqual(95);
    },
  );
});
