/** `roomcount run` as a process: shards, reload on file change and SIGHUP, invalid reloads, clean stop. */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCenterNetModelPath } from '../src/detect/centernet.js';
import type { ServiceStatus } from '../src/service.js';
import { shardOf } from '../src/shard.js';
import { renderTestClip, tempDir } from './helpers/media.js';
import { freePort } from './helpers/net.js';

const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

describe('roomcount run: shards and live reload', () => {
  const tmp = tempDir();
  const configFile = join(tmp.dir, 'roomcount.yaml');
  let child: ChildProcessWithoutNullStreams;
  let stderr = '';
  let port = 0;
  let exitCode: number | null | undefined;
  let startingState = '';
  // Ten candidate ids; the test runs shard 1 of 2 and expects exactly the ids that hash to 1.
  const ids = Array.from({ length: 10 }, (_, i) => `room-${i}`);
  const inShard1 = ids.filter((id) => shardOf(id, 2) === 1);

  const writeConfig = (roomIds: string[], extra = '') =>
    writeFileSync(
      configFile,
      [
        'sink: stdout',
        `http: { port: ${port}, host: 127.0.0.1 }`,
        'detector: { model: centernet, modelPath: model/centernet.json }',
        'defaults: { sampleFps: 1, windowSeconds: 2, locationType: space, camera: { url: pattern.mp4 } }',
        'rooms:',
        ...roomIds.map((id) => `  - { id: ${id}, locationId: LOC-${id} }`),
        extra,
      ].join('\n'),
    );
  const status = async () => (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as ServiceStatus;
  const roomIds = async () => (await status()).rooms.map((r) => r.id).sort();

  beforeAll(async () => {
    renderTestClip(join(tmp.dir, 'pattern.mp4'), { width: 320, height: 240, seconds: 2 });
    // The model's JSON is a FIFO: the detector stays loading until the test writes it, a window of known length.
    const model = join(tmp.dir, 'model');
    mkdirSync(model);
    const realJson = defaultCenterNetModelPath();
    symlinkSync(join(dirname(realJson), 'centernet.bin'), join(model, 'centernet.bin'));
    execFileSync('mkfifo', [join(model, 'centernet.json')]);
    port = await freePort();
    // One room of shard 1 is added by an edit while the detector loads (below).
    writeConfig(ids.slice(0, 6).filter((id) => id !== inShard1[0]));
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'run', '--config', configFile, '--shard', '1/2'],
      {
        env: { ...process.env, LOG_FORMAT: 'json' },
      },
    );
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => (exitCode = code));
    await until('the HTTP server', async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
      } catch {
        return false;
      }
    });
    // HTTP answers while the detector loads: a SIGHUP now must not kill the process (Node's default for SIGHUP).
    startingState = (await status()).state;
    child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 500));
    if (exitCode !== undefined) throw new Error(`roomcount exited (${exitCode}) on SIGHUP while loading`);
    // An edit of the file while loading must not be forgotten (the watcher waits 1 s for more writes).
    writeConfig(ids.slice(0, 6));
    await new Promise((r) => setTimeout(r, 1500));
    await writeFile(join(model, 'centernet.json'), readFileSync(realJson)); // blocks until the service reads it
    await until('ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 60_000);
  }, 90_000);

  afterAll(() => {
    if (exitCode === undefined) child.kill('SIGKILL');
    tmp.cleanup();
  });

  it('survives a SIGHUP and applies an edit made while the detector loads; runs only its shard', async () => {
    expect(startingState).toBe('starting');
    expect(exitCode).toBeUndefined();
    expect(await roomIds()).toEqual(inShard1.filter((id) => ids.slice(0, 6).includes(id)));
    expect(await status()).toMatchObject({ state: 'running', shard: '1/2' });
  });

  it('reloads when the file changes: new rooms of its shard start', async () => {
    writeConfig(ids);
    await until('the reload', async () => (await roomIds()).length === inShard1.length);
    expect(await roomIds()).toEqual(inShard1);
  });

  it('keeps running the old rooms when the new file is invalid, and says why', async () => {
    writeConfig(ids, 'sampelFps: 3');
    await until('the rejection', () => stderr.includes('new configuration rejected'));
    const line = stderr.split('\n').find((l) => l.includes('new configuration rejected'))!;
    expect(JSON.parse(line).problems).toEqual([
      expect.stringMatching(/^\d+:1 sampelFps unknown key "sampelFps"/),
    ]);
    expect(await roomIds()).toEqual(inShard1);
  });

  it('a reload checks what it applies: rooms change with the model file gone; a bad camera URL is refused', async () => {
    // The running detector was loaded at start; its file is not needed again until a restart.
    rmSync(join(tmp.dir, 'model', 'centernet.json'));
    writeConfig(inShard1.slice(0, 2));
    await until('the reload without the model file', async () => (await roomIds()).length === 2);
    expect(await roomIds()).toEqual(inShard1.slice(0, 2).sort());
    const rejected = () => stderr.split('\n').filter((l) => l.includes('new configuration rejected'));
    const before = rejected().length;
    writeConfig(
      inShard1,
      `  - { id: ${inShard1[0]}-cam, locationId: L2, camera: { url: "http://cam.example/x.jpg" } }`,
    );
    await until('the rejection', () => rejected().length > before);
    expect(JSON.parse(rejected().at(-1)!).problems).toEqual([expect.stringMatching(/camera\.url/)]);
    expect(await roomIds()).toEqual(inShard1.slice(0, 2).sort());
  });

  it('reloads on SIGHUP, then stops cleanly on SIGTERM', async () => {
    writeConfig([inShard1[0]!]);
    child.kill('SIGHUP');
    await until('the SIGHUP reload', async () => (await roomIds()).length === 1);
    expect(await roomIds()).toEqual([inShard1[0]]);
    expect(stderr).toMatch(/"reason":"SIGHUP".*"msg":"reloading configuration"/);
    child.kill('SIGTERM');
    await until('exit', () => exitCode !== undefined);
    expect(exitCode).toBe(0);
    expect(stderr).toContain('service stopped');
  });
});
