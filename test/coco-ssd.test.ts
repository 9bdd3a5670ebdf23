import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync, existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../src/camera/frame.js';
import { fetchCocoSsd } from '../src/commands/models.js';
import {
  COCO_SSD_MAX_BOXES,
  cocoSsdModelUrl,
  loadCocoSsd,
  personsFromCocoSsd,
} from '../src/detect/coco-ssd.js';
import type { PersonModel } from '../src/detect/detector.js';
import { createDetector } from '../src/detect/index.js';
import { sha256Hex } from '../src/detect/model-file.js';
import { TEST_ANCHORS, writeTinySsdModel, type SsdAnchor } from './helpers/ssd-model.js';
import { textSink } from './helpers/streams.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'roomcount-ssd-'));
const modelDir = writeTinySsdModel(path.join(tmp, 'tiny'), TEST_ANCHORS);

function solid(width: number, height: number, value: number): Frame {
  return { width, height, data: new Uint8Array(width * height * 3).fill(value), capturedAt: 0 };
}

describe('personsFromCocoSsd', () => {
  it('keeps persons at or above minScore, converts [x, y, w, h] to corners, clamps, sorts by score', () => {
    const objects = [
      { bbox: [10, 20, 30, 40] as [number, number, number, number], class: 'person', score: 0.5 },
      { bbox: [0, 0, 10, 10] as [number, number, number, number], class: 'chair', score: 0.9 },
      { bbox: [90, 50, 20, 80] as [number, number, number, number], class: 'person', score: 0.8 },
      { bbox: [5, 5, 5, 5] as [number, number, number, number], class: 'person', score: 0.29 },
      { bbox: [200, 5, 5, 5] as [number, number, number, number], class: 'person', score: 0.9 }, // outside
    ];
    expect(personsFromCocoSsd(objects, 100, 100, 0.3)).toEqual([
      { score: 0.8, box: [90, 50, 100, 100] },
      { score: 0.5, box: [10, 20, 40, 60] },
    ]);
  });
});

describe('coco-ssd detector on a tiny graph model with its signature', () => {
  let detector: PersonModel;
  beforeAll(async () => {
    detector = await loadCocoSsd({ minScore: 0.3, modelPath: modelDir });
  });
  afterAll(async () => {
    await detector?.dispose();
  });

  it('describes itself', () => {
    expect(detector.model).toBe('coco-ssd');
    expect(detector.backend).toBe(tf.getBackend());
    expect(detector.input).toEqual({ kind: 'fixed', size: 640 });
  });

  it("runs coco-ssd's own postprocessing: best class, NMS, person boxes in frame pixels", async () => {
    // White frame: scores as in TEST_ANCHORS. Anchor 1 overlaps anchor 0 (IoU 0.6) and is suppressed; the car
    // (anchor 3) and the 0.2 person (anchor 4) are dropped.
    const people = await detector.detect(solid(200, 100, 255));
    expect(people.map((p) => Math.round(p.score * 100))).toEqual([90, 70]);
    expect(people[0]!.box).toEqual([40, 10, 80, 50].map((v) => expect.closeTo(v, 3)));
    expect(people[1]!.box).toEqual([120, 50, 160, 90].map((v) => expect.closeTo(v, 3)));
  });

  it('depends on the picture (scores scale with its brightness): grey halves them, black finds nobody', async () => {
    const grey = await detector.detect(solid(64, 48, 128));
    expect(grey.map((p) => p.score)).toEqual([
      expect.closeTo(0.9 * (128 / 255), 4),
      expect.closeTo(0.7 * (128 / 255), 4),
    ]);
    expect(await detector.detect(solid(64, 48, 0))).toEqual([]);
  });

  it('honours minScore', async () => {
    const strict = await loadCocoSsd({
      minScore: 0.8,
      modelPath: path.join(modelDir, 'model.json'),
    });
    try {
      expect((await strict.detect(solid(10, 10, 255))).map((p) => Math.round(p.score * 10))).toEqual([9]);
    } finally {
      await strict.dispose();
    }
  });

  it('does not leak tensors over 100 detect() calls', async () => {
    const frame = solid(64, 48, 255);
    await detector.detect(frame);
    const before = tf.memory();
    for (let i = 0; i < 100; i++) await detector.detect(frame);
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  });

  it('releases its weights on dispose() and refuses to run afterwards', async () => {
    const before = tf.memory().numTensors;
    const d = await loadCocoSsd({ minScore: 0.3, modelPath: modelDir });
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    await d.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(d.detect(solid(8, 8, 255))).rejects.toThrow('after dispose');
  });
});

describe('coco-ssd maxNumBoxes', () => {
  it(`returns up to ${COCO_SSD_MAX_BOXES} people, not coco-ssd's default 20`, async () => {
    // 30 small, separate people on a 6 x 5 grid.
    const anchors: SsdAnchor[] = [];
    for (let r = 0; r < 5; r++) {
      for (let c = 0; c < 6; c++) {
        anchors.push({
          box: [r * 0.2, c * 0.16, r * 0.2 + 0.15, c * 0.16 + 0.1],
          scores: { 0: 0.9 - 0.01 * anchors.length },
        });
      }
    }
    const dir = writeTinySsdModel(path.join(tmp, 'crowd'), anchors);
    const d = await createDetector({ model: 'coco-ssd', minScore: 0.3, modelPath: dir });
    try {
      expect(await d.detect(solid(320, 240, 255))).toHaveLength(30);
    } finally {
      await d.dispose();
    }
  });
});

describe('coco-ssd loading errors name the file', () => {
  it('no weights configured: says how to get them', async () => {
    await expect(createDetector({ model: 'coco-ssd', minScore: 0.3 })).rejects.toThrow(
      'run `roomcount models fetch coco-ssd --dir ./models/coco-ssd` and set detector.modelPath',
    );
    await expect(createDetector({ model: 'coco-ssd', base: 'mobilenet_v2', minScore: 0.3 })).rejects.toThrow(
      `--base mobilenet_v2 --dir ./models/coco-ssd\` and set detector.modelPath: ./models/coco-ssd (or set detector.modelUrl, e.g. ${cocoSsdModelUrl('mobilenet_v2')})`,
    );
  });

  it('missing folder', async () => {
    const missing = path.join(tmp, 'no-such-model');
    await expect(loadCocoSsd({ minScore: 0.3, modelPath: missing })).rejects.toThrow(
      `cannot read model path ${missing}: file not found`,
    );
  });

  it('folder without model.json', async () => {
    const empty = mkdtempSync(path.join(tmp, 'empty-'));
    await expect(loadCocoSsd({ minScore: 0.3, modelPath: empty })).rejects.toThrow(
      `cannot read model file ${path.join(empty, 'model.json')}: file not found`,
    );
  });

  it('corrupt model.json', async () => {
    const dir = path.join(tmp, 'corrupt-json');
    cpSync(modelDir, dir, { recursive: true });
    writeFileSync(path.join(dir, 'model.json'), '{"modelTopology": {"node": [');
    await expect(loadCocoSsd({ minScore: 0.3, modelPath: dir })).rejects.toThrow(
      `model file ${path.join(dir, 'model.json')} is not valid JSON`,
    );
  });

  it('missing or truncated weights file', async () => {
    const dir = path.join(tmp, 'bad-weights');
    cpSync(modelDir, dir, { recursive: true });
    const shard = path.join(dir, 'group1-shard1of1.bin');
    writeFileSync(shard, readFileSync(shard).subarray(0, 100));
    await expect(loadCocoSsd({ minScore: 0.3, modelPath: dir })).rejects.toThrow(
      `weights file ${shard} (100 bytes) does not match`,
    );
    rmSync(shard);
    await expect(loadCocoSsd({ minScore: 0.3, modelPath: dir })).rejects.toThrow(
      `cannot read weights file ${shard}`,
    );
  });

  it('a graph without coco-ssd outputs', async () => {
    const dir = path.join(tmp, 'wrong-graph');
    cpSync(modelDir, dir, { recursive: true });
    const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    // Drop the scores output: only the boxes remain.
    json.modelTopology.node = json.modelTopology.node.filter(
      (n: { name: string }) => n.name !== 'Postprocessor/Slice',
    );
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    await expect(loadCocoSsd({ minScore: 0.3, modelPath: dir })).rejects.toThrow(
      `${path.join(dir, 'model.json')} is not a usable coco-ssd model`,
    );
  });

  it('a file that does not match SHA256SUMS', async () => {
    const dir = path.join(tmp, 'pinned');
    cpSync(modelDir, dir, { recursive: true });
    const shard = path.join(dir, 'group1-shard1of1.bin');
    const json = path.join(dir, 'model.json');
    writeFileSync(
      path.join(dir, 'SHA256SUMS'),
      `${sha256Hex(readFileSync(json))}  model.json\n${'0'.repeat(64)}  group1-shard1of1.bin\n`,
    );
    await expect(loadCocoSsd({ minScore: 0.3, modelPath: dir })).rejects.toThrow(
      `model file ${shard} has sha256 ${sha256Hex(readFileSync(shard))}, expected ${'0'.repeat(64)}`,
    );
    writeFileSync(path.join(dir, 'SHA256SUMS'), 'garbage\n');
    await expect(loadCocoSsd({ minScore: 0.3, modelPath: dir })).rejects.toThrow(
      `${path.join(dir, 'SHA256SUMS')}:1: expected "<64 hex digits>  <file name>"`,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// modelUrl and `roomcount models fetch`, against a local HTTP server (the real weights cannot be fetched here).

describe('coco-ssd over HTTP: detector.modelUrl and models fetch', () => {
  let server: Server;
  let base: string;
  /** Files served, by URL path; tests may swap them. */
  const served = new Map<string, Buffer>();

  beforeAll(async () => {
    for (const f of readdirSync(modelDir)) served.set(`/ssd/${f}`, readFileSync(path.join(modelDir, f)));
    server = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (!body) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it('loads from detector.modelUrl', async () => {
    const d = await createDetector({ model: 'coco-ssd', minScore: 0.3, modelUrl: `${base}/ssd/model.json` });
    try {
      expect(await d.detect(solid(200, 100, 255))).toHaveLength(2);
    } finally {
      await d.dispose();
    }
  });

  it('fetch records SHA256SUMS on the first download, verifies later ones, and the detector loads the folder', async () => {
    const dir = path.join(tmp, 'fetched');
    const out = textSink();
    const first = await fetchCocoSsd({ dir, url: `${base}/ssd/`, out });
    expect(first.verified).toBe(false);
    expect(first.files.map((f) => f.file)).toEqual(['model.json', 'group1-shard1of1.bin']);
    const sums = readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8');
    expect(sums).toBe(first.files.map((f) => `${f.sha256}  ${f.file}\n`).join(''));
    expect(out.text()).toContain('were NOT checked against a');
    expect(out.text()).toContain(`modelPath: ${dir}`);

    const again = textSink();
    const second = await fetchCocoSsd({ dir, url: `${base}/ssd/model.json`, out: again });
    expect(second.verified).toBe(true);
    expect(again.text()).toContain('verified: all 2 files match');

    const d = await createDetector({ model: 'coco-ssd', minScore: 0.3, modelPath: dir });
    try {
      expect(await d.detect(solid(200, 100, 255))).toHaveLength(2);
    } finally {
      await d.dispose();
    }
    expect(readdirSync(dir).sort()).toEqual(['SHA256SUMS', 'group1-shard1of1.bin', 'model.json']);
  });

  it('refuses a download that differs from the pinned SHA256SUMS and leaves the installed files alone', async () => {
    const dir = path.join(tmp, 'fetched-pinned');
    await fetchCocoSsd({ dir, url: `${base}/ssd/`, out: textSink() });
    const before = readFileSync(path.join(dir, 'group1-shard1of1.bin'));
    const original = served.get('/ssd/group1-shard1of1.bin')!;
    const tampered = Buffer.from(original);
    tampered[0] = tampered[0]! ^ 0xff;
    served.set('/ssd/group1-shard1of1.bin', tampered);
    try {
      await expect(fetchCocoSsd({ dir, url: `${base}/ssd/`, out: textSink() })).rejects.toThrow(
        `group1-shard1of1.bin has sha256 ${sha256Hex(tampered)}, pinned ${sha256Hex(original)}`,
      );
    } finally {
      served.set('/ssd/group1-shard1of1.bin', original);
    }
    expect(readFileSync(path.join(dir, 'group1-shard1of1.bin'))).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.startsWith('.fetch-'))).toEqual([]);
  });

  it('reports HTTP errors, truncated shards and unsafe shard paths', async () => {
    const dir = path.join(tmp, 'fetch-errors');
    await expect(fetchCocoSsd({ dir, url: `${base}/missing/`, out: textSink() })).rejects.toThrow(
      `GET ${base}/missing/model.json: HTTP 404 Not Found`,
    );
    const json = JSON.parse(served.get('/ssd/model.json')!.toString('utf8'));
    served.set(
      '/evil/model.json',
      Buffer.from(
        JSON.stringify({
          ...json,
          weightsManifest: [{ ...json.weightsManifest[0], paths: ['../../etc/x.bin'] }],
        }),
      ),
    );
    await expect(fetchCocoSsd({ dir, url: `${base}/evil/`, out: textSink() })).rejects.toThrow(
      'lists a weights file "../../etc/x.bin" that is not a plain file name; refusing',
    );
    served.set('/short/model.json', served.get('/ssd/model.json')!);
    served.set('/short/group1-shard1of1.bin', served.get('/ssd/group1-shard1of1.bin')!.subarray(0, 10));
    await expect(fetchCocoSsd({ dir, url: `${base}/short/`, out: textSink() })).rejects.toThrow(
      'group1-shard1of1.bin: downloaded 10 bytes',
    );
    expect(existsSync(path.join(dir, 'model.json'))).toBe(false);
    await expect(fetchCocoSsd({ dir, base: 'resnet', out: textSink() })).rejects.toThrow(
      '--base resnet: unknown',
    );
  });
});
