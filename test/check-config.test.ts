import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { billionLaughs } from './helpers/config.js';
import { tempDir } from './helpers/media.js';

const run = promisify(execFile);
const CLI = path.resolve('src/cli.ts');
const TSX = path.resolve('node_modules/.bin/tsx');

describe('roomcount check-config', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const write = (name: string, text: string) => {
    const file = path.join(tmp.dir, name);
    writeFileSync(file, text);
    return file;
  };
  const room =
    '  - { id: r1, locationId: L1, locationType: space, camera: { url: rtsp://u:secret@192.0.2.1/s } }\n';
  /** A models folder with a stand-in rtmdet-nano that passes the cheap checks (an ONNX protobuf's first byte). */
  const modelsDir = path.join(tmp.dir, 'models');
  mkdirSync(modelsDir);
  writeFileSync(
    path.join(modelsDir, 'rtmdet_nano_person.onnx'),
    Buffer.concat([Buffer.of(8), Buffer.alloc(4096)]),
  );
  const env = { ...process.env, ROOMCOUNT_MODELS_DIR: modelsDir };
  /** check-config's exit code and stderr when it refuses the file. */
  const refused = async (file: string, extraEnv: NodeJS.ProcessEnv = env) => {
    const err = (await run(TSX, [CLI, 'check-config', '--config', file], { env: extraEnv }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    )) as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  };

  it('prints the model (auto says what it means), the threshold, rooms; the camera password masked', async () => {
    const file = write('ok.yaml', `sink: stdout\nrooms:\n${room}`);
    const { stdout } = await run(TSX, [CLI, 'check-config', '--config', file]);
    expect(stdout).toContain(`${file}: OK`);
    expect(stdout).toContain(
      "detector: auto (the most accurate installed model; `roomcount models list`) (minScore the model's own)",
    );
    expect(stdout).toMatch(/r1 {2}space L1 {2}rtsp:\/\/\*\*\*:\*\*\*@192\.0\.2\.1\/s/);
    expect(stdout).not.toContain('secret');
    const named = write(
      'named.yaml',
      `sink: stdout\ndetector: { model: rtmdet-nano, minScore: 0.4 }\nrooms:\n${room}`,
    );
    expect((await run(TSX, [CLI, 'check-config', '--config', named], { env })).stdout).toContain(
      'detector: rtmdet-nano (minScore 0.4)',
    );
  });

  it('exits 2 with file:line:col for a bad model or tiles', async () => {
    const file = write(
      'bad.yaml',
      `sink: stdout\ndetector: { model: yolo9, tiles: { columns: 9 } }\nrooms:\n${room}`,
    );
    const err = await run(TSX, [CLI, 'check-config', '--config', file]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((err as { code: number }).code).toBe(2);
    const stderr = (err as { stderr: string }).stderr;
    expect(stderr).toMatch(/bad\.yaml:2:\d+: detector\.model: expected one of auto, rtmdet-nano, yolox-nano/);
    expect(stderr).toMatch(/bad\.yaml:2:\d+: detector\.tiles/);
  });

  it('refuses what run refuses at start: an ONNX model that is not installed, with file:line:col', async () => {
    const file = write('yolox.yaml', `sink: stdout\ndetector:\n  model: yolox-nano\nrooms:\n${room}`);
    const { code, stderr } = await refused(file);
    expect(code).toBe(2);
    expect(stderr).toContain(
      `yolox.yaml:3:10: detector.model: yolox_nano.onnx is not installed in ${modelsDir}. Run \`roomcount models fetch yolox-nano\``,
    );
  });

  it('refuses a modelPath that is missing, a folder, or not an ONNX file', async () => {
    writeFileSync(path.join(tmp.dir, 'notes.onnx'), 'this is a text file, not a model\n'.repeat(100));
    mkdirSync(path.join(tmp.dir, 'folder.onnx'));
    for (const [name, why] of [
      ['missing.onnx', 'file not found'],
      ['folder.onnx', 'is a folder'],
      ['notes.onnx', 'is not an ONNX model'],
    ] as const) {
      const file = write(
        'path.yaml',
        `sink: stdout\ndetector: { model: yolox-nano, modelPath: ${name} }\nrooms:\n${room}`,
      );
      const { code, stderr } = await refused(file);
      expect(code, name).toBe(2);
      expect(stderr).toMatch(new RegExp(`path\\.yaml:2:\\d+: detector\\.modelPath: .*${name}.*${why}`));
    }
  });

  it('refuses camera URLs ffmpeg must not get (http, udp, pipe, a bad file: URL); credentials not shown', async () => {
    const urls = ['http://u:secret@192.0.2.1/cam', 'udp://192.0.2.1:1234', 'pipe:0', 'file://host/x.mp4'];
    const rooms = urls.map(
      (url, i) => `  - { id: r${i}, locationId: L${i}, locationType: space, camera: { url: "${url}" } }\n`,
    );
    const file = write('cams.yaml', `sink: stdout\nrooms:\n${rooms.join('')}`);
    const { code, stderr } = await refused(file);
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /cams\.yaml:3:\d+: rooms\[0\]\.camera\.url: "http:" camera URLs are not supported/,
    );
    expect(stderr).toMatch(/cams\.yaml:4:\d+: rooms\[1\]\.camera\.url: "udp:" camera URLs/);
    expect(stderr).toMatch(/cams\.yaml:5:\d+: rooms\[2\]\.camera\.url: "pipe:" camera URLs/);
    expect(stderr).toMatch(
      /cams\.yaml:6:\d+: rooms\[3\]\.camera\.url: file:\/\/host\/… names another machine/,
    );
    expect(stderr).not.toContain('secret');
  });

  it('a "billion laughs" file is a config error (exit 2) naming the file and line', async () => {
    const file = write('laughs.yaml', `sink: stdout\n${billionLaughs()}\nrooms:\n${room}`);
    const { code, stderr } = await refused(file);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:8:10: aliases here expand the document to more than 1000000 values`);
  });

  it('a file over 1 MiB is refused (exit 2) before it is parsed', async () => {
    const file = write('huge.yaml', `sink: stdout\nrooms:\n${room}${'# padding\n'.repeat(120_000)}`);
    const { code, stderr } = await refused(file);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:1:1: the file is 1200`);
    expect(stderr).toContain('a configuration may be at most 1048576 (1 MiB)');
  });
});
