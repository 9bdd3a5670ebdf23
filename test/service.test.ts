import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { resolveConfigPaths } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import type { Detector } from '../src/detect/detector.js';
import { StdoutSink } from '../src/report/sink.js';
import { startService, type Service, type ServiceStatus } from '../src/service.js';
import { fakeDetector } from './helpers/detector.js';
import { renderTestClip, tempDir } from './helpers/media.js';
import { freePort } from './helpers/net.js';

/** Collects everything written to it (logs or sink output). */
class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

const roomYaml = (id: string, extra = '', url = 'pattern.mp4') =>
  `  - { id: ${id}, locationId: LOC-${id}, locationType: space, camera: { url: ${url} }${extra} }`;
// A room whose camera does not exist: it must not disturb the others.
const brokenRoom = roomYaml('broken', '', 'no-such-camera.mp4');

function config(dir: string, port: number, rooms: string[]) {
  const text = [
    'sink: stdout',
    `http: { port: ${port}, host: 127.0.0.1 }`,
    'defaults: { sampleFps: 2, windowSeconds: 1, minStableSeconds: 0 }',
    'rooms:',
    ...rooms,
  ].join('\n');
  return resolveConfigPaths(parseConfig(text, join(dir, 'roomcount.yaml')), dir);
}

const until = async (cond: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('service: many rooms, HTTP endpoints, reload', () => {
  const tmp = tempDir();
  const logs = new Capture();
  const out = new Capture();
  let service: Service;
  let base = '';

  beforeAll(async () => {
    renderTestClip(join(tmp.dir, 'pattern.mp4'), { width: 320, height: 240, seconds: 2 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    service = await startService(
      config(tmp.dir, port, [roomYaml('keep'), roomYaml('change'), roomYaml('drop'), brokenRoom]),
      {
        log: createLogger({ destination: logs }),
        sink: new StdoutSink('test', out),
      },
    );
    await until(() => out.text.trim().split('\n').filter(Boolean).length >= 3);
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    tmp.cleanup();
  });

  it('/healthz, /readyz, and 404 for anything else', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', problems: [] });
    expect((await fetch(`${base}/frame.jpg`)).status).toBe(404);
    expect((await fetch(`${base}/status`, { method: 'POST' })).status).toBe(405);
  });

  it('/status shows each room with camera state, frame age and count', async () => {
    const status = (await (await fetch(`${base}/status`)).json()) as ServiceStatus;
    expect(status.detector.model).toBe('centernet');
    expect(status.rooms.map((r) => r.id).sort()).toEqual(['broken', 'change', 'drop', 'keep']);
    const broken = status.rooms.find((r) => r.id === 'broken')!;
    expect(broken).toMatchObject({
      cameraState: 'not_found',
      lastFrameAgeSeconds: null,
      count: null,
      lastEvent: null,
    });
    for (const room of status.rooms.filter((r) => r.id !== 'broken')) {
      expect(room).toMatchObject({ cameraState: 'streaming', stale: false, count: 0, lastFrameCount: 0 });
      expect(room.lastFrameAgeSeconds).toBeLessThan(5);
      expect(room.lastEvent).toMatchObject({ locationId: `LOC-${room.id}`, occupancy: 0 });
    }
  });

  it('/metrics has per-room frame counters, inference histogram, counts and camera states', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/roomcount_frames_analysed_total\{room="keep"\} [1-9]/);
    expect(text).toMatch(/roomcount_inference_seconds_count [1-9]/);
    expect(text).toContain('roomcount_room_people{room="change"} 0');
    expect(text).toContain('roomcount_camera_state{room="drop",state="streaming"} 1');
  });

  it('reload restarts only changed rooms, stops removed ones, starts new ones', async () => {
    const keep = service.rooms.get('keep');
    const change = service.rooms.get('change');
    const port = Number(new URL(base).port);
    await service.reload(
      config(tmp.dir, port, [
        roomYaml('keep'),
        roomYaml('change', ', windowSeconds: 2'),
        roomYaml('new'),
        brokenRoom,
      ]),
    );
    expect([...service.rooms.keys()].sort()).toEqual(['broken', 'change', 'keep', 'new']);
    expect(service.rooms.get('keep')).toBe(keep);
    expect(service.rooms.get('change')).not.toBe(change);
    expect(service.rooms.get('change')!.config.windowSeconds).toBe(2);
    await until(() => service.rooms.get('new')!.status().cameraState === 'streaming');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toContain('room="drop"');
    expect(logs.text).toContain('configuration reloaded');
  });

  it('a reload adding a room whose camera.url cannot be used: that room is "invalid", nothing crashes', async () => {
    const port = Number(new URL(base).port);
    const bad = roomYaml('remote', '', '"file://nas/cams/x.jpg"');
    await service.reload(config(tmp.dir, port, [roomYaml('keep'), roomYaml('new'), brokenRoom, bad]));
    const status = (await (await fetch(`${base}/status`)).json()) as ServiceStatus;
    expect(status.rooms.find((r) => r.id === 'remote')).toMatchObject({
      cameraState: 'invalid',
      cameraDetail: expect.stringMatching(/another machine/),
    });
    expect(status.rooms.find((r) => r.id === 'keep')).toMatchObject({ cameraState: 'streaming' });
    expect(logs.text).toMatch(/"room":"remote".*camera.url cannot be used/);
  });
});

describe('service: while the detector loads', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('answers /healthz at once, /readyz 503 "detector loading", /status state "starting"; then ready', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let loaded!: (d: Detector) => void;
    const detector = new Promise<Detector>((resolve) => (loaded = resolve));
    const starting = startService(config(tmp.dir, port, [roomYaml('a', '', 'no-such-camera.mp4')]), {
      log: createLogger({ destination: new Capture() }),
      sink: new StdoutSink('test', new Capture()),
      detector,
    });
    let health: Response | undefined;
    for (let i = 0; i < 50 && !health; i++) {
      health = await fetch(`${base}/healthz`).catch(() => undefined);
      if (!health) await new Promise((r) => setTimeout(r, 100));
    }
    expect(health?.status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', problems: ['detector loading'] });
    expect(await (await fetch(`${base}/status`)).json()).toEqual({
      state: 'starting',
      sourceId: expect.any(String),
      sink: 'stdout',
      detector: { configured: 'auto', model: 'loading', backend: 'loading' },
      shard: null,
      rooms: [],
    });

    loaded(fakeDetector(() => Promise.resolve([])));
    const service = await starting;
    try {
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const status = (await (await fetch(`${base}/status`)).json()) as ServiceStatus;
      expect(status).toMatchObject({ state: 'running', detector: { model: 'fake', backend: 'none' } });
      expect(status.rooms.map((r) => r.id)).toEqual(['a']);
    } finally {
      await service.stop();
    }
    expect((await fetch(`${base}/healthz`).catch(() => undefined))?.ok).not.toBe(true);
  });
});
