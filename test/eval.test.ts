import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { bench, benchCandidates, renderBenchFrame, roomsPerBox } from '../src/commands/bench.js';
import { detectorConfigFrom } from '../src/commands/detector-options.js';
import { evalDataset } from '../src/commands/eval.js';
import { parseConfig } from '../src/config/load.js';
import { parseCsv, readDataset } from '../src/eval/dataset.js';
import { countMetrics, timingStats } from '../src/eval/metrics.js';
import { formatDuration, Progress } from '../src/eval/progress.js';
import { TEST_ANCHORS, writeTinySsdModel } from './helpers/ssd-model.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'roomcount-eval-'));

function sink(
  extra: { isTTY?: boolean; columns?: number } = {},
): Writable & { text: () => string } & typeof extra {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return Object.assign(w, { text: () => text }, extra);
}

describe('countMetrics', () => {
  it('computes MAE, bias, exact %, within-1 %, n', () => {
    const m = countMetrics([
      { truth: 0, predicted: 0 },
      { truth: 3, predicted: 2 },
      { truth: 5, predicted: 8 },
      { truth: 1, predicted: 2 },
    ]);
    expect(m).toEqual({
      n: 4,
      mae: (0 + 1 + 3 + 1) / 4,
      bias: (0 - 1 + 3 + 1) / 4,
      exactPct: 25,
      within1Pct: 75,
      maxError: 3,
      truthTotal: 9,
      predictedTotal: 12,
    });
  });

  it('gives NaN means for no images', () => {
    const m = countMetrics([]);
    expect(m.n).toBe(0);
    expect(m.mae).toBeNaN();
    expect(m.exactPct).toBeNaN();
  });

  it('timingStats: median, nearest-rank p95, mean', () => {
    expect(timingStats([5, 1, 3])).toEqual({ median: 3, p95: 5, mean: 3 });
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(timingStats(hundred)).toEqual({ median: 50.5, p95: 95, mean: 50.5 });
    expect(timingStats([]).median).toBeNaN();
  });
});

describe('datasets', () => {
  it('parseCsv handles quotes, CRLF, a BOM and blank lines', () => {
    const csv = parseCsv('\uFEFFfile,note\r\n"a,b.jpg","say ""hi"""\r\n\r\nc.jpg,x\n', 'x.csv');
    expect(csv.header).toEqual(['file', 'note']);
    expect(csv.rows).toEqual([
      { line: 2, cells: ['a,b.jpg', 'say "hi"'] },
      { line: 4, cells: ['c.jpg', 'x'] },
    ]);
    expect(() => parseCsv('file\n"open', 'x.csv')).toThrow('x.csv:2: unterminated quoted field');
  });

  it('reads counts.csv, excludes crowd rows marked in details.csv', async () => {
    const dir = path.join(tmp, 'ds1');
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'counts.csv'),
      'file,person_count\nimages/a.jpg,2\nimages/b.jpg,13\nc.png,0\n',
    );
    writeFileSync(
      path.join(dir, 'details.csv'),
      'file,person_count,crowd_region_present,image_license\nimages/a.jpg,2,0,"CC, BY"\nimages/b.jpg,13,1,x\n',
    );
    const ds = await readDataset(dir);
    expect(ds.items).toEqual([
      { file: 'images/a.jpg', path: path.join(dir, 'images/a.jpg'), truth: 2 },
      { file: 'c.png', path: path.join(dir, 'c.png'), truth: 0 },
    ]);
    expect(ds.excluded).toEqual([{ file: 'images/b.jpg', reason: 'crowd_region_present=1' }]);
    expect(ds.hasDetails).toBe(true);
  });

  it('names the file and line of bad input', async () => {
    const dir = path.join(tmp, 'ds2');
    mkdirSync(dir);
    await expect(readDataset(dir)).rejects.toThrow(
      `cannot read ${path.join(dir, 'counts.csv')}: file not found`,
    );
    const counts = path.join(dir, 'counts.csv');
    writeFileSync(counts, 'file,count\na.jpg,1\n');
    await expect(readDataset(dir)).rejects.toThrow(`${counts}: no "person_count" column`);
    writeFileSync(counts, 'file,person_count\na.jpg,1\nb.jpg,two\n');
    await expect(readDataset(dir)).rejects.toThrow(`${counts}:3: person_count "two" is not a whole number`);
    writeFileSync(counts, 'file,person_count\na.jpg,1\na.jpg,2\n');
    await expect(readDataset(dir)).rejects.toThrow(`${counts}:3: a.jpg is listed twice`);
  });
});

describe('Progress', () => {
  it('prints a line every ~10 % when stderr is not a terminal', () => {
    let t = 0;
    const out = sink({ isTTY: false });
    const p = new Progress('eval', 100, out, () => t);
    for (let i = 0; i < 100; i++) {
      t += 100;
      p.tick();
    }
    p.finish();
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe('eval 10/100 (10%) elapsed 1s, ETA 9s');
    expect(lines[9]).toBe('eval 100/100 (100%) elapsed 10s, done in 10s');
  });

  it('prints one line per step for small totals', () => {
    const out = sink();
    const p = new Progress('eval', 3, out, () => 0);
    p.tick();
    p.tick();
    p.tick();
    expect(out.text().trimEnd().split('\n')).toHaveLength(3);
  });

  it('redraws one bar in place on a terminal, at most every 100 ms, and clears it at the end', () => {
    let t = 0;
    const out = sink({ isTTY: true, columns: 60 });
    const p = new Progress('eval', 4, out, () => t);
    t = 1000;
    p.tick(); // drawn
    t = 1050;
    p.tick(); // too soon: skipped
    t = 2000;
    p.tick();
    t = 3000;
    p.tick(); // last: always drawn
    p.finish();
    const draws = out.text().split('\r').filter(Boolean);
    expect(draws).toHaveLength(4); // 3 bars + the final clear
    const clearLine = '\u001b[K';
    expect(draws.every((d) => d.endsWith(clearLine))).toBe(true);
    expect(draws[0]!.slice(0, -clearLine.length)).toMatch(/^eval \[#+-+\] 1\/4 {2}25% ETA 3s$/);
    expect(draws[2]!.slice(0, -clearLine.length)).toMatch(/^eval \[#+\] 4\/4 100% done in 3s$/);
    expect(draws[3]).toBe(clearLine);
    expect(draws[0]!.length).toBeLessThanOrEqual(60 + 3);
  });

  it('formats durations', () => {
    expect(formatDuration(400)).toBe('0s');
    expect(formatDuration(59_400)).toBe('59s');
    expect(formatDuration(75_000)).toBe('1m15s');
    expect(formatDuration(3_723_000)).toBe('1h02m');
  });
});

describe('detectorConfigFrom', () => {
  const cfg = parseConfig(
    `sink: stdout\ndetector: { model: yolox-nano, modelPath: /m/y.onnx, sha256: ${'a'.repeat(64)}, minScore: 0.4 }\n` +
      'rooms:\n  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 } }\n',
    'x.yaml',
    {},
  );

  it('uses the config, or the defaults without one', () => {
    expect(detectorConfigFrom(cfg)).toEqual(cfg.detector);
    expect(detectorConfigFrom(undefined)).toEqual({ model: 'auto' });
  });

  it('switching model drops the other model’s keys but keeps minScore; --model-path is resolved', () => {
    expect(detectorConfigFrom(cfg, { model: 'centernet' })).toEqual({ model: 'centernet', minScore: 0.4 });
    expect(detectorConfigFrom(cfg, { model: 'yolox-nano', minScore: 0.25 })).toEqual({
      ...cfg.detector,
      minScore: 0.25,
    });
    expect(detectorConfigFrom(undefined, { model: 'coco-ssd', modelPath: 'rel/dir' })).toEqual({
      model: 'coco-ssd',
      modelPath: path.resolve('rel/dir'),
    });
  });

  it('rejects unknown models and scores', () => {
    expect(() => detectorConfigFrom(undefined, { model: 'yolo9000' })).toThrow(
      '--model yolo9000: unknown model',
    );
    expect(() => detectorConfigFrom(undefined, { minScore: 2 })).toThrow('--min-score must be within 0..1');
  });
});

// ---------------------------------------------------------------------------------------------------------
// `roomcount eval` and `bench` end to end, on the tiny coco-ssd graph (fast; its scores follow brightness).

describe('roomcount eval / bench on a tiny model', () => {
  const ssdDir = writeTinySsdModel(path.join(tmp, 'ssd'), TEST_ANCHORS);
  const dataset = path.join(tmp, 'dataset');
  const config = parseConfig(
    `sink: stdout\ndetector: { model: coco-ssd, modelPath: ${ssdDir} }\nrooms:\n` +
      '  - { id: left, locationId: L, locationType: space, camera: { url: x.mp4 }, region: { include: [[0,0],[0.5,0],[0.5,1],[0,1]] } }\n',
    'x.yaml',
    {},
  );

  beforeAll(async () => {
    mkdirSync(path.join(dataset, 'img'), { recursive: true });
    // White: 2 people found (scores 0.9, 0.7); grey 128: 2 (0.45, 0.35); dark 90: 1 (0.32); black: 0.
    for (const [name, v] of [
      ['white', 255],
      ['grey', 128],
      ['dark', 90],
      ['black', 0],
    ] as const) {
      await sharp({ create: { width: 200, height: 100, channels: 3, background: { r: v, g: v, b: v } } })
        .png()
        .toFile(path.join(dataset, 'img', `${name}.png`));
    }
    writeFileSync(
      path.join(dataset, 'counts.csv'),
      'file,person_count\nimg/white.png,2\nimg/grey.png,3\nimg/dark.png,0\nimg/black.png,0\nimg/crowd.png,40\n',
    );
    writeFileSync(path.join(dataset, 'details.csv'), 'file,crowd_region_present\nimg/crowd.png,1\n');
  });

  it('prints MAE, bias, exact %, within-1 %, n, ms/image, and the per-image table with --verbose', async () => {
    const out = sink();
    const err = sink({ isTTY: false });
    const r = await evalDataset({ dataset, config, verbose: true, out, err });
    expect(r.images.map((i) => i.predicted)).toEqual([2, 2, 1, 0]);
    expect(r.metrics).toMatchObject({ n: 4, mae: 0.5, bias: 0, exactPct: 50, within1Pct: 100 });
    const text = out.text();
    expect(text).toMatch(/^file +truth {2}predicted {2}diff {6}ms\n/);
    expect(text).toMatch(/\nimg\/grey\.png +3 +2 +-1 +\d+\.\d\n/);
    expect(text).toContain('5 images in counts.csv, 1 excluded (crowd_region_present=1 in details.csv)');
    expect(text).toContain('model     coco-ssd (');
    expect(text).toMatch(
      /\nn {9}4\nMAE {7}0\.500\nbias {6}0\.000 .*\nexact {5}50\.0 %\nwithin 1 {2}100\.0 %\nms\/image {2}\d/,
    );
    expect(err.text().trimEnd().split('\n')).toHaveLength(4); // 4 images: a line each (every 25 %)
  });

  it("applies a room's filter with --room, and --min-score overrides the config", async () => {
    const out = sink();
    const r = await evalDataset({ dataset, config, roomId: 'left', minScore: 0.4, out, err: sink() });
    // Only the person at x 40..80 of 200 stands in the left half; at 0.4 the dark frame finds nobody.
    expect(r.images.map((i) => i.predicted)).toEqual([1, 1, 0, 0]);
    expect(out.text()).not.toContain('truth  predicted');
    await expect(evalDataset({ dataset, config, roomId: 'nope', out, err: sink() })).rejects.toThrow(
      '--room nope: no such room',
    );
    await expect(evalDataset({ dataset, config, sweep: true, out, err: sink() })).rejects.toThrow(
      '--sweep does not work with coco-ssd',
    );
    await expect(
      evalDataset({ dataset, model: 'yolox-nano', modelsDir: tmp, out, err: sink() }),
    ).rejects.toThrow('yolox_nano.onnx is not installed');
  });

  it('bench times the configured models and says which were skipped and why', async () => {
    const out = sink();
    const rows = await bench({
      config,
      models: ['coco-ssd', 'yolox-nano'],
      iterations: 2,
      warmup: 0,
      out,
      modelsDir: tmp,
    });
    // coco-ssd resizes to 300 × 300 itself: one geometry; the camera frame is limited to 640 px.
    expect(rows.map((r) => [r.model, r.geometry, r.frame, r.runs])).toEqual([
      ['coco-ssd', 'square', '1280x720 → 640x360', '1 × 640x640'],
      ['coco-ssd', 'square', '1280x640 → 640x320', '1 × 640x640'],
    ]);
    for (const r of rows) expect(r.median > 0 && r.p95 >= r.median && r.fps > 0 && r.rooms > 0).toBe(true);
    const text = out.text();
    expect(text).toMatch(/\nmodel +geometry +frame +model runs +median ms +p95 ms +frames\/s +rooms\/box\n/);
    expect(text).toContain(`coco-ssd: ${ssdDir} (lite_mobilenet_v2)`);
    expect(text).toContain(
      `skipped yolox-nano: ${path.join(tmp, 'yolox_nano.onnx')} not found (roomcount models fetch yolox-nano`,
    );
  });

  it('bench candidates: centernet always, ONNX models when in the models folder, coco-ssd only when configured', () => {
    const dir = path.join(tmp, 'models');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'yolox_nano.onnx'), 'x');
    const list = benchCandidates(undefined, dir);
    expect(list.map((c) => [c.descriptor.name, c.skip === undefined])).toEqual([
      ['rtmdet-nano', false],
      ['yolox-nano', true],
      ['nanodet-plus', false],
      ['centernet', true],
      ['coco-ssd', false],
    ]);
    expect(list[1]!.source).toBe(path.join(dir, 'yolox_nano.onnx'));
  });

  it('rooms per box: bounded by the one detector thread and by the cores', () => {
    expect(roomsPerBox(10)).toBe(53); // cores: 1.6 / (0.01 + 0.02)
    expect(roomsPerBox(40)).toBe(20); // the detector thread: 800 / 40
    expect(roomsPerBox(145)).toBe(5);
  });

  it('renders deterministic bench frames', () => {
    const a = renderBenchFrame(64, 48);
    expect(a.data.length).toBe(64 * 48 * 3);
    expect(renderBenchFrame(64, 48).data).toEqual(a.data);
  });
});
