/** preflight(): what `run` would refuse at start, for check-config too (the CLI side is in check-config.test.ts). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { preflight } from '../src/config/preflight.js';
import { tempDir } from './helpers/media.js';

describe('preflight', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const models = path.join(tmp.dir, 'models');
  mkdirSync(models);
  const room = 'rooms:\n  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 } }\n';
  const check = (head: string) => preflight(parseConfig(`${head}\n${room}`, 'rooms.yaml', {}), models);

  it('auto and the bundled model need nothing; a fetched model needs its file in the models folder', () => {
    expect(check('sink: stdout')).toEqual([]);
    expect(check('sink: stdout\ndetector: { model: centernet }')).toEqual([]);
    expect(check('sink: stdout\ndetector: { model: nanodet-plus }')).toEqual([
      {
        path: ['detector', 'model'],
        message: expect.stringMatching(
          /^nanodet_plus_m_416\.onnx is not installed in .*models fetch nanodet-plus/,
        ),
      },
    ]);
    writeFileSync(path.join(models, 'nanodet_plus_m_416.onnx'), 'not a model, just text\n'.repeat(100));
    expect(check('sink: stdout\ndetector: { model: nanodet-plus }')[0]?.message).toMatch(
      /is not an ONNX model/,
    );
  });

  it('coco-ssd has no default weights: it needs modelPath (a folder with model.json) or modelUrl', () => {
    expect(check('sink: stdout\ndetector: { model: coco-ssd }')).toEqual([
      {
        path: ['detector', 'model'],
        message: 'coco-ssd has no default weights: set detector.modelPath (or detector.modelUrl)',
      },
    ]);
    expect(
      check('sink: stdout\ndetector: { model: coco-ssd, modelUrl: "https://example.com/model.json" }'),
    ).toEqual([]);
    expect(check(`sink: stdout\ndetector: { model: coco-ssd, modelPath: ${tmp.dir} }`)[0]?.message).toBe(
      `${tmp.dir} holds no model.json`,
    );
  });

  it('the outbox folder is checked only when the calven sink uses it', () => {
    expect(check('sink: stdout\nstateDir: /proc/1/nope')).toEqual([]);
    const calven = 'sink: calven\ncalven: { auth: { type: oauth, clientId: c, clientSecret: s } }';
    expect(check(`${calven}\nstateDir: /sys/kernel/nope`)).toEqual([
      {
        path: ['stateDir'],
        message: '/sys/kernel/nope is under /sys, not a folder on disk: use one such as ./state',
      },
    ]);
  });

  it('a model.json must be one: JSON with a graph and a weights manifest', () => {
    const dir = path.join(tmp.dir, 'json');
    mkdirSync(dir);
    const notes = path.join(dir, 'notes.json');
    writeFileSync(notes, 'hello');
    const other = path.join(dir, 'other.json');
    writeFileSync(other, '{"name": "not a model"}');
    const good = path.join(dir, 'model.json');
    writeFileSync(good, '{"modelTopology": {}, "weightsManifest": []}');
    const at = (p: string) => check(`sink: stdout\ndetector: { model: centernet, modelPath: ${p} }`);
    expect(at(notes)).toEqual([
      { path: ['detector', 'modelPath'], message: `${notes} is not a tfjs model.json: not JSON` },
    ]);
    expect(at(other)[0]?.message).toBe(
      `${other} is not a tfjs model.json (no modelTopology and weightsManifest)`,
    );
    expect(at(good)).toEqual([]);
    expect(at(dir)[0]?.message).toBe(`${dir} is a folder; name the model.json file in it`);
  });
});
