import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
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
    expect((await run(TSX, [CLI, 'check-config', '--config', named])).stdout).toContain(
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
});
