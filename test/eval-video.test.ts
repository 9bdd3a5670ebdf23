import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalVideo, type VideoEvalResult } from '../src/commands/eval-video.js';
import { parseConfig } from '../src/config/load.js';
import { lagAllowance, readTruth, videoMetrics } from '../src/eval/video.js';
import { tempDir } from './helpers/media.js';
import { renderPeopleClip } from './helpers/people-clip.js';
import { textSink } from './helpers/streams.js';

/** Short settings so that a one-minute clip holds several changes (the defaults need ~30 s to report an empty room). */
const CONFIG = `
sink: stdout
rooms:
  - id: test
    locationId: LOC-TEST
    locationType: place # eval scores counts (a place would send occupied only)
    camera: { url: unused.mp4, keyframesOnly: true } # eval reads --video, every frame
    sampleFps: 1
    windowSeconds: 4
    minStableSeconds: 1
    emptyHoldSeconds: 4
    minEventIntervalSeconds: 2
`;

describe('roomcount eval --video (real room pipeline on a rendered clip, CenterNet)', () => {
  const tmp = tempDir('roomcount-video-');
  const clip = join(tmp.dir, 'people.mp4');
  const truthFile = join(tmp.dir, 'truth.csv');
  let result: VideoEvalResult;
  let text = '';
  let progress = '';

  beforeAll(async () => {
    // 0 people 0–8 s, 1 person 8–20 s, 3 people 20–34 s, 1 (another) 34–46 s, 0 after, to 60 s.
    const truth = await renderPeopleClip(clip, [
      { seconds: 8, people: [] },
      { seconds: 12, people: ['red'] },
      { seconds: 14, people: ['red', 'stool', 'figure'] },
      { seconds: 12, people: ['stool'] },
      { seconds: 14, people: [] },
    ]);
    writeFileSync(truthFile, truth);
    const out = textSink();
    const err = textSink();
    result = await evalVideo({
      video: clip,
      truth: truthFile,
      config: parseConfig(CONFIG, 'test.yaml'),
      roomId: 'test',
      verbose: true,
      compare: true,
      out,
      err,
    });
    text = out.text();
    progress = err.text();
  }, 240_000);
  afterAll(() => tmp.cleanup());

  it('counts every frame of the file once, on media time, none dropped; still frames without the detector', () => {
    expect(result.frames).toMatchObject({ dropped: 0, failed: 0, first: 0, last: 59 });
    // The clip holds each scene for 8–14 s: once a count is confirmed, the rest of the scene is still.
    expect(result.frames.still).toBeGreaterThan(0);
    expect(result.frames.analysed + result.frames.still).toBe(60);
    expect(result.samples.map((s) => s.at)).toEqual(Array.from({ length: 60 }, (_, i) => i * 1000));
    expect(progress).toContain('eval 60/60 (100%)');
  });

  it('reports the counts in the order they happened, close to the truth', () => {
    expect(result.events.map((e) => e.count)).toEqual([0, 1, 3, 1, 0]);
    const m = result.metrics;
    expect(result.perFrame.exactPct).toBeGreaterThanOrEqual(90);
    expect(m.firstEventAt).toBe(4); // the first full window
    expect(m.mae).toBeLessThan(0.6);
    expect(m.exactPct).toBeGreaterThan(70);
    expect([m.spurious, m.reached, m.missed]).toEqual([0, 4, 0]);
    expect(m.meanDelay).toBeGreaterThan(0); // a smoother reports after the fact...
    expect(m.meanDelay).toBeLessThan(8); // ...within about a window plus the hold
    for (const e of result.events) expect(e.timestamp).toBeLessThanOrEqual(e.at);
  });

  it('prints the numbers, every event and change with --verbose, and a --compare table', () => {
    expect(text).toMatch(/^MAE {8}\d\.\d{3} {2}\(time-weighted over 56\.0 s: 4\.0–60\.0 s\)$/m);
    expect(text).toMatch(/^exact {6}\d+\.\d % of the time$/m);
    expect(text).toContain('events     5 sent: 5 correct, 0 late, 0 on the way, 0 spurious');
    expect(text).toMatch(/^delay {6}mean \d\.\d s over 4 of 4 true changes reached \(0 missed\)/m);
    expect(text).toContain(
      'room       test: median over 4 s, minStable 1 s, emptyHold 4 s, minEventInterval 2 s',
    );
    expect(text).toMatch(/^ +20\.0 s {2}1 → 3 {2}reached at 2\d\.0 s/m);
    expect(text).toContain('per-frame counts from 0.0 s, 1 per second, 10 per group:');
    expect(text).toMatch(/^ {2}[0-9+]{10}( [0-9+]{10}){5}$/m); // 60 frames
    expect(text).not.toContain('note ');
    // The replay of the room's own settings is the room's run: the same code gives the same events.
    expect(result.replayMatches).toBe(true);
    const rows = result.compare!.rows;
    expect(rows[0]!.configured).toBe(true);
    expect(rows.length).toBe(1 + 6 * 4 + 3 * 4);
    expect(new Set(rows.map((r) => r.settings.smoothing))).toEqual(
      new Set(['median', 'p60', 'p75', 'p90', 'max', 'mode']),
    );
    // Every row is scored over the same stretch: from the first event of the 20 s windows.
    expect(result.compare!.from).toBe(20);
    expect(rows.every((r) => r.metrics.from === 20)).toBe(true);
    expect(text).toMatch(/^median {10}4 {7}1 {10}4 .*<- configured$/m);
    // A longer window reports changes later.
    const delay = (w: number) =>
      rows.find((r) => r.settings.smoothing === 'median' && r.settings.windowSeconds === w)!;
    expect(delay(20).metrics.meanDelay).toBeGreaterThan(delay(5).metrics.meanDelay);
  });

  it('a wrong truth file makes the same run score badly', async () => {
    const wrongFile = join(tmp.dir, 'wrong.csv');
    // Counts shifted: as if the room held two more people throughout.
    writeFileSync(wrongFile, 'start_s,end_s,count\n0,8,2\n8,20,3\n20,34,5\n34,46,3\n46,60,2\n');
    const wrong = await readTruth(wrongFile);
    const m = videoMetrics(wrong, result.events, { lagSeconds: lagAllowance(result.settings) });
    expect(m.mae).toBeGreaterThan(1.5);
    expect(m.exactPct).toBeLessThan(20);
    expect(m.spurious).toBeGreaterThan(0);
    // 5 → 3 at 34 s needed no event: the 3 reported since ~23 s was still standing.
    expect([m.reached, m.missed, m.already]).toEqual([0, 3, 1]);
  });
});

describe('roomcount eval: command line', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'eval', ...args], { encoding: 'utf8' });

  it('takes --dataset or --video with --truth, and says what is missing', () => {
    const none = cli();
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('eval: nothing to score: use --dataset DIR, or --video FILE --truth CSV');
    expect(cli('--video', 'x.mp4').stderr).toContain('--video needs --truth CSV (start_s,end_s,count');
    expect(cli('--dataset', 'd', '--video', 'x.mp4', '--truth', 't.csv').stderr).toContain(
      '--dataset and --video/--truth are alternatives',
    );
    expect(cli('--dataset', 'd', '--compare').stderr).toContain('--compare goes with --video');
    // --dataset still goes to the image evaluation.
    expect(cli('--dataset', 'no-such-dir').stderr).toMatch(/no-such-dir needs counts\.csv/);
    expect(cli('--video', 'x.mp4', '--truth', 'missing.csv').stderr).toMatch(
      /cannot read truth file missing\.csv: file not found/,
    );
  }, 60_000);
});
