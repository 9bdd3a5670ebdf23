import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createDetector } from '../src/detect/index.js';
import {
  autoCandidates,
  defaultMinScore,
  defaultModelsDir,
  modelDescriptor,
  MODELS_DIR_ENV,
} from '../src/detect/models.js';
import { createLogger } from '../src/log.js';

/** `detector.model: auto`: the most accurate installed model (rtmdet-nano, yolox-nano, nanodet-plus), else centernet. */
const SHARED = path.resolve('../shared/models');
const haveShared = existsSync(path.join(SHARED, 'rtmdet_nano_person.onnx'));
if (!haveShared) console.warn(`auto-model.test.ts: ${SHARED} not found; skipping the tests that load models`);

const folder = (...files: string[]) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'roomcount-auto-'));
  for (const f of files) writeFileSync(path.join(dir, f), 'placeholder');
  return dir;
};

describe('auto: which model', () => {
  it('takes the most accurate installed model, else the bundled centernet', () => {
    const names = (dir: string) => autoCandidates(dir).map((d) => d.name);
    expect(names(folder())).toEqual(['centernet']);
    expect(names(folder('yolox_nano.onnx'))).toEqual(['yolox-nano', 'centernet']);
    expect(names(folder('yolox_nano.onnx', 'rtmdet_nano_person.onnx'))).toEqual([
      'rtmdet-nano',
      'yolox-nano',
      'centernet',
    ]);
    expect(names(folder('nanodet_plus_m_416.onnx', 'rtmdet_nano_person.onnx'))).toEqual([
      'rtmdet-nano',
      'nanodet-plus',
      'centernet',
    ]);
    // Unrelated files do not count.
    expect(names(folder('other.onnx', 'README.md'))).toEqual(['centernet']);
  });

  it('the models folder is $ROOMCOUNT_MODELS_DIR, else models/ in roomcount’s own folder', () => {
    const saved = process.env[MODELS_DIR_ENV];
    try {
      delete process.env[MODELS_DIR_ENV];
      expect(defaultModelsDir()).toBe(path.resolve('models'));
      process.env[MODELS_DIR_ENV] = 'some/where';
      expect(defaultModelsDir()).toBe(path.resolve('some/where'));
    } finally {
      if (saved === undefined) delete process.env[MODELS_DIR_ENV];
      else process.env[MODELS_DIR_ENV] = saved;
    }
  });
});

describe.skipIf(!haveShared)('auto: loading', () => {
  const lines: { msg: string; model?: string; level: number }[] = [];
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    }),
  });

  it('loads the best installed model, says so once, and uses its own threshold', async () => {
    const dir = folder();
    copyFileSync(path.join(SHARED, 'rtmdet_nano_person.onnx'), path.join(dir, 'rtmdet_nano_person.onnx'));
    copyFileSync(path.join(SHARED, 'yolox_nano.onnx'), path.join(dir, 'yolox_nano.onnx'));
    lines.length = 0;
    const detector = await createDetector({ model: 'auto', modelsDir: dir }, log);
    try {
      expect(detector.model).toBe('rtmdet-nano');
      expect(detector.minScore).toBe(defaultMinScore(modelDescriptor('rtmdet-nano')));
      expect(lines.filter((l) => l.msg.startsWith('detector.model auto: using rtmdet-nano'))).toHaveLength(1);
      const yolox = await createDetector({ model: 'auto', modelsDir: dir, minScore: 0.5 }, log);
      expect(yolox.minScore).toBe(0.5); // an explicit threshold wins
      await yolox.dispose();
    } finally {
      await detector.dispose();
    }
  });

  it('a damaged file gives way to the next model, with an error logged', async () => {
    const dir = folder('rtmdet_nano_person.onnx'); // not the pinned file
    copyFileSync(path.join(SHARED, 'yolox_nano.onnx'), path.join(dir, 'yolox_nano.onnx'));
    lines.length = 0;
    const detector = await createDetector({ model: 'auto', modelsDir: dir }, log);
    try {
      expect(detector.model).toBe('yolox-nano');
      const error = lines.find((l) => l.level === 50);
      expect(error).toMatchObject({ model: 'rtmdet-nano' });
      expect(error!.msg).toContain('is installed but does not load; trying the next model');
    } finally {
      await detector.dispose();
    }
  });

  it('explicit model names keep working', async () => {
    const detector = await createDetector({
      model: 'yolox-nano',
      modelPath: path.join(SHARED, 'yolox_nano.onnx'),
    });
    expect(detector.model).toBe('yolox-nano');
    await detector.dispose();
  });
});

describe('per-model thresholds', () => {
  it('rtmdet-nano’s rises with its input size, interpolated between the sizes measured', () => {
    const d = modelDescriptor('rtmdet-nano');
    expect(defaultMinScore(d)).toBe(0.35); // its default size, 480
    expect([320, 416, 432, 480, 544, 576, 608, 640, 800].map((s) => defaultMinScore(d, s))).toEqual([
      0.325, 0.325, 0.338, 0.35, 0.363, 0.375, 0.4, 0.425, 0.425,
    ]);
    expect(defaultMinScore(modelDescriptor('centernet'), 512)).toBe(0.25);
  });
});
