import type { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { peopleInRoom, roomFilterFrom, type Polygon } from '../src/count/region.js';
import { StationaryTracker, type StationaryOptions, type SuggestedExclude } from '../src/count/stationary.js';
import type { Frame } from '../src/camera/frame.js';
import type { Detection } from '../src/detect/detector.js';
import type { DetectionQueue } from '../src/detect/queue.js';
import { createLogger } from '../src/log.js';
import type { EventSink } from '../src/report/sink.js';
import { Room } from '../src/room.js';
import { seededRandom } from '../bench/datasets-plan.js';

const FRAME = { width: 640, height: 480 };
const T0 = Date.UTC(2025, 3, 7, 8, 0, 0);
const MIN = 60_000;
type Box = Detection['box'];

/** The same "random" scene on every run. */
const rng = seededRandom;

/** `box` with every edge moved by up to ±`noise` of the box's width (x) or height (y), uniformly. */
function jittered(box: Box, noise: number, rand: () => number): Box {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  const n = (size: number) => (rand() * 2 - 1) * noise * size;
  return [box[0] + n(w), box[1] + n(h), box[2] + n(w), box[3] + n(h)];
}

/**
 * Someone walking about the room: stays 1–10 minutes at a place (with ±3 % box noise, 5 % missed frames), then
 * goes elsewhere; now and then out of the room for a while.
 */
function mover(seed: number): (at: number) => Detection[] {
  const rand = rng(seed);
  let until = 0;
  let box: Box | undefined;
  return (at) => {
    if (at >= until) {
      until = at + (1 + rand() * 9) * MIN;
      const w = 40 + rand() * 60;
      const x = rand() * (FRAME.width - w);
      const y = rand() * (FRAME.height - 2.5 * w);
      box = rand() < 0.2 ? undefined : [x, y, x + w, y + 2.5 * w];
    }
    if (!box || rand() < 0.05) return [];
    return [{ score: 0.5 + rand() * 0.4, box: jittered(box, 0.03, rand) }];
  };
}

/** A poster: the same box in every frame but for detector jitter (±1 %) and 3 % of frames missed. */
function poster(box: Box, seed = 7): (at: number) => Detection[] {
  const rand = rng(seed);
  return () => (rand() < 0.03 ? [] : [{ score: 0.6, box: jittered(box, 0.01, rand) }]);
}

type Scene = (at: number) => Detection[];
const both =
  (...scenes: Scene[]): Scene =>
  (at) =>
    scenes.flatMap((s) => s(at));
const during =
  (from: number, to: number, scene: Scene): Scene =>
  (at) =>
    at >= from && at < to ? scene(at) : [];

/** Feeds one frame per second from `from` to `to` (ms); returns every suggestion as it appeared, with when. */
function run(tracker: StationaryTracker, scene: Scene, from: number, to: number, fps = 1) {
  const appeared: { at: number; suggestion: SuggestedExclude }[] = [];
  for (let at = from; at < to; at += 1000 / fps) {
    for (const suggestion of tracker.observe(at, scene(at), FRAME)) appeared.push({ at, suggestion });
  }
  return appeared;
}

const POSTER: Box = [104, 78, 168, 222];
// POSTER enlarged by 5 % of its size on each side, normalised, rounded outwards to 3 decimals.
const POSTER_POLYGON = [
  [0.157, 0.147],
  [0.268, 0.147],
  [0.268, 0.478],
  [0.157, 0.478],
];
const crowd = (n: number, seed = 100) => both(...Array.from({ length: n }, (_, i) => mover(seed + i)));
const tracker = (opts: Partial<StationaryOptions> = {}) => new StationaryTracker({ minMinutes: 60, ...opts });

describe('StationaryTracker', () => {
  it('suggests a poster that stays for 2 h among people moving about, once, after 60 min', () => {
    const t = tracker();
    const appeared = run(t, both(crowd(3), poster(POSTER)), T0, T0 + 120 * MIN);
    expect(appeared).toHaveLength(1);
    const { at, suggestion } = appeared[0]!;
    expect(at - T0).toBeGreaterThanOrEqual(60 * MIN);
    expect(at - T0).toBeLessThan(61 * MIN);
    expect(suggestion.polygon).toEqual(POSTER_POLYGON);
    expect(Date.parse(suggestion.since) - T0).toBeLessThan(10_000); // a few frames may miss it
    expect(suggestion.share).toBeGreaterThanOrEqual(0.9);
    expect(suggestion.meanScore).toBe(0.6);
    const [now] = t.suggestions(T0 + 120 * MIN);
    expect(now?.minutes).toBe(119);
    expect(now?.polygon).toEqual(POSTER_POLYGON);
  });

  it('never suggests a seated person: ±3 % box noise, occasional misses, leaves after 50 min', () => {
    const rand = rng(3);
    const seated: Scene = (at) =>
      at < T0 + 50 * MIN && rand() >= 0.05
        ? [{ score: 0.7, box: jittered([300, 150, 380, 400], 0.03, rand) }]
        : [];
    const t = tracker();
    expect(run(t, both(crowd(3), seated), T0, T0 + 120 * MIN)).toEqual([]);
    expect(t.suggestions()).toEqual([]);
  });

  it('never suggests a person who sits for 2 h but shifts posture every few minutes', () => {
    const rand = rng(4);
    let until = 0;
    let pose: Box = [300, 150, 380, 400];
    const seated: Scene = (at) => {
      if (at >= until) {
        // Leans, turns or sits back: the box moves by 10–20 % of its size and changes height by up to 10 %.
        until = at + (3 + rand() * 5) * MIN;
        const dx = (rand() < 0.5 ? -1 : 1) * (0.1 + rand() * 0.1) * 80;
        const top = 150 + (rand() * 2 - 1) * 25;
        pose = [300 + dx, top, 380 + dx, 400];
      }
      return rand() < 0.05 ? [] : [{ score: 0.7, box: jittered(pose, 0.02, rand) }];
    };
    expect(run(tracker(), both(crowd(2), seated), T0, T0 + 120 * MIN)).toEqual([]);
  });

  it('needs the box jitter within maxJitter, whatever the per-frame tolerances', () => {
    const loose = { minIoU: 0.3, maxSizeChange: 1 };
    const box = (noise: number, seed: number): Scene => {
      const rand = rng(seed);
      return () => [{ score: 0.6, box: jittered(POSTER, noise, rand) }];
    };
    // ±7 % uniform noise: a standard deviation of 4 % of the box size per edge.
    expect(run(tracker(loose), box(0.07, 5), T0, T0 + 90 * MIN)).toEqual([]);
    expect(run(tracker(loose), box(0.01, 5), T0, T0 + 90 * MIN)).toHaveLength(1);
  });

  it('starts again when the box moves: 40 min at one place and 40 min at another are not 60 min', () => {
    const elsewhere: Box = [400, 100, 460, 240];
    const scene = both(
      crowd(2),
      during(T0, T0 + 40 * MIN, poster(POSTER)),
      during(T0 + 40 * MIN, T0 + 150 * MIN, poster(elsewhere)),
    );
    const t = tracker();
    expect(run(t, scene, T0, T0 + 80 * MIN)).toEqual([]);
    const later = run(t, scene, T0 + 80 * MIN, T0 + 110 * MIN);
    expect(later).toHaveLength(1);
    expect(later[0]!.at - T0).toBeGreaterThanOrEqual(100 * MIN);
    expect(Date.parse(later[0]!.suggestion.since) - (T0 + 40 * MIN)).toBeLessThan(10_000);
    expect(later[0]!.suggestion.polygon[0]).toEqual([0.62, 0.193]);
  });

  it('needs the box in 90 % of the frames', () => {
    const rand = rng(6);
    const flickering: Scene = () => (rand() < 0.2 ? [] : [{ score: 0.4, box: POSTER }]);
    expect(run(tracker(), flickering, T0, T0 + 120 * MIN)).toEqual([]);
  });

  it('keeps a suggestion through a short occlusion and withdraws it 10 min after the box is gone', () => {
    const t = tracker();
    const people = crowd(2);
    const scene = both(
      people,
      during(T0, T0 + 70 * MIN, poster(POSTER)),
      during(T0 + 75 * MIN, T0 + 90 * MIN, poster(POSTER)),
    );
    const appeared = run(t, scene, T0, T0 + 75 * MIN);
    expect(appeared).toHaveLength(1);
    // Someone stood in front of it for 5 minutes: still the same suggestion, not a new one.
    expect(run(t, scene, T0 + 75 * MIN, T0 + 95 * MIN)).toEqual([]);
    expect(t.suggestions()).toHaveLength(1);
    expect(t.suggestions()[0]!.since).toBe(appeared[0]!.suggestion.since);
    expect(t.suggestions()[0]!.lastSeen).toBe(new Date(T0 + 90 * MIN - 1000).toISOString());
    // Gone at 90 min: listed until 100 min, then withdrawn (frames still coming).
    run(t, scene, T0 + 95 * MIN, T0 + 99 * MIN);
    expect(t.suggestions()).toHaveLength(1);
    run(t, scene, T0 + 99 * MIN, T0 + 101 * MIN);
    expect(t.suggestions()).toEqual([]);
  });

  it('withdraws a suggestion when no frames arrive at all (camera down), given the time', () => {
    const t = tracker();
    run(t, poster(POSTER), T0, T0 + 65 * MIN);
    expect(t.suggestions(T0 + 70 * MIN)).toHaveLength(1);
    expect(t.suggestions(T0 + 76 * MIN)).toEqual([]);
  });

  it('keeps memory bounded, and still finds a poster among 40 people walking about', () => {
    const rand = rng(8);
    const noise: Scene = () =>
      Array.from({ length: 200 }, () => {
        const [x, y] = [rand() * 600, rand() * 400];
        return { score: 0.5, box: [x, y, x + 20 + rand() * 20, y + 50 + rand() * 30] as Box };
      });
    for (const maxTracks of [16, undefined]) {
      const t = tracker(maxTracks === undefined ? {} : { maxTracks });
      for (let at = T0; at < T0 + 3 * MIN; at += 1000) {
        t.observe(at, noise(at), FRAME);
        expect(t.size).toBeLessThanOrEqual(maxTracks ?? 64);
      }
      expect(t.size).toBe(maxTracks ?? 64);
    }
    // The poster is listed last in every frame, after up to 40 people.
    const busy = tracker();
    const appeared = run(busy, both(crowd(40), poster(POSTER)), T0, T0 + 90 * MIN);
    expect(appeared.map((a) => a.suggestion.polygon)).toEqual([POSTER_POLYGON]);
    expect(busy.size).toBeLessThanOrEqual(64);
  });

  it('does not let more new boxes per frame than the cap holds shut out a steady one listed last', () => {
    const rand = rng(9);
    const flicker: Scene = () =>
      Array.from({ length: 30 }, () => {
        const [x, y] = [300 + rand() * 300, rand() * 300];
        return { score: 0.5, box: [x, y, x + 30, y + 80] as Box };
      });
    const steady: Scene = () => [{ score: 0.6, box: POSTER }];
    const appeared = run(tracker({ maxTracks: 16 }), both(flicker, steady), T0, T0 + 62 * MIN);
    expect(appeared.map((a) => a.suggestion.polygon)).toEqual([POSTER_POLYGON]);
  });

  it('does not suggest a box whose anchor is already in an exclude polygon', () => {
    const around: Polygon = [
      [0.1, 0.1],
      [0.3, 0.1],
      [0.3, 0.5],
      [0.1, 0.5],
    ];
    // Covers the poster's centre (y 0.31) but not its feet (y 0.46).
    const upperHalf: Polygon = [
      [0.1, 0.1],
      [0.3, 0.1],
      [0.3, 0.4],
      [0.1, 0.4],
    ];
    const elsewhere: Polygon = [
      [0.6, 0.1],
      [0.9, 0.1],
      [0.9, 0.5],
    ];
    const suggested = (opts: Partial<StationaryOptions>) =>
      run(tracker(opts), both(crowd(2), poster(POSTER)), T0, T0 + 70 * MIN).map((a) => a.suggestion.polygon);
    expect(suggested({ exclude: [around] })).toEqual([]);
    expect(suggested({ exclude: [upperHalf], anchor: 'center' })).toEqual([]);
    expect(suggested({ exclude: [upperHalf] })).toEqual([POSTER_POLYGON]);
    expect(suggested({ exclude: [elsewhere] })).toEqual([POSTER_POLYGON]);
  });

  it('gives YAML that, pasted into the room, excludes the poster and nothing else', () => {
    const t = tracker();
    run(t, poster(POSTER), T0, T0 + 61 * MIN);
    const [s] = t.suggestions();
    expect(parse(s!.yaml)).toEqual({ region: { exclude: [POSTER_POLYGON] } });
    const indented = s!.yaml
      .trimEnd()
      .split('\n')
      .map((line) => `    ${line}`)
      .join('\n');
    const text = `sink: stdout\nrooms:\n  - id: r\n    locationId: L\n    locationType: space\n    camera: { url: x.mp4 }\n${indented}\n`;
    const room = parseConfig(text, 'roomcount.yaml').rooms[0]!;
    const person: Detection = { score: 0.8, box: [400, 150, 460, 300] };
    const posterBox: Detection = { score: 0.6, box: POSTER };
    expect(peopleInRoom([posterBox, person], roomFilterFrom(room, 0.3), FRAME)).toEqual([person]);
  });
});

/** Collects log lines. */
class Capture extends Writable {
  lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) this.lines.push(JSON.parse(line));
    cb();
  }
}

describe('Room: suggested excludes in status', () => {
  /** A room that is never started (no ffmpeg); frames are handed to it as its camera would. */
  function roomWith(extra: string, scene: Scene) {
    // skipStillFrames off: the fake frames are all one picture, while the scene's people move.
    const yaml = `sink: stdout\nrooms:\n  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 }, skipStillFrames: false${extra} }\n`;
    const config = parseConfig(yaml, 'roomcount.yaml').rooms[0]!;
    // The shared detector, faked: answers at once with the scene's boxes for the frame's time.
    const queue = {
      submit: (_id: string, frame: Frame, onResult: (d: Detection[], f: Frame) => void) =>
        onResult(scene(frame.capturedAt), frame),
      pending: () => false,
      remove: () => {},
    } as unknown as DetectionQueue;
    const sink: EventSink = { send: async () => {}, close: async () => {} };
    const logs = new Capture();
    const room = new Room(config, {
      queue,
      sink,
      log: createLogger({ destination: logs }),
      limit: { shortSide: FRAME.height, longSide: FRAME.width },
      minScore: 0.3,
    });
    // The seam: Room listens to its camera's 'frame' events; emit them directly instead of running ffmpeg.
    const camera = (room as unknown as { camera: EventEmitter }).camera;
    const data = new Uint8Array(FRAME.width * FRAME.height * 3);
    const play = (from: number, to: number) => {
      for (let at = from; at < to; at += 1000) camera.emit('frame', { ...FRAME, data, capturedAt: at });
    };
    return { room, logs, play };
  }

  const scene = () => both(crowd(2), poster(POSTER));

  it('lists the poster in /status once it has stayed stationaryMinutes, and logs it once', () => {
    const { room, logs, play } = roomWith('', scene());
    play(T0, T0 + 59 * MIN);
    expect(room.status(T0 + 59 * MIN).suggestedExcludes).toEqual([]);
    play(T0 + 59 * MIN, T0 + 65 * MIN);
    const status = JSON.parse(JSON.stringify(room.status(T0 + 65 * MIN)));
    expect(status.suggestedExcludes).toHaveLength(1);
    expect(status.suggestedExcludes[0].polygon).toEqual(POSTER_POLYGON);
    const told = logs.lines.filter((l) => String(l.msg).includes('has not moved'));
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ level: 30, room: 'r', suggestedExclude: POSTER_POLYGON });
    expect(told[0]!.msg).toContain('add this to region.exclude: - [[0.157, 0.147], [0.268, 0.147]');
    // Only a suggestion: the poster is still counted.
    expect(status.lastFrameCount).toBeGreaterThanOrEqual(1);
  });

  it('follows stationaryMinutes, and 0 turns it off', () => {
    // People stay up to 10 min at a place; 20 min catches only the poster.
    const quick = roomWith(', stationaryMinutes: 20', scene());
    quick.play(T0, T0 + 21 * MIN);
    expect(quick.room.status(T0 + 21 * MIN).suggestedExcludes.map((s) => s.polygon)).toEqual([
      POSTER_POLYGON,
    ]);
    const off = roomWith(', stationaryMinutes: 0', scene());
    off.play(T0, T0 + 90 * MIN);
    expect(off.room.status(T0 + 90 * MIN).suggestedExcludes).toEqual([]);
  });

  it('does not suggest what region.exclude already removes', () => {
    const { room, play } = roomWith(
      ', region: { exclude: [[0.1, 0.1], [0.3, 0.1], [0.3, 0.5], [0.1, 0.5]] }',
      scene(),
    );
    play(T0, T0 + 90 * MIN);
    expect(room.status(T0 + 90 * MIN).suggestedExcludes).toEqual([]);
  });
});
