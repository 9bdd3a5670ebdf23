import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { CameraOptions, CameraState, FfmpegCameraEvents } from '../src/camera/ffmpeg.js';
import type { Frame } from '../src/camera/frame.js';
import type { FrameSource } from '../src/camera/source.js';
import type { Detection } from '../src/detect/detector.js';
import type { DetectionQueue } from '../src/detect/queue.js';
import { createLogger } from '../src/log.js';
import type { OccupancyEvent } from '../src/report/event.js';
import { Room } from '../src/room.js';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const SIZE = { width: 160, height: 90 };
const BRIGHTNESS_PER_PERSON = 20;

/** A camera driven by the test: it emits what it is told, when it is told. */
class FakeCamera extends EventEmitter<FfmpegCameraEvents> implements FrameSource {
  state: CameraState = 'connecting';
  stateDetail = 'starting';
  readonly redactedUrl = 'rtsp://***:***@cam/live';
  starts = 0;
  start(): void {
    this.starts++;
  }
  async stop(): Promise<void> {
    this.set('stopped', 'stopped');
  }
  set(state: CameraState, detail: string): void {
    this.state = state;
    this.stateDetail = detail;
    this.emit('state', state, detail);
  }
  /**
   * One frame with `people` in it: a picture whose brightness is the count (so that frames with other counts look
   * different), which the fake detector reads back from its first byte.
   */
  frame(at: number, people: number): void {
    const data = new Uint8Array(SIZE.width * SIZE.height * 3).fill(people * BRIGHTNESS_PER_PERSON);
    if (this.state !== 'streaming') this.set('streaming', `${SIZE.width}x${SIZE.height}`);
    this.emit('frame', { ...SIZE, data, capturedAt: at });
  }
}

/** A logger whose JSON lines are kept, parsed. */
function collectLogs() {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  return { logs, log: createLogger({ destination }) };
}

/** Person boxes side by side, standing in the picture. */
function people(n: number): Detection[] {
  return Array.from({ length: n }, (_, i) => ({ score: 0.9, box: [i * 10, 20, i * 10 + 8, 80] }));
}

function roomWithFakeCamera(extra = '', opts: { pending?: () => boolean } = {}) {
  const yaml =
    'sink: stdout\nrooms:\n  - { id: r1, locationId: L1, locationType: space, camera: { url: rtsp://u:p@cam/live }' +
    `, windowSeconds: 10, minStableSeconds: 2, emptyHoldSeconds: 10, minEventIntervalSeconds: 0, staleSeconds: 30${extra} }\n`;
  const config = parseConfig(yaml, 'roomcount.yaml').rooms[0]!;
  const analysed: number[] = [];
  const queue = {
    submit: (_id: string, frame: Frame, onResult: (d: Detection[], f: Frame) => void) => {
      analysed.push(frame.capturedAt);
      onResult(people(frame.data[0]! / BRIGHTNESS_PER_PERSON), frame);
    },
    pending: opts.pending ?? (() => false),
    remove: () => {},
  } as unknown as DetectionQueue;
  const events: OccupancyEvent[] = [];
  const { logs, log } = collectLogs();
  let camera!: FakeCamera;
  let cameraOptions!: CameraOptions;
  let clock = T0;
  const room = new Room(config, {
    queue,
    sink: { send: async (e) => void events.push(e), close: async () => {} },
    log,
    limit: { shortSide: SIZE.height, longSide: SIZE.width },
    minScore: 0.3,
    openCamera: (options) => ((cameraOptions = options), (camera = new FakeCamera())),
    now: () => clock,
  });
  /** Frames once a second from `from` (inclusive) to `to` (exclusive), each with `n` people. */
  const play = (from: number, to: number, n: number) => {
    for (let t = from; t < to; t += 1000) {
      clock = t;
      camera.frame(t, n);
    }
    clock = to;
  };
  const setClock = (t: number) => (clock = t);
  return { room, camera, events, logs, play, setClock, analysed, cameraOptions: () => cameraOptions };
}

const s = (seconds: number) => T0 + seconds * 1000;

describe('Room with a fake camera (its rules, without ffmpeg)', () => {
  it('starts its camera once; one event after the first full window, then one per change', async () => {
    const { room, camera, events, play } = roomWithFakeCamera();
    room.start();
    expect(camera.starts).toBe(1);
    play(s(0), s(20), 2);
    expect(events.map((e) => e.occupancy)).toEqual([2]);
    play(s(20), s(40), 3);
    play(s(40), s(60), 3);
    expect(events.map((e) => e.occupancy)).toEqual([2, 3]);
    expect(room.status(s(60))).toMatchObject({ cameraState: 'streaming', count: 3, lastFrameCount: 3 });
    await room.stop();
  });

  it('no frames: no invented zeros; after staleSeconds the count is unknown, with one warning', async () => {
    const { room, events, logs, play, setClock } = roomWithFakeCamera();
    room.start();
    play(s(0), s(15), 4);
    expect(events.map((e) => e.occupancy)).toEqual([4]);
    // The camera goes quiet (no state change: a silent stream). Nothing is sent, however long.
    setClock(s(30));
    expect(room.status(s(30))).toMatchObject({ stale: false, count: 4 });
    for (const t of [s(45), s(60), s(600)])
      expect(room.status(t)).toMatchObject({ stale: true, count: null });
    expect(events).toHaveLength(1);
    expect(logs.filter((l) => String(l.msg).startsWith('no frames'))).toHaveLength(1);
    await room.stop();
  });

  it('a camera gap restarts the window; an unchanged count is not sent again, a new one after a full window', async () => {
    const { room, camera, events, play } = roomWithFakeCamera();
    room.start();
    play(s(0), s(15), 2);
    expect(events.map((e) => e.occupancy)).toEqual([2]);
    camera.set('unreachable', 'Connection refused');
    expect(room.status(s(16))).toMatchObject({
      cameraState: 'unreachable',
      cameraDetail: 'Connection refused',
    });
    // Back with the same count: the window fills again, and nothing is re-sent.
    play(s(20), s(40), 2);
    expect(events).toHaveLength(1);
    camera.set('stalled', 'no frame for 10 s');
    // Back with a different count: not sent before a whole new window has been seen (9 s is not enough).
    play(s(50), s(59), 5);
    expect(events).toHaveLength(1);
    play(s(59), s(65), 5);
    expect(events.map((e) => e.occupancy)).toEqual([2, 5]);
    await room.stop();
  });

  it('a still picture: analysed until its count is confirmed, then once a minute; the count holds', async () => {
    const { room, events, play, analysed } = roomWithFakeCamera();
    room.start();
    play(s(0), s(200), 2);
    expect(events.map((e) => e.occupancy)).toEqual([2]);
    // Reported at 10 s (a full window), confirmed by a further window of agreeing frames: from then on the same
    // picture keeps the count, and the detector looks again once a minute.
    const confirmedAt = analysed.findIndex((t, i) => i > 0 && t - analysed[i - 1]! > 10_000);
    expect(analysed[confirmedAt - 1]).toBeLessThanOrEqual(s(24));
    const rechecks = analysed.slice(confirmedAt);
    expect(rechecks.length).toBeGreaterThanOrEqual(2);
    for (const [i, t] of rechecks.entries()) {
      const gap = t - (i === 0 ? analysed[confirmedAt - 1]! : rechecks[i - 1]!);
      expect(gap).toBeGreaterThanOrEqual(60_000);
      expect(gap).toBeLessThanOrEqual(64_000);
    }
    expect(room.status(s(200))).toMatchObject({ count: 2, lastFrameCount: 2 });
    await room.stop();
  });

  it('skipStillFrames: false analyses every sampled frame', async () => {
    const { room, events, play, analysed } = roomWithFakeCamera(', skipStillFrames: false');
    room.start();
    play(s(0), s(130), 2);
    // 0..10 s at 1 frame/s; once the count has held for a window, 2 s and then 4 s apart (adaptive sampling).
    expect(analysed.length).toBeGreaterThan(30);
    expect(events.map((e) => e.occupancy)).toEqual([2]);
    await room.stop();
  });

  it('a changed picture goes to the detector at the next sampled frame, and the change is reported', async () => {
    const { room, events, play, analysed } = roomWithFakeCamera();
    room.start();
    play(s(0), s(30), 2);
    const before = analysed.length;
    play(s(30), s(60), 3);
    // The quiet room samples every 4 s: the first frame it takes after the change is analysed.
    expect(analysed[before]).toBeLessThanOrEqual(s(34));
    expect(events.map((e) => e.occupancy)).toEqual([2, 3]);
    // Back to still: once the new count is confirmed, few frames need the detector.
    const confirmed = analysed.length;
    play(s(60), s(110), 3);
    expect(analysed.length - confirmed).toBeLessThanOrEqual(1);
    await room.stop();
  });

  it('while a frame of the room is still in the detector, the next one is not judged still', async () => {
    const { room, play, analysed } = roomWithFakeCamera(', minSampleFps: 1', { pending: () => true });
    room.start();
    play(s(0), s(20), 2);
    expect(analysed).toHaveLength(20);
    await room.stop();
  });

  it('after a camera gap, the first frame goes to the detector', async () => {
    const { room, camera, play, analysed } = roomWithFakeCamera();
    room.start();
    play(s(0), s(20), 2);
    const before = analysed.length;
    camera.set('stalled', 'no frame for 10 s');
    play(s(30), s(31), 2);
    expect(analysed.slice(before)).toEqual([s(30)]);
    await room.stop();
  });

  it("asks its camera to pass over the frames its sampler will not take; those still count as the camera's", async () => {
    const { room, camera, play, setClock, cameraOptions, logs } =
      roomWithFakeCamera(', skipStillFrames: false');
    room.start();
    const wants = cameraOptions().wants!;
    play(s(0), s(40), 2);
    // Quiet: one frame in four is taken (minSampleFps 0.25); the camera asks before it copies a frame, as here.
    let taken = 0;
    for (let t = 40; t < 80; t++) {
      setClock(s(t));
      if (wants(s(t))) {
        taken++;
        camera.frame(s(t), 2);
      } else camera.emit('skipped', s(t));
    }
    expect(taken).toBe(10);
    // Only passed-over frames for a minute: not stale (the camera is sending), no warning.
    for (let t = 80; t < 110; t++) camera.emit('skipped', s(t));
    expect(room.status(s(110))).toMatchObject({ stale: false, count: 2, lastFrameAgeSeconds: 1 });
    expect(logs.filter((l) => String(l.msg).startsWith('no frames'))).toHaveLength(0);
    await room.stop();
  });

  it('an unusable camera.url (default ffmpeg camera): state invalid naming the room, nothing thrown', async () => {
    const yaml =
      'sink: stdout\nrooms:\n  - { id: lobby, locationId: L, locationType: space, camera: { url: "file://nas/x.jpg" } }\n';
    const config = parseConfig(yaml, 'roomcount.yaml').rooms[0]!;
    const { logs, log } = collectLogs();
    const room = new Room(config, {
      queue: { submit: () => {}, remove: () => {} } as unknown as DetectionQueue,
      sink: { send: async () => {}, close: async () => {} },
      log,
      limit: { shortSide: 90, longSide: 160 },
      minScore: 0.3,
    });
    expect(() => room.start()).not.toThrow();
    expect(room.status()).toMatchObject({
      cameraState: 'invalid',
      cameraDetail: expect.stringMatching(/another machine/),
    });
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 50, room: 'lobby', cameraState: 'invalid' }),
    );
    await room.stop();
  });
});
